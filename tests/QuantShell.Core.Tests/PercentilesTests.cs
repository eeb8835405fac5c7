using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// <see cref="Percentiles"/> sorts with <see cref="FiniteSort"/>, which may order zeros of both signs otherwise than
/// <c>Array.Sort</c>: the percentiles are the same bit for bit as from <c>Array.Sort</c>'s order (the arithmetic written
/// out here), on seeded data full of ±0 in random order, with NaN and infinities left out, at percents landing on and
/// between the zeros.
/// </summary>
public sealed class PercentilesTests
{
    private static double Reference(double[] values, double fraction)
    {
        if (values.Length == 0) return 0;
        double position = Math.Clamp(fraction, 0, 1) * (values.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, values.Length - 1);
        return values[below] + (values[above] - values[below]) * (position - below);
    }

    private static double[] Sorted(float[] values, bool magnitude)
    {
        var finite = values.Where(float.IsFinite).Select(v => magnitude ? Math.Abs((double)v) : v).ToArray();
        Array.Sort(finite);
        return finite;
    }

    [Fact]
    public void ZerosOfBothSigns_GiveArraySortsPercentiles()
    {
        var random = new Random(20261206);
        int cases = 0;
        foreach (int n in new[] { 1, 2, 3, 17, 100, 1000, 4099 })
            for (int trial = 0; trial < 6; trial++)
            {
                var values = new float[n];
                for (int i = 0; i < n; i++)
                    values[i] = random.Next(10) switch
                    {
                        < 4 => random.Next(2) == 0 ? -0f : 0f,
                        4 => float.NaN,
                        5 => random.Next(2) == 0 ? float.PositiveInfinity : float.NegativeInfinity,
                        _ => (float)(random.NextDouble() * 2 - 1) * (trial % 2 == 0 ? 1e-30f : 3f),
                    };
                var signed = Sorted(values, magnitude: false);
                var magnitudes = Sorted(values, magnitude: true);
                foreach (double percent in new[] { 0.5, 10, 33.3, 50, 62.5, 90, 99.99, 100 })
                {
                    double cut = (100 - percent) / 200;
                    var (min, max) = Percentiles.Central<float>(values, percent);
                    Assert.Equal(BitConverter.DoubleToInt64Bits(Reference(signed, cut)), BitConverter.DoubleToInt64Bits(min));
                    Assert.Equal(BitConverter.DoubleToInt64Bits(Reference(signed, 1 - cut)), BitConverter.DoubleToInt64Bits(max));
                    double cover = Percentiles.OfMagnitude<float>(values, percent);
                    Assert.Equal(BitConverter.DoubleToInt64Bits(Reference(magnitudes, percent / 100)), BitConverter.DoubleToInt64Bits(cover));
                    cases++;
                }
            }
        Assert.Equal(7 * 6 * 8, cases);
    }
}
