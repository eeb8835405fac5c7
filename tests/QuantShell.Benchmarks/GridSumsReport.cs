using System.Diagnostics;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Benchmarks;

/// <summary>
/// MCT's error sums (GridErrorSums.SumDouble, float64 grids; SumSingle, float32 grids on float32 values) alone: the plain
/// division kernel (terms written out, then summed) against the default one (quotients from the step's reciprocal where
/// safe, terms summed as computed), on one channel of n float32 or float64 values under 30 symmetric grids (a search
/// iteration), one thread.
/// Prints ns per value and grid (median of 7, the two kernels alternated) and checks that both give the same bits.
/// </summary>
public static class GridSumsReport
{
    public static void Run()
    {
        Console.WriteLine($"{"values",-8} {"n",8} {"divide ns",10} {"default ns",11} {"ratio",6}");
        foreach (int n in new[] { 27, 576, 3000, 8192, 1 << 20 })
        {
            var random = new Random(n);
            var floats = new float[n];
            for (int i = 0; i < n; i++) floats[i] = (float)((random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * 0.1);
            var doubles = floats.Select(f => (double)f).ToArray();
            double max = floats.Max(f => Math.Abs(f)) * 256.0 / 255;
            var grids = new MctGrid[30];
            var thresholds = NumpyLinspace.Create(0.7 * max, 1.2 * max, grids.Length);
            for (int i = 0; i < grids.Length; i++) grids[i] = MctGrid.FromThreshold(thresholds[i], 8, true, ParameterPrecision.Double, single: false);
            Report("float32", n, grids, sums => GridErrorSums.SumDouble<float>(floats, grids, false, false, false, sums));
            Report("float64", n, grids, sums => GridErrorSums.SumDouble<double>(doubles, grids, false, false, false, sums));
            var singleGrids = new MctGrid[grids.Length];
            for (int i = 0; i < grids.Length; i++) singleGrids[i] = MctGrid.FromThreshold(thresholds[i], 8, true, ParameterPrecision.Double, single: true);
            var singleSums = new float[grids.Length];
            Report("f32 grid", n, grids, sums =>
            {
                GridErrorSums.SumSingle(floats, singleGrids, false, false, false, singleSums);
                for (int i = 0; i < sums.Length; i++) sums[i] = singleSums[i];
            });
        }
    }

    private static void Report(string name, int n, MctGrid[] grids, Action<double[]> sum)
    {
        int repeat = Math.Max(1, (1 << 22) / n);
        var divided = new double[grids.Length];
        var fast = new double[grids.Length];
        double Time(bool divide, double[] sums)
        {
            GridErrorSums.DivideOnly = divide;
            try
            {
                var clock = Stopwatch.StartNew();
                for (int r = 0; r < repeat; r++) sum(sums);
                return clock.Elapsed.TotalSeconds * 1e9 / ((double)repeat * n * grids.Length);
            }
            finally
            {
                GridErrorSums.DivideOnly = false;
            }
        }
        Time(true, divided);
        Time(false, fast);
        var a = new List<double>();
        var b = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            a.Add(Time(true, divided));
            b.Add(Time(false, fast));
        }
        double ma = a.Order().ElementAt(3), mb = b.Order().ElementAt(3);
        bool same = divided.Zip(fast).All(p => BitConverter.DoubleToInt64Bits(p.First) == BitConverter.DoubleToInt64Bits(p.Second));
        Console.WriteLine($"{name,-8} {n,8} {ma,10:F3} {mb,11:F3} {ma / mb,6:F2}{(same ? "" : "  SUMS DIFFER")}");
    }
}
