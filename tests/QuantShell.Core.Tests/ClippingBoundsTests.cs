using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// <see cref="ClippingBounds"/> from pooled arrays: bounds built and released one after another (so later ones reuse
/// earlier ones' arrays, longer than their values and holding old sums) bound each grid's clipping exactly as a direct
/// sum over the values does: Σ (x - b)² over the values beyond the quarter-step boundaries b, never above it and within
/// the rounding slack below it.
/// </summary>
public sealed class ClippingBoundsTests
{
    [Fact]
    public void PooledBounds_AreTheDirectClippingSums()
    {
        var random = new Random(4242);
        int checks = 0, clipped = 0;
        for (int round = 0; round < 40; round++)
        {
            int n = random.Next(1, 3000);
            double spread = Math.Pow(10, random.Next(-3, 3));
            var values = new float[n];
            for (int i = 0; i < n; i++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                values[i] = random.Next(40) == 0 ? float.NaN : (float)(spread * g);
            }
            var bounds = ClippingBounds.Build(values);
            var finite = values.Where(float.IsFinite).Select(v => (double)v).ToArray();
            double maxAbs = finite.Length == 0 ? 1 : finite.Max(Math.Abs);
            foreach (int bits in new[] { 2, 4, 8 })
            {
                var (qmin, qmax) = RangeMath.SymmetricRange(bits, true);
                foreach (double fraction in new[] { 0.05, 0.3, 0.7, 1.5 })
                {
                    double t = (float)(maxAbs * fraction);
                    var grid = new Grid<float>(RangeMath.SymmetricScale(t, bits, true), 0, qmin, qmax);
                    double scale = grid.Scale, below = (qmin - 0.25) * scale, above = (qmax + 0.25) * scale;
                    double direct = 0, magnitude = 0;
                    foreach (double x in finite)
                    {
                        if (x < below) direct += (x - below) * (x - below);
                        else if (x > above) direct += (x - above) * (x - above);
                        magnitude += x * x + 2 * Math.Abs(x) * Math.Max(-below, above);
                    }
                    double low = bounds.LowSum(grid);
                    Assert.True(low <= direct * (1 + 1e-12), $"round {round}, {n} values, {bits} bits, t {t}: {low} above {direct}");
                    Assert.True(low >= direct - 1e-9 * (magnitude + 1e-300), $"round {round}, {n} values, {bits} bits, t {t}: {low} far below {direct}");
                    if (direct > 0) clipped++;
                    checks++;
                }
            }
            bounds.Release();
        }
        Assert.Equal(40 * 3 * 4, checks);
        Assert.True(clipped > 100, $"grids that clip: {clipped}");
    }
}
