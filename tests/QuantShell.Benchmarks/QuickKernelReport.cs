using System.Diagnostics;
using QuantShell.Core.Kernels;

namespace QuantShell.Benchmarks;

/// <summary>A quick table of kernel bandwidth vs memcpy for every quantizer, dtype and layout (best of 5 runs).</summary>
public static class QuickKernelReport
{
    public static void Run(string? layoutFilter = null)
    {
        const int bytes = 256 << 20;
        var f32 = Data.Floats(bytes / 4);
        var d32 = new float[f32.Length];
        var f64 = f32.Take(bytes / 8).Select(f => (double)f).ToArray();
        var d64 = new double[f64.Length];
        double memcpy = Best(() => f32.AsSpan().CopyTo(d32));
        Console.WriteLine($"memcpy: {Gbps(bytes, memcpy):F2} GB/s (read+write of {bytes >> 20} MiB counted once)");
        Console.WriteLine("(% = memcpy time / kernel time, each timed alternately with memcpy, best of 7)");
        Console.WriteLine($"{"quantizer",-20} {"layout",-9} {"f32 GB/s",9} {"f32 %",6} {"f64 GB/s",9} {"f64 %",6}");
        foreach (var kind in new[] { "WeightsPot", "WeightsSymmetric", "WeightsUniform", "ActivationPot", "ActivationSymmetric", "ActivationUniform" })
        foreach (var layout in kind.StartsWith("Weights") ? new[] { "tensor", "axis0", "axisLast" } : new[] { "tensor" })
        {
            if (layoutFilter is not null && layout != layoutFilter) continue;
            var plan32 = Data.Plan(kind, layout, new long[] { 64, f32.Length / 64 / 16, 16 }, out _);
            var plan64 = Data.Plan(kind, layout, new long[] { 64, f64.Length / 64 / 16, 16 }, out _);
            // memcpy is timed alternately with each kernel so that both see the same machine state.
            var (c32, t32) = Alternate(() => f32.AsSpan().CopyTo(d32), () => { var s = new KernelStats(); plan32.Apply<float>(f32, d32, 0, ref s); });
            var (c64, t64) = Alternate(() => f32.AsSpan().CopyTo(d32), () => { var s = new KernelStats(); plan64.Apply<double>(f64, d64, 0, ref s); });
            Console.WriteLine($"{kind,-20} {layout,-9} {Gbps(bytes, t32),9:F2} {100 * c32 / t32,5:F0}% {Gbps(bytes, t64),9:F2} {100 * c64 / t64,5:F0}%");
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

    private static double Best(Action action)
    {
        action();
        double best = double.MaxValue;
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }

    private static double Gbps(long bytes, double seconds) => bytes / seconds / 1e9;
}
