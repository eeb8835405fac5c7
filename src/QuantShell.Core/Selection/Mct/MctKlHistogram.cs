namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// A histogram of whole counts (a tensor's <see cref="NumpyHistogram{T}"/>) made ready for many candidates' KL errors:
/// <see cref="Error"/> is <see cref="KlDivergence.Error"/> with <c>wholeCounts</c>, value for value, at a cost of the
/// non-empty bins rather than of all of them. What does not depend on the candidate is computed once (the edges in
/// float64, the non-empty bins, the counts' prefix sums, whether the edges ascend). Per candidate:
/// <list type="bullet">
/// <item>Only the non-empty kept bins' edges are quantized: an empty bin adds nothing to its group's sum nor to its
/// non-empty count, and its quantized share is 0 whatever its group (whole counts: a group's sum is exact in any order).</item>
/// <item>Quantized edges ascend with the edges, so a group is a run of equal values; a value below its predecessor (or a
/// case this path does not cover: a quantized total not above 0 or not finite) goes to <see cref="KlDivergence.Error"/>.</item>
/// <item>A bin empty in both distributions (all but the non-empty bins and the two ends) has the same smoothed p and q,
/// so the same term: its logarithm is taken once. The terms and the quantized total are still summed over every kept
/// bin, in NumPy's pairwise order.</item>
/// </list>
/// </summary>
internal sealed class MctKlHistogram
{
    private readonly double[] _edges;
    private readonly double[] _counts;
    private readonly int[] _nonEmpty;
    private readonly long[] _prefix; // _prefix[i]: the counts of bins 0..i-1
    private readonly long _total;
    private readonly bool _ascending;

    // Scratch, per thread (channels are scored in parallel).
    [ThreadStatic] private static double[]? _quantizedDense;
    [ThreadStatic] private static float[]? _termsDense;
    [ThreadStatic] private static int[]? _positions;
    [ThreadStatic] private static double[]? _data;
    [ThreadStatic] private static double[]? _quantized;
    [ThreadStatic] private static float[]? _p;
    [ThreadStatic] private static float[]? _q;

