using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>
/// MCT's KL-divergence error (<c>_kl_error_histogram</c>, written anew here): the data's histogram (2048 equal bins over
/// [min, max], as <c>np.histogram</c> makes it) against the histogram a quantizer makes of it. Bins outside the
/// quantizer's range are piled onto the first and last bins inside; each run of bins whose left edges quantize to one
/// level shares that run's count evenly among its non-empty bins; both distributions are smoothed so that no
/// probability is zero; the divergence is the sum of p·log(p/q).
/// </summary>
internal sealed class KlHistogram
{
    public const int DefaultBins = 2048;

    private KlHistogram(double[] edges, double[] counts)
    {
        Edges = edges;
        Counts = counts;
    }

    /// <summary>The bins' edges (one more than the bins), ascending.</summary>
    public double[] Edges { get; }

    public double[] Counts { get; }

    /// <summary>The histogram of the finite values; a constant input gets the range [v - 0.5, v + 0.5], as NumPy gives it.</summary>
    public static KlHistogram Build<T>(ReadOnlySpan<T> values, int bins = DefaultBins) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double v = double.CreateTruncating(x);
            if (v < min) min = v;
            if (v > max) max = v;
        }
        if (double.IsInfinity(min)) (min, max) = (-0.5, 0.5);
        else if (min == max) (min, max) = (min - 0.5, max + 0.5);
        var edges = new double[bins + 1];
        for (int i = 0; i <= bins; i++) edges[i] = min + (max - min) * i / bins;
        edges[bins] = max;
        var counts = new double[bins];
        double width = (max - min) / bins;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double v = double.CreateTruncating(x);
            int bin = (int)((v - min) / width);
            bin = Math.Clamp(bin, 0, bins - 1);
            // Edges are rounded: move to the bin whose half-open interval holds v (the last bin is closed).
            while (bin > 0 && v < edges[bin]) bin--;
            while (bin < bins - 1 && v >= edges[bin + 1]) bin++;
            counts[bin]++;
        }
        return new KlHistogram(edges, counts);
    }

    /// <summary>
    /// The divergence for a quantizer that maps each edge to <paramref name="quantizedEdges"/> (a monotone map) and
    /// represents [<paramref name="rangeMin"/>, <paramref name="rangeMax"/>]; +∞ where no bin lies in the range.
    /// </summary>
    public double Divergence(ReadOnlySpan<double> quantizedEdges, double rangeMin, double rangeMax)
    {
        int bins = Counts.Length;
        if (!(rangeMin < rangeMax)) return double.PositiveInfinity;
        int firstInside = Array.FindIndex(Edges, e => e >= rangeMin);
        int last = Array.FindLastIndex(Edges, e => e < rangeMax);
        if (firstInside < 0 || last < 0) return double.PositiveInfinity;
        int first = Math.Max(firstInside - 1, 0);
        if (first == last) return 0;
        if (first > last) return double.PositiveInfinity;
        int length = last - first;
        var counts = Counts.AsSpan(first, length);
        bool any = false;
        foreach (double c in counts) any |= c > 0;
        if (!any) return double.PositiveInfinity;

        var data = counts.ToArray();
        for (int i = 0; i < first; i++) data[0] += Counts[i];
        for (int i = last; i < bins; i++) data[length - 1] += Counts[i];

        // Equal quantized edges form runs (the map is monotone): a run's count spread over its non-empty bins.
        var quantized = new double[length];
        for (int start = 0; start < length;)
        {
            int end = start;
            double value = quantizedEdges[first + start];
            double sum = 0, nonEmpty = 0;
            while (end < length && quantizedEdges[first + end] == value)
            {
                sum += counts[end];
                if (counts[end] > 0) nonEmpty++;
                end++;
            }
            double share = sum / (nonEmpty + 1e-6);
            for (int i = start; i < end; i++) quantized[i] = counts[i] > 0 ? share : 0;
            start = end;
        }
        var p = Smoothed(Normalized(data));
        var q = Smoothed(Normalized(quantized));
        double divergence = 0;
        for (int i = 0; i < length; i++) divergence += p[i] * Math.Log(p[i] / q[i]);
        return divergence;
    }

    private static double[] Normalized(double[] values)
    {
        double total = values.Sum();
        return values.Select(v => v / total).ToArray();
    }

    // Takes a little from every non-zero probability to give every zero one min/(2n), so the logarithms are finite.
    private static double[] Smoothed(double[] probability)
    {
        double smallest = probability.Where(p => p != 0).DefaultIfEmpty(0).Min();
        int zeros = probability.Count(p => p == 0), nonZeros = probability.Length - zeros;
        if (nonZeros == 0 || zeros == 0) return probability;
        double term = smallest / (2.0 * probability.Length);
        double reduce = term * zeros / nonZeros;
        return probability.Select(p => p == 0 ? term : p - reduce).ToArray();
    }
}
