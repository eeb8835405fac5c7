using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>
/// The statistics of one activation over every calibration batch, in bounded memory whatever the number of batches: the
/// exact minimum and maximum, the count of values, and a histogram of <see cref="Bins"/> equal bins over the range of all
/// batches (MCT's <c>HistogramCollector</c>, 2048 bins by default).
/// </summary>
/// <remarks>
/// As MCT does, each batch is first counted in a histogram of its own range (NumPy's <c>np.histogram(x, bins)</c>: equal
/// bins from the batch's minimum to its maximum, the last bin closed, a constant batch over [v - 0.5, v + 0.5]), and
/// batches are merged onto equal bins over the range of all of them by interpolating each one's cumulative counts at the
/// merged edges (MCT's <c>interpolate_histogram</c>, NumPy's <c>np.interp</c>). MCT keeps every batch's histogram and
/// merges them once at the end; here the merged histogram is kept instead, and re-binned onto the wider range when a
/// batch widens it. The result is MCT's whenever the first batch already spans the range; otherwise the earlier batches'
/// counts have been interpolated twice (their mass and order are kept; only how it spreads inside a merged bin can differ).
/// </remarks>
public sealed class ActivationHistogram
{
    /// <summary>MCT's number of bins.</summary>
    public const int DefaultBins = 2048;

    private double[] _counts;
    private double[] _batchCounts;
    private double[] _cumulative;

    public ActivationHistogram(int bins = DefaultBins)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        Bins = bins;
        _counts = new double[bins];
        _batchCounts = new double[bins];
        _cumulative = new double[bins + 1];
    }

    public int Bins { get; }

    /// <summary>Finite values seen.</summary>
    public long Count { get; private set; }

    /// <summary>The smallest and largest value seen (exact); +∞ and -∞ before any.</summary>
    public double Min { get; private set; } = double.PositiveInfinity;
    public double Max { get; private set; } = double.NegativeInfinity;

    /// <summary>The histogram's range: the lowest and highest edge over all batches.</summary>
    public double Low { get; private set; }
    public double High { get; private set; }

    /// <summary>The counts of the merged histogram (fractional once batches of different ranges have been merged).</summary>
    public ReadOnlySpan<double> Counts => _counts;

    /// <summary>The left edge of bin <paramref name="bin"/> (and <see cref="High"/> for <see cref="Bins"/>).</summary>
    public double Edge(int bin) => bin >= Bins ? High : Low + (High - Low) * bin / Bins;

    /// <summary>
    /// Adds one batch. Returns the number of non-finite values in it (they are not counted; the caller decides whether
    /// they are an error) and the index of the first.
    /// </summary>
    public (long NonFinite, long FirstNonFinite) Add<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        long nonFinite = 0, first = -1;
        for (int i = 0; i < values.Length; i++)
        {
            T x = values[i];
            if (!T.IsFinite(x))
            {
                if (nonFinite++ == 0) first = i;
                continue;
            }
            double v = double.CreateTruncating(x);
            if (v < min) min = v;
            if (v > max) max = v;
        }
        if (double.IsInfinity(min)) return (nonFinite, first);

        // The batch's own histogram, as np.histogram makes it.
        double batchLow = min, batchHigh = max;
        if (batchLow == batchHigh) (batchLow, batchHigh) = (batchLow - 0.5, batchHigh + 0.5);
        Array.Clear(_batchCounts);
        double width = (batchHigh - batchLow) / Bins;
        int last = Bins - 1;
        for (int i = 0; i < values.Length; i++)
        {
            T x = values[i];
            if (!T.IsFinite(x)) continue;
            double v = double.CreateTruncating(x);
            int bin = (int)((v - batchLow) / width);
            if (bin > last) bin = last;
            else if (bin < 0) bin = 0;
            // Edges are rounded: move to the bin whose half-open interval holds v (the last bin is closed).
            while (bin > 0 && v < BatchEdge(batchLow, batchHigh, bin)) bin--;
            while (bin < last && v >= BatchEdge(batchLow, batchHigh, bin + 1)) bin++;
            _batchCounts[bin]++;
        }
        long count = values.Length - nonFinite;

        if (Count == 0)
        {
            (Low, High) = (batchLow, batchHigh);
            (_counts, _batchCounts) = (_batchCounts, _counts);
        }
        else
        {
            double low = Math.Min(Low, batchLow), high = Math.Max(High, batchHigh);
            if (low != Low || high != High)
            {
                var rebinned = new double[Bins];
                Interpolate(_counts, Low, High, low, high, rebinned);
                _counts = rebinned;
                (Low, High) = (low, high);
            }
            var merged = new double[Bins];
            Interpolate(_batchCounts, batchLow, batchHigh, Low, High, merged);
            for (int b = 0; b < Bins; b++) _counts[b] += merged[b];
        }
        Count += count;
        Min = Math.Min(Min, min);
        Max = Math.Max(Max, max);
        return (nonFinite, first);
    }

    private double BatchEdge(double low, double high, int bin) => bin >= Bins ? high : low + (high - low) * bin / Bins;

    /// <summary>
    /// Counts over equal bins of [<paramref name="fromLow"/>, <paramref name="fromHigh"/>] moved onto equal bins of
    /// [<paramref name="toLow"/>, <paramref name="toHigh"/>]: the cumulative counts, linear between the source edges and
    /// constant beyond them (np.interp), read at the target edges, then differenced.
    /// </summary>
    private void Interpolate(double[] counts, double fromLow, double fromHigh, double toLow, double toHigh, double[] result)
    {
        var cumulative = _cumulative;
        cumulative[0] = 0;
        for (int b = 0; b < Bins; b++) cumulative[b + 1] = cumulative[b] + counts[b];
        double previous = 0;
        for (int e = 0; e <= Bins; e++)
        {
            double x = e == Bins ? toHigh : toLow + (toHigh - toLow) * e / Bins;
            double value;
            if (x <= fromLow) value = 0;
            else if (x >= fromHigh) value = cumulative[Bins];
            else
            {
                double position = (x - fromLow) / (fromHigh - fromLow) * Bins;
                int below = Math.Min((int)position, Bins - 1);
                // Source edges are computed the way they were binned; find the interval that holds x.
                while (below > 0 && x < BatchEdge(fromLow, fromHigh, below)) below--;
                while (below < Bins - 1 && x >= BatchEdge(fromLow, fromHigh, below + 1)) below++;
                double left = BatchEdge(fromLow, fromHigh, below), right = BatchEdge(fromLow, fromHigh, below + 1);
                value = cumulative[below] + (cumulative[below + 1] - cumulative[below]) * ((x - left) / (right - left));
            }
            if (e > 0) result[e - 1] = value - previous;
            previous = value;
        }
    }
}
