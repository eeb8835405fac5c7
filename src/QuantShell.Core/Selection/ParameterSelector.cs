using System.Numerics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Selection;

/// <summary>
/// Chooses thresholds (POT, symmetric), ranges (uniform) or thresholds and tables (LUT) from data, per tensor or per
/// channel: with <see cref="SelectionSearch.Mct"/> as MCT's own selection code does (<see cref="MctSelection"/>), with
/// <see cref="SelectionSearch.Optimal"/> by QuantShell's search, which scores every candidate with the exact arithmetic the
/// quantizer will use (see <see cref="LutSelection"/> for LUTs). Several arrays (calibration batches) are pooled before choosing.
/// </summary>
public static class ParameterSelector
{
    /// <summary>
    /// Completes <paramref name="incomplete"/> (a spec whose Threshold, or MinRange/MaxRange, is left null) from
    /// <paramref name="data"/>. Signed, when null, stays signed for weights and is chosen for activations: signed iff
    /// the data has negative values.
    /// </summary>
    public static QuantizerSpec Select(QuantizerSpec incomplete, IReadOnlyList<NpyArray> data, SelectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(incomplete);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new SelectionOptions();
        if (data.Count == 0)
            throw new QuantShellException("Choosing quantization parameters needs at least one input array.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidArgument, "Path");
        CheckOptions(options);
        bool allDouble = data.All(a => a.Data is double[]);
        return allDouble ? Select<double>(incomplete, data, options) : Select<float>(incomplete, data, options);
    }

    private static void CheckOptions(SelectionOptions options)
    {
        if (options.ErrorMethod == ErrorMethod.Lp && !(double.IsFinite(options.P) && options.P > 0))
            throw new QuantizerValidationException($"{Parameter.P} must be a finite number greater than 0 but is {QuantizerSpec.FormatValue(options.P)}.", Parameter.P, ErrorIds.ErrorExponentInvalid);
        if (options.ErrorMethod == ErrorMethod.Percentile)
            CheckPercentile(options.Percentile);
    }

    /// <summary>A percentile must lie in (0, 100].</summary>
    public static void CheckPercentile(double percentile)
    {
        if (!(double.IsFinite(percentile) && percentile > 0 && percentile <= 100))
            throw new QuantizerValidationException($"{Parameter.Percentile} must be greater than 0 and at most 100 but is {QuantizerSpec.FormatValue(percentile)}.", Parameter.Percentile, ErrorIds.PercentileInvalid);
    }

    private static QuantizerSpec Select<T>(QuantizerSpec incomplete, IReadOnlyList<NpyArray> data, SelectionOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var channels = SplitChannels<T>(incomplete, data, out int? axis);
        return Select(incomplete, channels, axis, () => data.Select(ToValues<T>).ToArray(), data[0].Shape, options, channels.Sum(c => c.LongLength));
    }

    /// <summary>
    /// The optimal search scores MCT's choice as one more candidate only where the tensor (all its channels, all inputs
    /// pooled) holds at most this many values: there MCT's search costs little beside the scans, and a scan on few values
    /// can step over a narrow dip of a jagged error curve that MCT's iterations find. Beyond it the optimal search is its
    /// own scans alone, and each channel's choice is its own (so a file can be chosen block by block).
    /// </summary>
    public const long MctCandidateUpTo = 1L << 20;

    /// <summary>Replaces <see cref="MctCandidateUpTo"/> for the code that runs under it (tests: the large tensors' paths on small data).</summary>
    internal static readonly AsyncLocal<long?> MctCandidateUpToOverride = new();

    /// <summary>From how many values a channel's coarse scan of squared errors is scored on all of them (bounded first), not on a small sample.</summary>
    public const int CoarseOnAllFrom = 1 << 16;

    /// <summary>Whether the optimal search scores MCT's choice as well, for a tensor of <paramref name="tensorValues"/> values.</summary>
    internal static bool MctIsCandidate(long tensorValues) => tensorValues <= (MctCandidateUpToOverride.Value ?? MctCandidateUpTo);

    /// <summary>
    /// Completes a weights spec from each channel's values, read straight from a file (<paramref name="axis"/> the channel
    /// axis of <paramref name="shape"/>; per tensor null, and one channel): the same choice as
    /// <see cref="Select(QuantizerSpec, IReadOnlyList{NpyArray}, SelectionOptions?)"/> of the whole array, without holding it as well.
    /// </summary>
    /// <remarks><paramref name="tensorValues"/>: how many values the whole tensor holds, where <paramref name="channels"/> are
    /// some of its channels (a block; the optimal search's candidates depend on it); null: the values of <paramref name="shape"/>.</remarks>
    internal static QuantizerSpec SelectWeightChannels<T>(QuantizerSpec incomplete, T[][] channels, int? axis, IReadOnlyList<long> shape, SelectionOptions options,
                                                          long? tensorValues = null)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (incomplete.Target != QuantizationTarget.Weights || incomplete.PerChannel != axis.HasValue || !incomplete.PerChannel && channels.Length != 1)
            throw new ArgumentException("Channels read from a file are a weights quantizer's: per channel along an axis, or one for the tensor.", nameof(incomplete));
        CheckOptions(options);
        return Select(incomplete, channels, axis, () => [], shape, options, tensorValues ?? shape.Aggregate(1L, (x, y) => x * y));
    }

