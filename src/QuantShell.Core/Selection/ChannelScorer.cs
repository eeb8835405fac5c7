using System.Numerics;
using System.Runtime.InteropServices;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>
/// Scores candidate quantizers on the values of one channel (or the whole tensor) with the chosen error: the mean
/// error of an evenly strided sample (Mse, Mae, Lp) quantized with the exact arithmetic, or the KL divergence of the
/// data's histogram (Kl). Holds the samples and the histogram so each is made once per channel.
/// </summary>
internal sealed class ChannelScorer<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    private readonly ErrorMeasure _measure;
    private KlHistogram? _histogram;
    private T[]? _edges;
    private double[]? _quantizedEdges;
    private T[]? _edgeOutput;
    private (double Min, double Max)? _range;
    private readonly T[]? _values;
    private readonly TensorSample<T>? _sampled;

    public ChannelScorer(T[] values, SelectionOptions options)
    {
        _values = values;
        Options = options;
        _measure = new ErrorMeasure(options.ErrorMethod, options.P);
    }

    /// <summary>
    /// A scorer of values not held, only their extremes and strided samples (<see cref="TensorSample{T}"/>, made with the
    /// limits <see cref="SampleLimits"/> gives): enough for the symmetric and uniform scans of Mse, Mae and Lp, which
    /// read nothing else; <see cref="Values"/> is then not there.
    /// </summary>
    public ChannelScorer(TensorSample<T> sampled, SelectionOptions options)
    {
        _sampled = sampled;
        Options = options;
        _measure = new ErrorMeasure(options.ErrorMethod, options.P);
    }

    /// <summary>The sample sizes the symmetric and uniform scans ask <see cref="Sample"/> for.</summary>
    public static int[] SampleLimits(SelectionOptions options) =>
        new[] { 1 << 14, 1 << 16, int.MaxValue }.Select(l => Math.Min(l, options.MaxSearchValues)).Distinct().ToArray();

    /// <summary>
    /// Whether this scorer is the only one at work (per tensor): then its exact scores are computed in larger batches,
    /// split over two cores (the choice is the same either way).
    /// </summary>
    public bool Alone { get; init; }

    public T[] Values => _values ?? throw new InvalidOperationException("Only a sample of these values is held.");
    public SelectionOptions Options { get; }
    public ErrorMethod Method => Options.ErrorMethod;

    /// <summary>The greatest |x| of the finite values (0 when none is).</summary>
    public double MaxAbs => Math.Max(0, Math.Max(-Range.Min, Range.Max));

    /// <summary>The least and greatest finite values ((0, 0) when none is).</summary>
    public (double Min, double Max) Range => _range ??= (_sampled is null ? ChannelBlockSelection<T>.Extremes(Values) : _sampled.Extremes) is { } extremes
        ? (double.CreateTruncating(extremes[0]), double.CreateTruncating(extremes[1]))
        : (0, 0);

    /// <summary>The values scored: an evenly strided sample of at most <paramref name="limit"/> values (all when there are fewer).</summary>
    public T[] Sample(int limit)
    {
        limit = Math.Min(limit, Options.MaxSearchValues);
        if (_sampled is not null) return _sampled.Sample(limit);
        if (Values.Length <= limit) return Values;
        var sample = new T[limit];
        double stride = TensorSample<T>.Stride(Values.Length, limit);
        for (int i = 0; i < limit; i++) sample[i] = Values[TensorSample<T>.Index(i, stride)];
        return sample;
    }

    /// <summary>The error of one integer grid whose range is [<paramref name="rangeMin"/>, <paramref name="rangeMax"/>], on <paramref name="sample"/> (ignored by Kl).</summary>
    public double Score(in Grid<T> grid, double rangeMin, double rangeMax, T[] sample)
    {
        if (Method != ErrorMethod.Kl) return _measure.Mean<T>(sample, grid, FiniteCount(sample));
        var edges = Edges();
        var output = _edgeOutput ??= new T[edges.Length];
        var quantized = _quantizedEdges ??= new double[edges.Length];
        var stats = new KernelStats();
        FakeQuantizeKernel.Apply<T>(edges, output, grid, ref stats);
        for (int i = 0; i < edges.Length; i++) quantized[i] = double.CreateTruncating(output[i]);
        return Histogram().Divergence(quantized, rangeMin, rangeMax);
    }

    /// <summary>The error of a per-tensor quantizer (any kind, LUT ones included) on <paramref name="sample"/> (ignored by Kl).</summary>
    public double Score(InferableQuantizer quantizer, double rangeMin, double rangeMax, T[] sample)
    {
        var set = Method == ErrorMethod.Kl ? Edges() : sample;
        // A pooled buffer: a search scores dozens of candidates on samples of up to a million values per channel.
        var rented = System.Buffers.ArrayPool<T>.Shared.Rent(set.Length);
        try
        {
            var output = rented.AsSpan(0, set.Length);
            var stats = new KernelStats();
            quantizer.CreatePlan(new long[] { set.Length }).Apply<T>(set, output, 0, ref stats);
            if (Method != ErrorMethod.Kl) return _measure.Mean<T>(set, output);
            var quantized = new double[output.Length];
            for (int i = 0; i < quantized.Length; i++) quantized[i] = double.CreateTruncating(output[i]);
            return Histogram().Divergence(quantized, rangeMin, rangeMax);
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// The errors of several integer grids on <paramref name="sample"/>, for a scan that keeps the least (first of
    /// equals) and starts from <paramref name="least"/>: Mse errors are first bounded from a moment histogram of the
    /// sample (<see cref="Mct.MomentHistogram"/>, built once), and only grids whose lower bound is not above the least
    /// upper bound (and <paramref name="least"/>) are scored exactly; the others get their lower bound, above the least,
    /// so the scan picks the same grid as with every error exact. On samples too small for the histogram, the lower
    /// bounds come from each grid's clipping alone (<see cref="ClippingBounds"/>); on fewer than
    /// <see cref="SelectionOptions.ClippingBoundsFrom"/> values (and for other errors) there are none, and every grid is
    /// scored exactly in one pass. A null grid scores +∞.
    /// <paramref name="known"/>: a grid whose exact error on <paramref name="sample"/> the caller already has (as this
    /// gives it, e.g. the centre of a finer scan, the least of the scan before): that error is its entry, not scored
    /// again, and from the start it caps the others' bounds.
    /// </summary>
    public double[] ScoreMany(IReadOnlyList<Grid<T>?> grids, IReadOnlyList<(double Min, double Max)> ranges, T[] sample, double least,
                              (int Index, double Error)? known = null)
    {
        var errors = new double[grids.Count];
        var histogram = Method != ErrorMethod.Kl && _measure.IsSquared && sample.Length >= Options.BoundedSearchFrom && grids.Count > 1 ? Moments(sample) : null;
        int knownIndex = known is { } k0 && grids[k0.Index] is not null ? k0.Index : -1;
        double knownError = known?.Error ?? double.NaN;
        // The known grid's error is an upper bound of the least like any other's.
        double leastHigh = knownIndex >= 0 ? Math.Min(least, knownError) : least;
        bool single = typeof(T) == typeof(float);
        // The float64 sum of n non-negative terms, however its lanes split it: at most n roundings on a term's way.
        double gamma = sample.Length * Mct.MomentHistogram.UnitRoundoff64;
        bool clipping = Options.ClippingBounds && sample.Length >= Options.ClippingBoundsFrom && sample.Length < Options.BoundedSearchFrom
                        && Method != ErrorMethod.Kl && _measure.IsSquared && gamma < 0.25 && grids.Count > 1 && sample.Length > 0;
        if (!(histogram is not null && gamma < 0.25) && !clipping)
        {
            // No bounds: every grid scored exactly, all in one pass over the values (each grid's error as alone).
            var all = System.Buffers.ArrayPool<int>.Shared.Rent(grids.Count);
            int open = 0;
            for (int i = 0; i < grids.Count; i++)
            {
                if (grids[i] is null) errors[i] = double.PositiveInfinity;
                else if (i == knownIndex) errors[i] = knownError;
                else all[open++] = i;
            }
            ScoreExactly(all.AsSpan(0, open), grids, ranges, sample, errors);
            System.Buffers.ArrayPool<int>.Shared.Return(all);
            return errors;
        }
        var lows = new double[grids.Count];
        if (histogram is not null && gamma < 0.25)
        {
            bool Bound(int i, double cap, out double low, out double high)
            {
                (low, high) = (double.NegativeInfinity, double.PositiveInfinity);
                if (i == knownIndex)
                {
                    (low, high) = (knownError, knownError);
                    return true;
                }
                if (grids[i] is not { } grid || !histogram.TryKernelSquaredErrorSum(double.CreateTruncating(grid.Scale), double.CreateTruncating(grid.Inverse),
                        int.CreateTruncating(grid.ZeroPoint), int.CreateTruncating(grid.QuantMin), int.CreateTruncating(grid.QuantMax), single,
                        cap * sample.Length / (1 - gamma), out double sumLow, out double sumHigh)) return false;
                (low, high) = (sumLow * (1 - gamma) / sample.Length, sumHigh * (1 + gamma) / sample.Length);
                return true;
            }
            leastHigh = Mct.MomentHistogram.BoundAll(grids.Count, Bound, leastHigh, lows, new double[grids.Count]);
        }
        else
        {
            // Too few values for the histogram: each grid's error bounded below by its clipping alone (the values beyond
            // its first and last levels), lowered by the rounding of the terms, of their float sum and of the mean.
            var clippingBounds = Clipping(sample);
            for (int i = 0; i < grids.Count; i++)
                lows[i] = grids[i] is { } grid ? clippingBounds.LowSum(grid) * (1 - gamma) * (1 - 16 * Mct.MomentHistogram.UnitRoundoff64) / sample.Length : double.NegativeInfinity;
        }
        for (int i = 0; i < grids.Count; i++)
            if (grids[i] is null) lows[i] = errors[i] = double.PositiveInfinity;
        // The undecided grids scored from the lowest bound up: once the least exact error so far is below a grid's lower
        // bound, that grid cannot be the least (nor equal it) and keeps its bound. They are scored in batches (1, 2, 4,
        // ... grids; twice that for a scorer alone, split over two cores), all of a batch in one pass over the values: a
        // grid a batch scores that one at a time would have left with its bound has an error above that bound, so above
        // the least either way, and every grid whose error is the least is scored exactly either way.
        var order = Enumerable.Range(0, grids.Count).Where(i => grids[i] is not null).ToArray();
        Array.Sort(lows.Where((_, i) => grids[i] is not null).ToArray(), order);
        int next = 0, batch = Alone ? 2 : 1;
        var taken = new List<int>();
        while (next < order.Length)
        {
            taken.Clear();
            for (; next < order.Length && taken.Count < batch; next++)
            {
                int i = order[next];
                if (i == knownIndex) errors[i] = knownError;
                else if (lows[i] > leastHigh) errors[i] = lows[i];
                else taken.Add(i);
            }
            ScoreExactly(CollectionsMarshal.AsSpan(taken), grids, ranges, sample, errors);
            foreach (int i in taken) leastHigh = Math.Min(leastHigh, errors[i]);
            batch *= 2;
        }
        return errors;
    }

    /// <summary>The exact errors of the grids <paramref name="taken"/> (indexes), into <paramref name="errors"/>.</summary>
    private void ScoreExactly(ReadOnlySpan<int> taken, IReadOnlyList<Grid<T>?> grids, IReadOnlyList<(double Min, double Max)> ranges, T[] sample, double[] errors)
    {
        if (taken.Length == 0) return;
        if (Method == ErrorMethod.Kl)
        {
            foreach (int i in taken) errors[i] = Score(grids[i]!.Value, ranges[i].Min, ranges[i].Max, sample);
            return;
        }
        int count = taken.Length;
        var batch = System.Buffers.ArrayPool<Grid<T>>.Shared.Rent(count);
        var means = System.Buffers.ArrayPool<double>.Shared.Rent(count);
        for (int k = 0; k < count; k++) batch[k] = grids[taken[k]]!.Value;
        var measure = _measure;
        // Alone, the grids split over two cores (each grid's error is computed by one, as alone).
        int parts = Alone && count >= 2 ? 2 : 1;
        int half = (count + 1) / 2;
        long finite = FiniteCount(sample);
        if (parts == 1) measure.MeanMany<T>(sample, batch.AsSpan(0, count), means.AsSpan(0, count), finite);
        else Parallel.For(0, 2, p =>
        {
            int start = p * half, length = p == 0 ? half : count - half;
            measure.MeanMany<T>(sample, batch.AsSpan(start, length), means.AsSpan(start, length), finite);
        });
        for (int k = 0; k < count; k++) errors[taken[k]] = means[k];
        System.Buffers.ArrayPool<Grid<T>>.Shared.Return(batch);
        System.Buffers.ArrayPool<double>.Shared.Return(means);
    }

    /// <summary>
    /// Whether a coarse scan scores its grids on all of <paramref name="sample"/> through <see cref="ScoreMany"/> (squared
    /// errors on at least <see cref="ParameterSelector.CoarseOnAllFrom"/> values), rather than exactly on a small sample: with the errors
    /// bounded first that costs about as much, and a small sample's noise cannot lead the fine rounds to a false dip.
    /// </summary>
    public bool CoarseOnAll(T[] sample) => Method != ErrorMethod.Kl && _measure.IsSquared && sample.Length >= ParameterSelector.CoarseOnAllFrom;

    private Mct.MomentHistogram? Moments(T[] sample)
    {
        if (!ReferenceEquals(_momentsOf, sample))
        {
            _moments?.Release();
            // All of the values, every one finite (the count the exact scores need anyway): the histogram spans the
            // scorer's extremes, not found again. Else it finds its sample's own (and none where a value is not finite).
            bool extremesKnown = _values is not null && ReferenceEquals(sample, _values) && FiniteCount(sample) == sample.Length;
            _moments = Mct.MomentHistogram.Build(sample, 1 << 16, parallel: false, extremesKnown ? Range : null);
            _momentsOf = sample;
        }
        return _moments;
    }

    private Mct.MomentHistogram? _moments;
    private T[]? _momentsOf;

    private ClippingBounds Clipping(T[] sample)
    {
        if (!ReferenceEquals(_clippingOf, sample))
        {
            _clipping?.Release();
            _clipping = ClippingBounds.Build(sample);
            _clippingOf = sample;
        }
        return _clipping!;
    }

    /// <summary>How many of <paramref name="sample"/>'s values are finite: counted once, not once a batch.</summary>
    private long FiniteCount(T[] sample)
    {
        if (!ReferenceEquals(_finiteOf, sample)) (_finite, _finiteOf) = (ErrorMeasure.FiniteCount<T>(sample), sample);
        return _finite;
    }

    private ClippingBounds? _clipping;
    private T[]? _clippingOf;
    private long _finite;
    private T[]? _finiteOf;

    /// <summary>
    /// Gives back what the search held (its channel is chosen): the moment histogram, the clipping bounds and the KL
    /// histogram with its edges, which a tensor of many channels would otherwise hold for every channel at once.
    /// </summary>
    public void ReleaseSearch()
    {
        _moments?.Release();
        _clipping?.Release();
        (_moments, _momentsOf) = (null, null);
        (_clipping, _clippingOf, _finiteOf) = (null, null, null);
        (_histogram, _edges, _quantizedEdges, _edgeOutput) = (null, null, null, null);
    }

    private KlHistogram Histogram() => _histogram ??= KlHistogram.Build<T>(Values);

    private T[] Edges() => _edges ??= Histogram().Edges.Select(T.CreateTruncating).ToArray();
}
