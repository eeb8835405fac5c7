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
    /// It runs for every candidate of a search, so it costs the non-empty bins: where the quantized edges ascend over the
    /// kept bins, a run of equal quantized edges holds the non-empty bins between its first and last, empty bins add 0
    /// to every sum (in the same order), and the bins empty in both distributions share one term. Where they do not
    /// ascend, every kept bin is visited (runs of equal quantized edges are then runs of bins): the same steps.
    /// </summary>
    public double Divergence(ReadOnlySpan<double> quantizedEdges, double rangeMin, double rangeMax)
    {
        int bins = Counts.Length;
        if (!(rangeMin < rangeMax)) return double.PositiveInfinity;
        int firstInside = FirstEdgeAtLeast(rangeMin);
        int last = SortedSearch.CountBelow<double>(Edges, rangeMax) - 1;
        if (firstInside > bins || last < 0) return double.PositiveInfinity;
        int first = Math.Max(firstInside - 1, 0);
        if (first == last) return 0;
        if (first > last) return double.PositiveInfinity;
        int length = last - first;
        if (Prefix[last] - Prefix[first] == 0) return double.PositiveInfinity;
        var kept = quantizedEdges.Slice(first, length);
        bool ascending = true;
        for (int i = 1; i < kept.Length && ascending; i++) ascending = kept[i - 1] <= kept[i];
        var counts = Counts.AsSpan(first, length);
        double below = Prefix[first], above = Prefix[bins] - Prefix[last];
        double total = Prefix[bins];

        // The positions that may be non-empty in either distribution, in order: where the quantized edges ascend, the
        // non-empty bins and the two ends; else every kept bin.
        Span<int> positions;
        int count = 0;
        if (ascending)
        {
            int lo = SortedSearch.CountBelow<int>(NonEmpty, first), hi = SortedSearch.CountBelow<int>(NonEmpty, last);
            positions = Positions(hi - lo + 2);
            if (lo == hi || NonEmpty[lo] != first) positions[count++] = 0;
            for (int j = lo; j < hi; j++) positions[count++] = NonEmpty[j] - first;
            if (length > 1 && (lo == hi || NonEmpty[hi - 1] != last - 1)) positions[count++] = length - 1;
        }
        else
        {
            positions = Positions(length);
            for (; count < length; count++) positions[count] = count;
        }
        positions = positions[..count];

        // q: each run of equal quantized edges shares its count among its non-empty bins (the runs' sums in bin order).
        var quantized = Buffer(count);
        double quantizedTotal = 0;
        for (int start = 0; start < count;)
        {
            int end = start;
            double value = kept[positions[start]];
            double sum = 0, nonEmpty = 0;
            while (end < count && kept[positions[end]] == value)
            {
                sum += counts[positions[end]];
                if (counts[positions[end]] > 0) nonEmpty++;
                end++;
            }
            double share = sum / (nonEmpty + 1e-6);
            for (int s = start; s < end; s++)
            {
                quantized[s] = counts[positions[s]] > 0 ? share : 0;
                quantizedTotal += quantized[s];
            }
            start = end;
        }

        var p = new Smoothing(length);
        var q = new Smoothing(length);
        for (int s = 0; s < count; s++)
        {
            p.See(Data(counts, positions[s], below, above));
            q.See(quantized[s]);
        }
        // The other bins are empty in both.
        p.SeeZeros(length - count);
        q.SeeZeros(length - count);
        p.Finish(total);
        q.Finish(quantizedTotal);
        // Σ p·log(p / q) over the listed bins in order; the bins empty in both distributions (those not listed, and those
        // listed that are) all contribute the same term: one logarithm for all of them.
        double divergence = 0;
        int emptyInBoth = length - count;
        for (int s = 0; s < count; s++)
        {
            double data = Data(counts, positions[s], below, above);
            if (data == 0 && quantized[s] == 0) { emptyInBoth++; continue; }
            double pi = p.Apply(data), qi = q.Apply(quantized[s]);
            divergence += pi * Math.Log(pi / qi);
        }
        if (emptyInBoth > 0)
        {
            double pi = p.Apply(0), qi = q.Apply(0);
            divergence += emptyInBoth * pi * Math.Log(pi / qi);
        }
        return divergence;
    }

    private static double Data(Span<double> counts, int i, double below, double above) =>
        counts[i] + (i == 0 ? below : 0) + (i == counts.Length - 1 ? above : 0);

    /// <summary>
    /// MCT's smoothing of a normalized histogram: every zero probability becomes min/(2n) (min over the non-zero ones),
    /// the non-zero ones give up that mass evenly, so every logarithm is finite.
    /// </summary>
    private struct Smoothing(int length)
    {
        private double _smallest = double.PositiveInfinity, _total = 1, _term, _reduce;
        private int _zeros;

        public void SeeZeros(int zeros) => _zeros += zeros;

        public void See(double count)
        {
            if (count == 0) _zeros++;
            else if (count < _smallest) _smallest = count;
        }

        public void Finish(double total)
        {
            _total = total;
            int nonZeros = length - _zeros;
            if (nonZeros == 0 || _zeros == 0) return;
            _term = _smallest / total / (2.0 * length);
            _reduce = _term * _zeros / nonZeros;
        }

        public readonly double Apply(double count) => count == 0 ? _term : count / _total - _reduce;
    }

    private double[] Prefix => _prefix ??= BuildPrefix();

    /// <summary>The non-empty bins, ascending.</summary>
    private int[] NonEmpty => _nonEmpty ??= Enumerable.Range(0, Counts.Length).Where(i => Counts[i] != 0).ToArray();

    private int[]? _nonEmpty;

    [ThreadStatic] private static int[]? t_positions;

    private static Span<int> Positions(int length)
    {
        if (t_positions is null || t_positions.Length < length) t_positions = new int[Math.Max(length, DefaultBins + 2)];
        return t_positions.AsSpan(0, length);
    }

    private double[]? _prefix;

    private double[] BuildPrefix()
    {
        var prefix = new double[Counts.Length + 1];
        for (int i = 0; i < Counts.Length; i++) prefix[i + 1] = prefix[i] + Counts[i];
        return prefix;
    }

    [ThreadStatic] private static double[]? t_buffer;

    private static Span<double> Buffer(int length)
    {
        if (t_buffer is null || t_buffer.Length < length) t_buffer = new double[Math.Max(length, DefaultBins)];
        return t_buffer.AsSpan(0, length);
    }

    /// <summary>The index of the first edge ≥ <paramref name="value"/> (edges are ascending); Edges.Length when none.</summary>
    private int FirstEdgeAtLeast(double value)
    {
        int low = 0, high = Edges.Length;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (Edges[mid] >= value) high = mid;
            else low = mid + 1;
        }
        return low;
    }
}