    /// <summary>
    /// Completes a per-channel POT, symmetric or uniform weights spec with MCT's no-clipping choice from each channel's
    /// minimum and maximum over its values, all finite (channels along <paramref name="axis"/>, by group when the spec has
    /// groups, channel-major): the same spec as <see cref="Select(QuantizerSpec, IReadOnlyList{NpyArray}, SelectionOptions?)"/>
    /// of the values with <see cref="ErrorMethod.NoClipping"/> and <see cref="SelectionSearch.Mct"/>.
    /// </summary>
    internal static QuantizerSpec SelectNoClipping<T>(QuantizerSpec incomplete, T[] mins, T[] maxs, int axis)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (incomplete.Target != QuantizationTarget.Weights || !incomplete.PerChannel || incomplete.IsLut)
            throw new ArgumentException("Extremes choose a per-channel integer weights quantizer's values.", nameof(incomplete));
        var along = incomplete with { ChannelAxis = incomplete.ChannelAxis ?? axis };
        return FromMct(along, MctSelection.ChooseWeightsNoClipping(along, mins, maxs));
    }

    private static QuantizerSpec Select<T>(QuantizerSpec incomplete, T[][] channels, int? axis, Func<T[][]> batches, IReadOnlyList<long> shape, SelectionOptions options,
                                           long tensorValues)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        // The axis the values were chosen along is part of what was chosen: results and quantizer files say which it is.
        var along = incomplete with { ChannelAxis = incomplete.ChannelAxis ?? axis };
        // Percentile is QuantShell's own (MCT has none); with no finite value MCT has nothing to choose from.
        bool mctApplies = options.ErrorMethod != ErrorMethod.Percentile && channels.All(c => c.Any(T.IsFinite));
        if (options.Search == SelectionSearch.Mct && mctApplies)
            return FromMct(along, MctSelection.Choose(along, channels, batches(), options, shape));
        bool signed = incomplete.Signed ?? (incomplete.Target == QuantizationTarget.Weights || channels.Any(c => c.Any(x => x < T.Zero)));
        // The axis the values were chosen along is part of what was chosen: results and quantizer files say which it is.
        var spec = incomplete with { Signed = incomplete.Method == QuantizationMethod.Uniform ? null : signed, ChannelAxis = incomplete.ChannelAxis ?? axis };
        if (spec.IsLut)
        {
            spec = LutSelection.Select(spec, channels, options);
        }
        else
        {
            spec = Scanned(spec, incomplete, signed, channels.Select(c => new ChannelScorer<T>(c, options) { Alone = channels.Length == 1 }).ToArray());
        }
        spec.Validate();
        // On a small tensor MCT's choice is one more candidate: where its heuristic lands lower (a jagged error curve
        // between the scan's points), it wins, so the least-error search is never worse than MCT's there. On a large one
        // its search would cost more than the scans (MctCandidateUpTo).
        if (mctApplies && options.ErrorMethod != ErrorMethod.NoClipping && MctIsCandidate(tensorValues))
            spec = Better(spec, FromMct(incomplete, MctSelection.Choose(incomplete, channels, batches(), options, shape)), channels, options);
        return spec;
    }

    /// <summary>The optimal search's POT, symmetric or uniform values of each channel, from its scorer.</summary>
    private static QuantizerSpec Scanned<T>(QuantizerSpec spec, QuantizerSpec incomplete, bool signed, ChannelScorer<T>[] scorers)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        // Each channel's scorer gives back what its search held once its channel is chosen.
        TResult Done<TResult>(ChannelScorer<T> scorer, TResult result)
        {
            scorer.ReleaseSearch();
            return result;
        }
        if (incomplete.Method == QuantizationMethod.Uniform)
        {
            var ranges = PerChannel(scorers, s => Done(s, UniformRange(s, incomplete)));
            return spec with { Threshold = null, MinRange = ranges.Select(r => r.Min).ToArray(), MaxRange = ranges.Select(r => r.Max).ToArray() };
        }
        var thresholds = PerChannel(scorers, s => Done(s, incomplete.Method == QuantizationMethod.Pot
            ? PotThreshold(s, incomplete.NumBits, signed)
            : SymmetricThreshold(s, incomplete.NumBits, signed)));
        return spec with { Threshold = thresholds, MinRange = null, MaxRange = null };
    }

    /// <summary>
    /// Whether a weights tensor of <paramref name="tensorValues"/> values, per tensor, gets its values from its extremes and
    /// strided samples alone (<see cref="SelectSampled"/>), the same as from all its values: the optimal search's
    /// symmetric and uniform scans of Mse, Mae or Lp read nothing else where MCT's choice is not a candidate.
    /// </summary>
    internal static bool SampledApplies(QuantizerSpec incomplete, SelectionOptions options, long tensorValues) =>
        incomplete is { Target: QuantizationTarget.Weights, PerChannel: false, IsLut: false, GroupSize: null }
        && incomplete.Method is QuantizationMethod.Symmetric or QuantizationMethod.Uniform
        && options is { Search: SelectionSearch.Optimal, ErrorMethod: ErrorMethod.Mse or ErrorMethod.Mae or ErrorMethod.Lp }
        && !MctIsCandidate(tensorValues);

    /// <summary>
    /// Completes a per-tensor weights spec (<see cref="SampledApplies"/>) from the tensor's extremes and samples, gathered
    /// part after part (a file read in chunks): the spec <see cref="Select(QuantizerSpec, IReadOnlyList{NpyArray}, SelectionOptions?)"/>
    /// gives from the whole array. Null where the tensor has no finite value (the whole tensor's path then decides).
    /// </summary>
    internal static QuantizerSpec? SelectSampled<T>(QuantizerSpec incomplete, TensorSample<T> sample, SelectionOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (!SampledApplies(incomplete, options, sample.Length))
            throw new ArgumentException("The values of this quantizer are not chosen from samples.", nameof(incomplete));
        CheckOptions(options);
        if (sample.Extremes is null) return null;
        bool signed = incomplete.Signed ?? true;
        var spec = incomplete with { Signed = incomplete.Method == QuantizationMethod.Uniform ? null : signed };
        spec = Scanned(spec, incomplete, signed, [new ChannelScorer<T>(sample, options) { Alone = true }]);
        spec.Validate();
        return spec;
    }

    /// <summary>
    /// Of two complete specs for the same data, per channel the values with the lower error (the first on a tie); a LUT's
    /// table is shared by the channels, so there the whole spec with the lower total error.
    /// </summary>
    private static QuantizerSpec Better<T>(QuantizerSpec first, QuantizerSpec second, T[][] channels, SelectionOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var scorers = channels.Select(c => new ChannelScorer<T>(c, options)).ToArray();
        var errors = new (double First, double Second)[channels.Length];
        Parallel.For(0, channels.Length, c => errors[c] = (ChannelError(first, c, scorers[c]), ChannelError(second, c, scorers[c])));
        if (first.IsLut)
        {
            double firstTotal = 0, secondTotal = 0;
            for (int c = 0; c < channels.Length; c++)
            {
                firstTotal += errors[c].First * channels[c].Length;
                secondTotal += errors[c].Second * channels[c].Length;
            }
            return secondTotal < firstTotal ? second : first;
        }
        if (first.Method == QuantizationMethod.Uniform)
        {
            var min = first.MinRange!.ToArray();
            var max = first.MaxRange!.ToArray();
            for (int c = 0; c < channels.Length; c++)
                if (errors[c].Second < errors[c].First) (min[c], max[c]) = (second.MinRange![c], second.MaxRange![c]);
            return first with { MinRange = min, MaxRange = max };
        }
        if (first.Signed != second.Signed) return errors.Sum(e => e.Second) < errors.Sum(e => e.First) ? second : first;
        var thresholds = first.Threshold!.ToArray();
        for (int c = 0; c < channels.Length; c++)
            if (errors[c].Second < errors[c].First) thresholds[c] = second.Threshold![c];
        return first with { Threshold = thresholds };
    }

    /// <summary>The error of channel <paramref name="channel"/>'s values (a sample of them) under its part of <paramref name="spec"/>.</summary>
    private static double ChannelError<T>(QuantizerSpec spec, int channel, ChannelScorer<T> scorer)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        // A group-wise spec's channels are its channels' groups (channel-major), each one quantizer's values.
        var one = spec with { PerChannel = false, ChannelAxis = null, InputRank = null, GroupSize = null };
        double rangeMin, rangeMax;
        if (spec.Method == QuantizationMethod.Uniform)
        {
            one = one with { MinRange = [spec.MinRange![channel]], MaxRange = [spec.MaxRange![channel]] };
            (rangeMin, rangeMax) = RangeMath.AdjustUniformRange((float)spec.MinRange[channel], (float)spec.MaxRange[channel], spec.NumBits);
        }
        else
        {
            double t = spec.Threshold![channel];
            one = one with { Threshold = [t] };
            (rangeMin, rangeMax) = (spec.IsSigned ? -t : 0, t);
        }
        return scorer.Score(InferableQuantizer.Create(one), rangeMin, rangeMax, scorer.Sample(scorer.Options.MaxSearchValues));
    }

    /// <summary>
    /// The spec MCT's choice completes: its values as the float32 a quantizer holds. A range MCT leaves empty (a constant
    /// channel, all zeros), which its own quantizers refuse, becomes one that holds the value and zero.
    /// </summary>
    internal static QuantizerSpec FromMct(QuantizerSpec incomplete, MctChoice choice)
    {
        var spec = incomplete with { Signed = incomplete.Method == QuantizationMethod.Uniform ? null : choice.Signed };
        if (choice.Ranges is not null)
        {
            var ranges = choice.Ranges.Select(r => (float)r.Min < (float)r.Max ? (AsFloat(r.Min), AsFloat(r.Max)) : NonDegenerate(r.Min, r.Max)).ToArray();
            spec = spec with { Threshold = null, MinRange = ranges.Select(r => r.Item1).ToArray(), MaxRange = ranges.Select(r => r.Item2).ToArray() };
        }
        else
        {
            spec = spec with { Threshold = choice.Thresholds!.Select(AsFloat).ToArray(), MinRange = null, MaxRange = null, LutValues = choice.LutValues ?? incomplete.LutValues };
        }
        spec.Validate();
        return spec;
    }

    /// <summary>
    /// The choice of each channel, channels spread over the cores: each is independent of the others, and its result
    /// does not depend on which thread computed it.
    /// </summary>
    private static TResult[] PerChannel<TChannel, TResult>(TChannel[] channels, Func<TChannel, TResult> choose)
    {
        var results = new TResult[channels.Length];
        if (channels.Length == 1) results[0] = choose(channels[0]);
        else Parallel.For(0, channels.Length, c => results[c] = choose(channels[c]));
        return results;
    }

    /// <summary>The values of each channel (one channel for per-tensor), pooled over all arrays; <paramref name="axis"/> the channel axis.</summary>
    internal static T[][] SplitChannels<T>(QuantizerSpec incomplete, IReadOnlyList<NpyArray> data, out int? axis)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        axis = null;
        var arrays = data.Select(ToValues<T>).ToArray();
        // One array per tensor is used as it is (nothing here writes to it): a copy would double a large tensor's memory.
        if (!incomplete.PerChannel)
            return new[] { arrays.Length == 1 ? arrays[0] : Concatenate(arrays) };
        int rank = data[0].Shape.Length;
        if (data.Any(a => a.Shape.Length != rank))
            throw new QuantShellException("Calibration arrays for per-channel selection must have the same rank.", ErrorIds.CalibrationShapeMismatch, QuantShellErrorKind.InvalidData);
        int channelAxis = incomplete.ResolveSelectionAxis(data[0].Shape);
        axis = channelAxis;
        long channelCount = data[0].Shape[channelAxis];
        if (data.Any(a => a.Shape[channelAxis] != channelCount))
            throw new QuantShellException($"Calibration arrays have different lengths on channel axis {channelAxis}.", ErrorIds.CalibrationShapeMismatch, QuantShellErrorKind.InvalidData);
        if (channelCount == 0)
            throw new QuantShellException($"channel axis {channelAxis} has length 0: there is no channel to choose values for.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidData);
        long groups = 1, last = 1;
        if (incomplete.GroupSize is int groupSize)
        {
            incomplete.CheckGroupAxis(channelAxis, data[0].Shape);
            last = data[0].Shape[^1];
            if (data.Any(a => a.Shape[^1] != last))
                throw new QuantShellException("Calibration arrays for group-wise selection must have the same last axis.", ErrorIds.CalibrationShapeMismatch, QuantShellErrorKind.InvalidData);
            if (last == 0)
                throw new QuantShellException($"the last axis (axis {rank - 1}) has length 0: there is no group of {groupSize} values to choose values for.", ErrorIds.SelectionNoData,
                                              QuantShellErrorKind.InvalidData);
            groups = (last + groupSize - 1) / groupSize;
        }
        // One set of values per channel, or per channel and group (channel-major); a ragged last group holds fewer.
        long sets = checked(channelCount * groups);
        var counts = new long[sets];
        int SetOf(long i, long inner) => (int)(i / inner % channelCount);
        foreach (var array in data)
        {
            long inner = array.Shape.Skip(channelAxis + 1).Aggregate(1L, (x, y) => x * y);
            if (incomplete.GroupSize is null)
            {
                for (int c = 0; c < channelCount; c++) counts[c] += array.ElementCount / channelCount;
                continue;
            }
            // Whole rows of the last axis share a channel (the channel axis is not the last): count group by group.
            for (long row = 0; row < array.ElementCount / last; row++)
            {
                long first = (row * last / inner % channelCount) * groups;
                for (long g = 0; g < groups; g++) counts[first + g] += Math.Min(incomplete.GroupSize!.Value, last - g * incomplete.GroupSize.Value);
            }
        }
        var channels = new T[sets][];
        var filled = new int[sets];
        for (int c = 0; c < sets; c++) channels[c] = new T[counts[c]];
        for (int a = 0; a < arrays.Length; a++)
        {
            long inner = data[a].Shape.Skip(channelAxis + 1).Aggregate(1L, (x, y) => x * y);
            var values = arrays[a];
            if (incomplete.GroupSize is int size)
            {
                for (long row = 0; row < values.LongLength / last; row++)
                {
                    long first = (row * last / inner % channelCount) * groups;
                    for (long g = 0; g < groups; g++)
                    {
                        int c = (int)(first + g), length = (int)Math.Min(size, last - g * size);
                        Array.Copy(values, row * last + g * size, channels[c], filled[c], length);
                        filled[c] += length;
                    }
                }
                continue;
            }
            for (long i = 0; i < values.LongLength; i++)
            {
                int c = SetOf(i, inner);
                channels[c][filled[c]++] = values[i];
            }
        }
        return channels;
    }

    private static T[] Concatenate<T>(T[][] arrays)
    {
        var all = new T[arrays.Sum(a => (long)a.Length)];
        long at = 0;
        foreach (var array in arrays)
        {
            array.CopyTo(all, at);
            at += array.Length;
        }
        return all;
    }

    internal static T[] ToValues<T>(NpyArray array) where T : unmanaged, IFloatingPointIeee754<T> => array.Data switch
    {
        T[] same => same,
        Half[] h => h.Select(v => T.CreateChecked((float)v)).ToArray(),
        float[] f => f.Select(v => T.CreateChecked(v)).ToArray(),
        double[] d => d.Select(v => T.CreateChecked(v)).ToArray(),
        _ => throw new ArgumentException(array.Data.GetType().Name),
    };

    // ---- POT: the exact optimum among powers of two ----

    /// <summary>
    /// Smallest power of two ≥ max|x| for NoClipping (≥ the percentile of |x| for Percentile); else the power of two in
    /// [2^(e-n-16), 2^(e+2)] with the lowest error, where 2^e is the smallest power of two ≥ max|x| (beyond 2^(e+1) grids
    /// only coarsen without clipping less). Ties go to the larger threshold. Scored on every value (Kl: the histogram).
    /// </summary>
    internal static double PotThreshold<T>(ChannelScorer<T> scorer, int numBits, bool signed)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        double maxAbs = scorer.MaxAbs;
        if (maxAbs == 0) return 1.0;
        int e = CeilLog2(maxAbs);
        if (scorer.Method == ErrorMethod.NoClipping) return Math.ScaleB(1.0, e);
        if (scorer.Method == ErrorMethod.Percentile) return Math.ScaleB(1.0, CeilLog2(PercentileOrMax(scorer, maxAbs)));
        var (qmin, qmax) = RangeMath.SymmetricRange(numBits, signed);
        double best = double.PositiveInfinity, bestThreshold = Math.ScaleB(1.0, e);
        for (int k = e + 2; k >= Math.Max(e - numBits - 16, -100); k--)
        {
            double t = Math.ScaleB(1.0, k);
            double error = scorer.Score(new Grid<T>(RangeMath.SymmetricScale(t, numBits, signed), 0, qmin, qmax), signed ? -t : 0, t, scorer.Values);
            if (error < best) { best = error; bestThreshold = t; }
        }
        return bestThreshold;
    }

    // ---- Symmetric: coarse scan, then a finer scan around the best ----

    internal static double SymmetricThreshold<T>(ChannelScorer<T> scorer, int numBits, bool signed)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        double maxAbs = scorer.MaxAbs;
        if (maxAbs == 0) return 1.0;
        if (scorer.Method == ErrorMethod.NoClipping) return AsFloat(maxAbs);
        if (scorer.Method == ErrorMethod.Percentile) return AsFloat(PercentileOrMax(scorer, maxAbs));
        var (qmin, qmax) = RangeMath.SymmetricRange(numBits, signed);
        var coarseSample = scorer.Sample(1 << 16);
        var sample = scorer.Sample(int.MaxValue);
        Grid<T> GridOf(double t) => new(RangeMath.SymmetricScale(t, numBits, signed), 0, qmin, qmax);
        double Score(T[] set, double t) => scorer.Score(GridOf(t), signed ? -t : 0, t, set);

        // Up to a little beyond max|x|: the top of a signed grid is t - s, so covering max exactly needs t slightly above it.
        double upper = maxAbs * (1 + 2.0 / (qmax + 1));
        const int coarse = 256;
        double step = upper / coarse;
        double bestT = upper, best = double.PositiveInfinity;
        var coarseThresholds = Enumerable.Range(1, coarse).Select(k => AsFloat(step * k)).Where(t => t > 0).ToArray();
        int coarseBest = CoarseBest(scorer, coarseThresholds.Select(t => (Grid<T>?)GridOf(t)).ToArray(), coarseThresholds.Select(t => (signed ? -t : 0, t)).ToArray(),
                                    sample, coarseSample, out double? bestError);
        if (coarseBest >= 0) bestT = coarseThresholds[coarseBest];
        for (int round = 0; round < 2; round++)
        {
            double low = Math.Max(bestT - 2 * step, step / 8), high = bestT + 2 * step;
            const int fine = 64;
            step = (high - low) / fine;
            // bestT's exact error on the sample, where the scan before has it (its least, scored exactly): the same value.
            best = bestError ?? Score(sample, bestT);
            // The whole round's grids are scored at once: most are ruled out by bounds, the rest scored exactly.
            var thresholds = new List<double>();
            for (int k = 0; k <= fine; k++)
            {
                double t = AsFloat(low + step * k);
                if (t > 0) thresholds.Add(t);
            }
            var errors = scorer.ScoreMany(thresholds.Select(t => (Grid<T>?)GridOf(t)).ToArray(), thresholds.Select(t => (signed ? -t : 0, t)).ToArray(), sample, best);
            for (int k = 0; k < thresholds.Count; k++)
            {
                if (errors[k] < best) { best = errors[k]; bestT = thresholds[k]; }
            }
            bestError = scorer.Options.ReuseLeastError ? best : null;
        }
        return bestT;
    }

    // ---- Uniform: coarse 2-D scan of (min, max) scale factors, then two finer scans around the best ----

    internal static (double Min, double Max) UniformRange<T>(ChannelScorer<T> scorer, QuantizerSpec incomplete)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var (lo, hi) = scorer.Range;
        if (scorer.Method == ErrorMethod.NoClipping || lo == hi)
            return NonDegenerate(lo, hi);
        if (scorer.Method == ErrorMethod.Percentile)
        {
            var (pmin, pmax) = Percentiles.Central<T>(scorer.Values, scorer.Options.Percentile);
            return NonDegenerate(pmin, pmax);
        }
        double low = Math.Min(lo, 0), high = Math.Max(hi, 0);
        int numBits = incomplete.NumBits;
        bool weights = incomplete.Target == QuantizationTarget.Weights;
        var coarseSample = scorer.Sample(1 << 14);
        var sample = scorer.Sample(int.MaxValue);
        // The grid of factors (a, b) and its adjusted range, written in place (null where there is none).
        void GridOf(double a, double b, ref Grid<T>? grid, ref (double Min, double Max) range)
        {
            if (UniformGrid(low * a, high * b, numBits, weights, out float scale, out int zero, out float adjustedMin, out float adjustedMax))
            {
                grid = new Grid<T>(scale, zero, 0, (1 << numBits) - 1);
                range = (adjustedMin, adjustedMax);
            }
            else
            {
                grid = null;
                range = (0, 0);
            }
        }
        double Score(T[] set, double a, double b)
        {
            Grid<T>? grid = null;
            (double Min, double Max) range = default;
            GridOf(a, b, ref grid, ref range);
            return grid is { } g ? scorer.Score(g, range.Min, range.Max, set) : double.PositiveInfinity;
        }
        // Factors of 0 are pointless where that side is 0 anyway; scan only the sides that exist.
        int aCount = low < 0 ? 34 : 1, bCount = high > 0 ? 34 : 1;
        double Factor(int count, int k) => count == 1 ? 1.0 : (k + 1) / 32.0;
        double bestA = 1, bestB = 1, best = double.PositiveInfinity;
        var grids = new Grid<T>?[aCount * bCount];
        var ranges = new (double Min, double Max)[grids.Length];
        for (int k = 0; k < grids.Length; k++) GridOf(Factor(aCount, k / bCount), Factor(bCount, k % bCount), ref grids[k], ref ranges[k]);
        int coarseBest = CoarseBest(scorer, grids, ranges, sample, coarseSample, out double? bestError);
        if (coarseBest >= 0) (bestA, bestB) = (Factor(aCount, coarseBest / bCount), Factor(bCount, coarseBest % bCount));
        double step = 1.0 / 32;
        for (int round = 0; round < 2; round++)
        {
            double centerA = bestA, centerB = bestB;
            step /= 4;
            // The whole round's grids are scored at once: most are ruled out by bounds, the rest scored exactly.
            var factors = new List<(double A, double B)>();
            for (int i = -8; i <= 8; i++)
                for (int j = -8; j <= 8; j++)
                {
                    double a = low < 0 ? centerA + i * step : 1, b = high > 0 ? centerB + j * step : 1;
                    if (a > 0 && b > 0) factors.Add((a, b));
                }
            var roundGrids = new Grid<T>?[factors.Count];
            var roundRanges = new (double Min, double Max)[factors.Count];
            for (int k = 0; k < factors.Count; k++) GridOf(factors[k].A, factors[k].B, ref roundGrids[k], ref roundRanges[k]);
            // The centre is one of the round's grids (i = j = 0), scored with them rather than first on its own: it stays
            // unless a grid's error is below its own, and then the first grid of the least error is taken. A grid of the
            // least error is always scored exactly (only grids above the least get a bound), so the centre stays exactly
            // when its entry is the least, as scanning from the centre's own error gives.
            // The centre's exact error on the sample, where the scan before has it (its least, scored exactly: the same
            // grid, so the same value), is its entry, not scored again.
            int center = factors.IndexOf((centerA, centerB));
            best = center < 0 ? bestError ?? Score(sample, centerA, centerB) : double.PositiveInfinity;
            var errors = scorer.ScoreMany(roundGrids, roundRanges, sample, best,
                                          center >= 0 && bestError is { } known ? (center, known) : null);
            int bestIndex = -1;
            for (int k = 0; k < factors.Count; k++)
            {
                if (errors[k] < best) { best = errors[k]; bestIndex = k; }
            }
            if (bestIndex >= 0 && !(center >= 0 && errors[center] == best)) (bestA, bestB) = factors[bestIndex];
            // The least is the exact error of the grid kept (the centre's where it ties), none where every grid is null.
            bestError = double.IsFinite(best) && scorer.Options.ReuseLeastError ? best : null;
        }
        return NonDegenerate(AsFloat(low * bestA), AsFloat(high * bestB));
    }

    /// <summary>The integer grid of the uniform range (min, max) (each rounded to float32 first) as a quantizer of it holds it; false where there is none.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool UniformGrid(double rangeMin, double rangeMax, int numBits, bool weights, out float scale, out int zero, out float adjustedMin, out float adjustedMax)
    {
        float min = (float)rangeMin, max = (float)rangeMax;
        (scale, zero, adjustedMin, adjustedMax) = (0, 0, 0, 0);
        if (!(min < max)) return false;
        (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(min, max, numBits);
        (scale, zero) = weights ? RangeMath.UniformWeightsGrid(adjustedMin, adjustedMax, numBits) : RangeMath.UniformActivationGrid(adjustedMin, adjustedMax, numBits);
        return scale > 0 && float.IsFinite(scale);
    }

    /// <summary>
    /// The coarse scan's choice among <paramref name="grids"/> (null: none): the index of the least error, the first of
    /// equals, or -1 when none is below +∞. Squared errors on many values (<see cref="ChannelScorer{T}.CoarseOnAll"/>)
    /// are scored on all of <paramref name="sample"/>, bounded first (the histogram the fine rounds use) and only those
    /// the bounds leave open exactly, so a small sample's noise picks no dip; else every grid exactly on
    /// <paramref name="coarseSample"/>. Either way in <see cref="ChannelScorer{T}.ScoreMany"/>'s batches (many grids a
    /// pass over the values, each grid's error as <see cref="ChannelScorer{T}.Score(in Grid{T}, double, double, T[])"/>
    /// gives it alone): the same choice as scoring the grids one by one.
    /// </summary>
    internal static int CoarseBest<T>(ChannelScorer<T> scorer, IReadOnlyList<Grid<T>?> grids, IReadOnlyList<(double Min, double Max)> ranges, T[] sample, T[] coarseSample)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> =>
        CoarseBest(scorer, grids, ranges, sample, coarseSample, out _);

    /// <summary>
    /// The same, and the chosen grid's exact error on <paramref name="sample"/> where it was scored on all of it (the
    /// least of a scan is always scored exactly), for the fine round that starts from it; else null.
    /// </summary>
    internal static int CoarseBest<T>(ChannelScorer<T> scorer, IReadOnlyList<Grid<T>?> grids, IReadOnlyList<(double Min, double Max)> ranges, T[] sample, T[] coarseSample,
                                      out double? error)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        bool onAll = scorer.CoarseOnAll(sample);
        var errors = scorer.ScoreMany(grids, ranges, onAll ? sample : coarseSample, double.PositiveInfinity);
        int bestIndex = -1;
        double best = double.PositiveInfinity;
        for (int k = 0; k < errors.Length; k++)
            if (errors[k] < best) { best = errors[k]; bestIndex = k; }
        error = onAll && bestIndex >= 0 && scorer.Options.ReuseLeastError ? best : null;
        return bestIndex;
    }

    private static (double Min, double Max) NonDegenerate(double min, double max)
    {
        if ((float)min < (float)max) return (AsFloat(min), AsFloat(max));
        // A constant channel: a range that holds the value and zero.
        return min > 0 ? (0, AsFloat(min)) : min < 0 ? (AsFloat(min), 0) : (0, 1);
    }

    // ---- helpers ----

    private static double AsFloat(double value) => (float)value;

    private static int CeilLog2(double value)
    {
        int e = Math.ILogB(value);
        return Math.ScaleB(1.0, e) < value ? e + 1 : e;
    }

    /// <summary>The Percentile of |x|, or max|x| where that percentile is 0 (mostly zeros): a threshold must be positive.</summary>
    private static double PercentileOrMax<T>(ChannelScorer<T> scorer, double maxAbs) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        double cover = Percentiles.OfMagnitude<T>(scorer.Values, scorer.Options.Percentile);
        return (float)cover > 0 ? cover : maxAbs;
    }
}
