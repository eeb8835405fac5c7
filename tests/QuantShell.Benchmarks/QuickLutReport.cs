using System.Diagnostics;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Benchmarks;

/// <summary>
/// A quick table of the LUT kernel against memcpy and the uniform (grid) kernel on the same 64 MiB, each timed
/// alternately with memcpy (best of 7), for tables of 2 to 256 entries, float32 and float64, per tensor and per channel
/// on the last axis: <c>dotnet run -c Release --project tests/QuantShell.Benchmarks -- lut</c>.
/// </summary>
public static class QuickLutReport
{
    public static void Run()
    {
        const int bytes = 64 << 20;
        var f32 = Data.Floats(bytes / 4);
        var d32 = new float[f32.Length];
        var f64 = f32.Take(bytes / 8).Select(f => (double)f).ToArray();
        var d64 = new double[f64.Length];
        var shape32 = new long[] { 64, f32.Length / 64 / 16, 16 };
        var shape64 = new long[] { 64, f64.Length / 64 / 16, 16 };
        Console.WriteLine("(% = memcpy time / kernel time on the same 64 MiB, timed alternately, best of 7; 100% = memcpy bandwidth)");
        Console.WriteLine($"{"kernel",-22} {"layout",-9} {"f32 ms",8} {"f32 %",6} {"f64 ms",8} {"f64 %",6}");
        foreach (var layout in new[] { "tensor", "axisLast" })
        {
            var grid32 = Data.Plan("WeightsSymmetric", layout, shape32, out _);
            var grid64 = Data.Plan("WeightsSymmetric", layout, shape64, out _);
            Row("uniform (grid)", layout, grid32, grid64);
            foreach (int entries in new[] { 2, 4, 8, 16, 32, 256 })
            {
                var table = Enumerable.Range(0, entries).Select(i => Math.Round(-128 + 255.0 * i / (entries - 1))).Distinct().ToArray();
                bool perChannel = layout != "tensor";
                var thresholds = Enumerable.Range(0, perChannel ? 16 : 1).Select(c => Math.ScaleB(1.0, c % 3)).ToArray();
                var quantizer = new WeightsLUTPOTInferableQuantizer(8, table, thresholds, perChannel);
                Row($"LUT {entries} entries", layout, quantizer.CreatePlan(shape32), quantizer.CreatePlan(shape64));
            }
        }

        void Row(string name, string layout, QuantizationPlan plan32, QuantizationPlan plan64)
        {
            var (c32, t32) = Alternate(() => f32.AsSpan().CopyTo(d32), () => { var s = new KernelStats(); plan32.Apply<float>(f32, d32, 0, ref s); });
            var (c64, t64) = Alternate(() => f32.AsSpan().CopyTo(d32), () => { var s = new KernelStats(); plan64.Apply<double>(f64, d64, 0, ref s); });
            Console.WriteLine($"{name,-22} {layout,-9} {1e3 * t32,8:F2} {100 * c32 / t32,5:F0}% {1e3 * t64,8:F2} {100 * c64 / t64,5:F0}%");
        }
    }

    private static (double Baseline, double Subject) Alternate(Action baseline, Action subject)
    {
        baseline();
        subject();
        double b = double.MaxValue, t = double.MaxValue;
        for (int i = 0; i < 7; i++)
        {
            var clock = Stopwatch.StartNew();
            baseline();
            b = Math.Min(b, clock.Elapsed.TotalSeconds);
            clock.Restart();
            subject();
            t = Math.Min(t, clock.Elapsed.TotalSeconds);
        }
        return (b, t);
    }
}