    /// <param name="edges">The edges (one more than the counts), as float64.</param>
    /// <param name="counts">The counts, whole and not negative.</param>
    public MctKlHistogram(double[] edges, long[] counts)
    {
        if (edges.Length != counts.Length + 1) throw new ArgumentException("One more edge than counts.", nameof(edges));
        _edges = edges;
        _counts = new double[counts.Length];
        _prefix = new long[counts.Length + 1];
        var nonEmpty = new List<int>();
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] < 0) throw new ArgumentException("Counts are not negative.", nameof(counts));
            _counts[i] = counts[i];
            _prefix[i + 1] = _prefix[i] + counts[i];
            if (counts[i] != 0) nonEmpty.Add(i);
        }
        _nonEmpty = nonEmpty.ToArray();
        _total = _prefix[^1];
        _ascending = true;
        for (int i = 0; i < edges.Length; i++)
        {
            if (double.IsNaN(edges[i]) || i > 0 && edges[i] < edges[i - 1]) _ascending = false;
        }
    }

    public static MctKlHistogram Of<T>(NumpyHistogram<T> histogram) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var edges = new double[histogram.Edges.Length];
        for (int i = 0; i < edges.Length; i++) edges[i] = double.CreateTruncating(histogram.Edges[i]);
        return new MctKlHistogram(edges, histogram.Counts);
    }

    /// <summary>The KL error of the edges quantized on <paramref name="grid"/> over [rangeMin, rangeMax] (as <see cref="KlDivergence.Error"/> compares them).</summary>
    public MctLoss Error(MctGrid grid, double rangeMin, double rangeMax)
    {
        int firstAtLeast, lastBelow;
        if (_ascending)
        {
            firstAtLeast = FirstAtLeast(rangeMin);
            lastBelow = SortedSearch.CountBelow<double>(_edges, rangeMax) - 1;
        }
        else
        {
            firstAtLeast = -1;
            for (int i = 0; i < _edges.Length; i++)
            {
                if (_edges[i] >= rangeMin) { firstAtLeast = i; break; }
            }
            lastBelow = -1;
            for (int i = _edges.Length - 1; i >= 0; i--)
            {
                if (_edges[i] < rangeMax) { lastBelow = i; break; }
            }
        }
        if (firstAtLeast < 0 || lastBelow < 0) return MctLoss.Infinity;
        int first = Math.Max(firstAtLeast - 1, 0), last = lastBelow;
        if (first == last) return new MctLoss(0.0, false);
        if (first > last) return MctLoss.Infinity;
        int length = last - first;
        int lo = SortedSearch.CountBelow<int>(_nonEmpty, first), hi = SortedSearch.CountBelow<int>(_nonEmpty, last);
        if (lo == hi) return MctLoss.Infinity; // the kept bins are all empty

        // The positions (within the kept bins) that are not empty in both distributions: the non-empty bins and the two ends.
        int count = hi - lo;
        bool headExtra = _nonEmpty[lo] != first, tailExtra = _nonEmpty[hi - 1] != last - 1 && length > 1;
        int total = count + (headExtra ? 1 : 0) + (tailExtra ? 1 : 0);
        Ensure(ref _positions, total);
        Ensure(ref _data, total);
        Ensure(ref _quantized, total);
        Ensure(ref _p, total);
        Ensure(ref _q, total);
        var positions = _positions!.AsSpan(0, total);
        var data = _data!.AsSpan(0, total);
        var quantized = _quantized!.AsSpan(0, total);
        int k = 0;
        if (headExtra) positions[k++] = 0;
        for (int j = lo; j < hi; j++) positions[k++] = _nonEmpty[j] - first;
        if (tailExtra) positions[k++] = length - 1;

        // The data's distribution: the kept counts with the mass outside piled onto the ends (whole: exact sums).
        double below = _prefix[first], above = _total - _prefix[last];
        for (int s = 0; s < total; s++)
        {
            int i = positions[s];
            double value = _counts[first + i];
            if (i == 0) value += below;
            if (i == length - 1) value += above;
            data[s] = value;
        }

        // The quantized distribution: runs of equal quantized edges among the non-empty bins share their sum.
        int groupStart = -1;
        double groupValue = double.NaN;
        long groupSum = 0;
        int groupMembers = 0;
        for (int s = 0; s < total; s++)
        {
            quantized[s] = 0;
            int bin = first + positions[s];
            double c = _counts[bin];
            if (c == 0) continue; // an end with no count of its own
            double value = grid.Quantize(_edges[bin]);
            if (double.IsNaN(value))
            {
                quantized[s] = double.NaN; // no group: 0 once the groups are shared out
                continue;
            }
            if (groupStart >= 0 && value == groupValue)
            {
                groupSum += (long)c;
                groupMembers++;
                continue;
            }
            if (groupStart >= 0 && !(value > groupValue)) return General(grid, first, last, rangeMin, rangeMax);
            if (groupStart >= 0) Share(positions, quantized, groupStart, s, groupSum, groupMembers, first);
            groupStart = s;
            groupValue = value;
            groupSum = (long)c;
            groupMembers = 1;
        }
        if (groupStart >= 0) Share(positions, quantized, groupStart, total, groupSum, groupMembers, first);
        for (int s = 0; s < total; s++)
        {
            if (double.IsNaN(quantized[s])) quantized[s] = 0;
        }

        Ensure(ref _quantizedDense, length);
        var dense = _quantizedDense!.AsSpan(0, length);
        dense.Clear();
        for (int s = 0; s < total; s++) dense[positions[s]] = quantized[s];
        double quantizedTotal = NumpySum.Sum(dense);
        if (!(quantizedTotal > 0) || !double.IsFinite(quantizedTotal)) return General(grid, first, last, rangeMin, rangeMax);
        double dataTotal = _total;
        for (int s = 0; s < total; s++)
        {
            quantized[s] /= quantizedTotal;
            data[s] /= dataTotal;
        }
        var q = _q!.AsSpan(0, total);
        var p = _p!.AsSpan(0, total);
        if (!Smooth(quantized, length, q, out float qEmpty) || !Smooth(data, length, p, out float pEmpty)) return MctLoss.Infinity;

        Ensure(ref _termsDense, length);
        var terms = _termsDense!.AsSpan(0, length);
        if (total < length) terms.Fill(pEmpty * NumpyLogF.Log(pEmpty / qEmpty));
        for (int s = 0; s < total; s++) terms[positions[s]] = p[s] * NumpyLogF.Log(p[s] / q[s]);
        return new MctLoss(NumpySum.Sum(terms), true);
    }

    private void Share(Span<int> positions, Span<double> quantized, int from, int to, long sum, int members, int first)
    {
        double share = sum / ((double)members + 1e-6);
        float shareSingle = (float)share;
        for (int s = from; s < to; s++)
        {
            if (_counts[first + positions[s]] > 0 && !double.IsNaN(quantized[s])) quantized[s] = shareSingle;
        }
    }

    /// <summary>
    /// <see cref="KlDivergence"/>'s smoothing of n values that are 0 but at the given ones: the smoothed given values, and
    /// the smoothed value of a 0 (<paramref name="empty"/>). False where the smoothing rejects the distribution.
    /// </summary>
    private static bool Smooth(ReadOnlySpan<double> values, int n, Span<float> smoothed, out float empty)
    {
        empty = 0;
        double smallest = double.PositiveInfinity;
        int nonZeroCount = 0;
        foreach (double v in values)
        {
            if (v == 0) continue;
            if (double.IsNaN(v) || double.IsNaN(smallest)) smallest = double.NaN;
            else if (v < smallest) smallest = v;
            nonZeroCount++;
        }
        if (nonZeroCount == 0) return false;
        double term = smallest / (2.0 * n);
        if (!(term > 0)) return false;
        float nonZero = nonZeroCount; // NumPy's float32 sum of the flags: whole and exact
        double zeros = n - (double)nonZero;
        double reduce = term * zeros / nonZero;
        float termSingle = (float)term, reduceSingle = (float)-reduce;
        float zeroCorrection = termSingle * (1f - 0f) + reduceSingle * 0f;
        float nonZeroCorrection = termSingle * (1f - 1f) + reduceSingle * 1f;
        empty = (float)0.0 + zeroCorrection;
        if (nonZeroCount < n && empty <= 0) return false;
        for (int s = 0; s < values.Length; s++)
        {
            smoothed[s] = values[s] == 0 ? empty : (float)values[s] + nonZeroCorrection;
            if (smoothed[s] <= 0) return false;
        }
        return true;
    }

    /// <summary>The general path over the kept bins, for what this one does not cover.</summary>
    private MctLoss General(MctGrid grid, int first, int last, double rangeMin, double rangeMax)
    {
        var quantized = new double[_edges.Length];
        grid.Quantize<double>(_edges, quantized);
        return KlDivergence.Error(quantized, _edges, _counts, rangeMin, rangeMax, wholeCounts: true);
    }

    private int FirstAtLeast(double x)
    {
        int lo = 0, hi = _edges.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_edges[mid] >= x) hi = mid;
            else lo = mid + 1;
        }
        return lo == _edges.Length ? -1 : lo;
    }

    private static void Ensure<TValue>(ref TValue[]? buffer, int length)
    {
        if (buffer is null || buffer.Length < length) buffer = new TValue[Math.Max(length, 2 * (buffer?.Length ?? 0))];
    }
}
