using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>
/// Values scaled into a LUT's integer range, <c>clamp(x / (t + eps) * k, lo, hi)</c>, counted in half-unit bins with
/// the sum of the values in each. The nearest-integer-entry boundaries of any integer table are multiples of 1/2, so
/// no bin straddles one: k-means over integer centres is exact on these bins (up to values exactly on a boundary).
/// </summary>
internal sealed class ScaledHistogram
{
    public ScaledHistogram(double low, double high)
    {
        Low = low;
        High = high;
        int bins = checked((int)(2 * (high - low)) + 1);
        Counts = new double[bins];
        Sums = new double[bins];
    }

    public double Low { get; }
    public double High { get; }
    public double[] Counts { get; }
    public double[] Sums { get; }

    /// <summary>The value range of bin <paramref name="bin"/> starts here: [Low + bin/2, Low + (bin + 1)/2).</summary>
    public double Start(int bin) => Low + bin / 2.0;

    /// <summary>Adds the finite values of one channel, scaled by its divisor t + eps and the LUT's k.</summary>
    public void Add<T>(ReadOnlySpan<T> values, double divisor, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Multiplying by k / d instead of dividing: the table is fitted, not applied, so the last bit does not matter.
        double factor = scale / divisor, low = Low, high = High;
        int last = Counts.Length - 1;
        var counts = Counts;
        var sums = Sums;
        foreach (T x in values)
        {
            double v = double.CreateTruncating(x) * factor;
            if (!double.IsFinite(v)) continue;
            if (v < low) v = low;
            else if (v > high) v = high;
            int bin = (int)((v - low) * 2);
            if (bin > last) bin = last;
            counts[bin]++;
            sums[bin] += v;
        }
    }

    public void Add(ScaledHistogram other)
    {
        for (int i = 0; i < Counts.Length; i++)
        {
            Counts[i] += other.Counts[i];
            Sums[i] += other.Sums[i];
        }
    }
}
