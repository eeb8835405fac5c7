using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Selection;

/// <summary>
/// A weight's values chosen from blocks of its channels taken one after the other (whole channels, in order, the
/// buffers reused), with exactly the values <see cref="ParameterSelector"/> chooses from the whole tensor:
/// <list type="bullet">
/// <item>no clipping (per channel or per tensor): each channel's choice depends only on the least and greatest of its
/// finite values (the first of them where zeros of both signs tie), so it is made from those (<see cref="CompleteFromExtremes"/>);</item>
/// <item>POT, any search, and the optimal search's scans of a tensor too large for MCT's choice to be a candidate
/// (<see cref="ParameterSelector.MctCandidateUpTo"/>): each channel's choice is its own, made from the block's channels;</item>
/// <item>MCT's symmetric and uniform searches per channel: each block searched with every iteration recorded, and the
/// records joined where MCT's early stop looks at all channels (<see cref="SearchRecord{TParam}"/>).</item>
/// </list>
/// Where something MCT decides across channels cannot be joined (a channel with no finite value, blocks that disagree
/// on float32 errors), <see cref="TryAdd"/> or <see cref="Complete"/> gives up and the caller chooses from the whole tensor.
/// </summary>
internal sealed class ChannelBlockSelection<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    private enum Mode { Extremes, PerBlock, MctSearch, Sampled }

    private readonly QuantizerSpec _incomplete;
    private readonly SelectionOptions _options;
    private readonly IReadOnlyList<long> _shape;
    private readonly int? _axis;
    private readonly long _channelCount;
    private readonly Mode _mode;
    private readonly List<QuantizerSpec> _blockSpecs = [];
    private readonly List<SearchRecord<double>> _thresholdRecords = [];
    private readonly List<SearchRecord<(double Min, double Max)>> _rangeRecords = [];
    private readonly List<T[]> _extremes = [];
    private long _channelsTaken;

    private ChannelBlockSelection(QuantizerSpec incomplete, SelectionOptions options, IReadOnlyList<long> shape, int? axis, Mode mode)
    {
        _incomplete = incomplete;
        _options = options;
        _shape = shape;
        _axis = axis;
        _channelCount = axis is int a ? shape[a] : 1;
        _mode = mode;
    }

    /// <summary>
    /// A selection for a weights tensor of <paramref name="shape"/> whose channels lie along <paramref name="axis"/> (null:
    /// per tensor), or null where values cannot be chosen block by block (LUT tables, groups, activations, percentile, the
    /// optimal search's symmetric and uniform scans of a small tensor, where MCT's choice, searched across channels, is a
    /// candidate).
    /// </summary>
    public static ChannelBlockSelection<T>? For(QuantizerSpec incomplete, SelectionOptions options, IReadOnlyList<long> shape, int? axis)
    {
        if (incomplete.Target != QuantizationTarget.Weights || incomplete.IsLut || incomplete.GroupSize is not null || incomplete.PerChannel != axis.HasValue)
            return null;
        if (options.ErrorMethod == ErrorMethod.NoClipping)
            return new(incomplete, options, shape, axis, Mode.Extremes);
        // The optimal search per tensor, of a large tensor: its extremes and strided samples, gathered as the file is read.
        if (!incomplete.PerChannel)
            return ParameterSelector.SampledApplies(incomplete, options, shape.Aggregate(1L, (x, y) => x * y)) ? new(incomplete, options, shape, axis, Mode.Sampled) : null;
        if (options.ErrorMethod == ErrorMethod.Percentile) return null;
        if (incomplete.Method == QuantizationMethod.Pot) return new(incomplete, options, shape, axis, Mode.PerBlock);
        if (options.Search == SelectionSearch.Mct) return new(incomplete, options, shape, axis, Mode.MctSearch);
        // The optimal search of a large tensor: each channel's scans are its own (MCT's choice, whose search looks across
        // channels, is not a candidate there).
        if (!ParameterSelector.MctIsCandidate(shape.Aggregate(1L, (x, y) => x * y))) return new(incomplete, options, shape, axis, Mode.PerBlock);
        return null;
    }

    /// <summary>
    /// Whether each block's values are final once it is taken (<see cref="BlockSpec"/>): no search spans the blocks. So
    /// with no clipping per channel too (each channel's values from its own extremes, found in the block).
    /// </summary>
    public bool FinalPerBlock => _mode == Mode.PerBlock || _mode == Mode.Extremes && _axis is not null;

    /// <summary>
    /// Whether the values depend only on each channel's least and greatest finite values (no clipping): then they come
    /// from <see cref="CompleteFromExtremes"/>, not from blocks.
    /// </summary>
    public bool FromExtremes => _mode == Mode.Extremes;

    /// <summary>
    /// The complete spec from each channel's least and greatest finite values (<see cref="Extremes(ReadOnlySpan{T})"/>, joined in order by
    /// <see cref="JoinExtremes"/>); null where a channel has no finite value (MCT's choice then depends on all channels).
    /// </summary>
    public QuantizerSpec? CompleteFromExtremes(T[]?[] extremes)
    {
        if (_mode != Mode.Extremes || extremes.Length != _channelCount || extremes.Any(e => e is null)) return null;
        try
        {
            return ParameterSelector.SelectWeightChannels(_incomplete, extremes!, _axis, _shape, _options);
        }
        catch (Errors.QuantShellException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether the values depend only on the tensor's extremes and evenly strided samples (the optimal search per tensor):
    /// then they come from <see cref="CompleteFromSample"/> of a <see cref="NewSample"/> given every value in order.
    /// </summary>
    public bool FromSample => _mode == Mode.Sampled;

    /// <summary>An empty sample of the tensor, to be given every value in order (<see cref="FromSample"/>).</summary>
    public TensorSample<T> NewSample() => _mode == Mode.Sampled
        ? new TensorSample<T>(TensorValues, ChannelScorer<T>.SampleLimits(_options))
        : throw new InvalidOperationException("These values are not chosen from a sample.");

    /// <summary>The complete spec from the tensor's sample; null where the whole tensor's path must decide (no finite value, an error).</summary>
    public QuantizerSpec? CompleteFromSample(TensorSample<T> sample)
    {
        if (_mode != Mode.Sampled || !sample.Complete || sample.Length != TensorValues) return null;
        try
        {
            return ParameterSelector.SelectSampled(_incomplete, sample, _options);
        }
        catch (Errors.QuantShellException)
        {
            return null;
        }
    }

    /// <summary>
    /// The extremes of values in order from those of an earlier part (<paramref name="earlier"/>, null when it had no
    /// finite value) and of the part after it: an earlier value wins a tie, as in a scan.
    /// </summary>
    public static T[]? JoinExtremes(T[]? earlier, T[]? later)
    {
        if (earlier is null || later is null) return earlier ?? later;
        if (later[0] < earlier[0]) earlier[0] = later[0];
        if (later[1] > earlier[1]) earlier[1] = later[1];
        return earlier;
    }

    /// <summary>After <see cref="TryAdd"/> where <see cref="FinalPerBlock"/>: the complete spec of the block's channels alone.</summary>
    public QuantizerSpec? BlockSpec { get; private set; }

    /// <summary>
    /// Takes the next block of channels (per tensor: the next part of its values, in order). False when the values must
    /// be chosen from the whole tensor instead.
    /// </summary>
    public bool TryAdd(T[][] block)
    {
        BlockSpec = null;
        try
        {
            switch (_mode)
            {
                case Mode.Extremes:
                {
                    // Per channel each block's channels from their own extremes (per tensor: CompleteFromExtremes).
                    if (_axis is null) throw new InvalidOperationException("No clipping per tensor is chosen from the tensor's extremes (CompleteFromExtremes).");
                    if (BlockExtremes(block) is not { } extremes) return false;
                    AddBlockExtremes(extremes);
                    break;
                }
                case Mode.Sampled:
                    throw new InvalidOperationException("The optimal search per tensor is chosen from a sample (CompleteFromSample).");
                case Mode.PerBlock:
                {
                    if (!AllHaveFinite(block)) return false;
                    var spec = ParameterSelector.SelectWeightChannels(_incomplete, block, _axis, BlockShape(block.Length), _options, TensorValues);
                    _blockSpecs.Add(spec);
                    BlockSpec = spec;
                    break;
                }
                default:
                {
                    if (ScanBlock(block) is not { } scan) return false;
                    SearchBlock(block, scan);
                    break;
                }
            }
        }
        catch (Errors.QuantShellException)
        {
            return false; // the whole tensor's choice gives the error, named as it names it
        }
        _channelsTaken += block.Length;
        return true;
    }

    /// <summary>
    /// No clipping per channel: takes the next block of channels by their least and greatest finite values (each
    /// <see cref="Extremes(ReadOnlySpan{T})"/> of a channel, or its parts' joined by <see cref="JoinExtremes"/>; null where
    /// a channel has none), as <see cref="TryAdd"/> takes the block itself. False when the values must be chosen from the
    /// whole tensor instead.
    /// </summary>
    public bool TryAddExtremes(T[]?[] extremes)
    {
        BlockSpec = null;
        if (_mode != Mode.Extremes || _axis is null) throw new InvalidOperationException("Only no clipping per channel is chosen from each block's extremes.");
        if (extremes.Any(e => e is null)) return false;
        try
        {
            AddBlockExtremes(extremes.Select(e => e!).ToArray());
        }
        catch (Errors.QuantShellException)
        {
            return false; // the whole tensor's choice gives the error, named as it names it
        }
        _channelsTaken += extremes.Length;
        return true;
    }

    private void AddBlockExtremes(T[][] extremes)
    {
        var spec = ParameterSelector.SelectWeightChannels(_incomplete, extremes, _axis, BlockShape(extremes.Length), _options, TensorValues);
        _extremes.AddRange(extremes);
        _blockSpecs.Add(spec);
        BlockSpec = spec;
    }

    /// <summary>The complete spec once every channel is taken; null when the values must be chosen from the whole tensor.</summary>
    public QuantizerSpec? Complete()
    {
        if (_axis is not null && _channelsTaken != _channelCount) return null;
        try
        {
            switch (_mode)
            {
                case Mode.Extremes:
                    return _axis is null ? null : FromBlocksExtremes();
                case Mode.Sampled:
                    return null;
                case Mode.PerBlock:
                    return Joined(_blockSpecs);
                default:
                {
                    var along = _incomplete with { ChannelAxis = _incomplete.ChannelAxis ?? _axis };
                    bool signed = _incomplete.Signed ?? true;
                    MctChoice choice;
                    if (_incomplete.Method == QuantizationMethod.Uniform)
                    {
                        if (SearchRecord<(double Min, double Max)>.Join(_rangeRecords) is not { } ranges) return null;
                        choice = new MctChoice { Ranges = MctWeightsSelection.UniformResult(ranges) };
                    }
                    else
                    {
                        if (SearchRecord<double>.Join(_thresholdRecords) is not { } thresholds) return null;
                        choice = new MctChoice { Thresholds = MctWeightsSelection.SymmetricResult(thresholds, perChannel: true), Signed = signed };
                    }
                    return ParameterSelector.FromMct(along, choice);
                }
            }
        }
        catch (Errors.QuantShellException)
        {
            return null;
        }
    }

    private void SearchBlock(T[][] block, (Mct.ChannelExtremes<T> Extremes, bool AllFinite) scan)
    {
        // The scan's extremes are the values' own when every value is finite; else MCT's search sees the finite ones.
        var values = scan.AllFinite ? block : block.Select(MctSelection.Finite).ToArray();
        var extremes = scan.AllFinite ? scan.Extremes : null;
        int numBits = _incomplete.NumBits;
        bool sequential = Mct.TensorErrors<T>.SequentialRows(_shape, _axis!.Value);
        int channels = checked((int)_channelCount);
        if (_incomplete.Method == QuantizationMethod.Uniform)
        {
            var record = new SearchRecord<(double Min, double Max)>();
            MctWeightsSelection.UniformRanges(values, numBits, true, _options.ErrorMethod, _options.P, sequential, _options.BoundedSearchFrom, record, channels, extremes);
            _rangeRecords.Add(record);
        }
        else
        {
            var record = new SearchRecord<double>();
            MctWeightsSelection.SymmetricThresholds(values, numBits, _incomplete.Signed ?? true, true, _options.ErrorMethod, _options.P, sequential,
                                                    _options.BoundedSearchFrom, record, channels, extremes);
            _thresholdRecords.Add(record);
        }
    }

    /// <summary>
    /// No clipping per channel, once every block is taken: the spec of all channels' extremes (<see cref="CompleteFromExtremes"/>,
    /// what the two passes give), and null unless the blocks' specs, joined, hold the same values (each channel's values its
    /// own, as the blocks were quantized with).
    /// </summary>
    private QuantizerSpec? FromBlocksExtremes()
    {
        if (CompleteFromExtremes(_extremes.ToArray()) is not { } spec || Joined(_blockSpecs) is not { } joined) return null;
        return spec.Signed == joined.Signed && SameBits(spec.Threshold, joined.Threshold) && SameBits(spec.MinRange, joined.MinRange) && SameBits(spec.MaxRange, joined.MaxRange) ? spec : null;
    }

    private static bool SameBits(IReadOnlyList<double>? first, IReadOnlyList<double>? second) =>
        first is null ? second is null : second is not null && first.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(second.Select(BitConverter.DoubleToInt64Bits));

    private QuantizerSpec? Joined(List<QuantizerSpec> blocks)
    {
        if (blocks.Count == 0) return null;
        var first = blocks[0];
        var spec = first.Method == QuantizationMethod.Uniform
            ? first with { MinRange = blocks.SelectMany(b => b.MinRange!).ToArray(), MaxRange = blocks.SelectMany(b => b.MaxRange!).ToArray() }
            : first with { Threshold = blocks.SelectMany(b => b.Threshold!).ToArray() };
        spec.Validate();
        return spec;
    }

    private long TensorValues => _shape.Aggregate(1L, (x, y) => x * y);

    private long[] BlockShape(int channels)
    {
        var shape = _shape.ToArray();
        shape[_axis!.Value] = channels;
        return shape;
    }

    private static bool AllHaveFinite(T[][] block) => ScanBlock(block) is not null;

    /// <summary>Each channel's least and greatest finite values (<see cref="Extremes(ReadOnlySpan{T})"/>), or null when a channel has none.</summary>
    private static T[][]? BlockExtremes(T[][] block)
    {
        var extremes = new T[]?[block.Length];
        if (block.Length == 1) extremes[0] = Extremes(block[0]);
        else Parallel.For(0, block.Length, c => extremes[c] = Extremes(block[c]));
        return extremes.Any(e => e is null) ? null : extremes.Select(e => e!).ToArray();
    }

    /// <summary>
    /// Each channel's least and greatest finite values (<see cref="Extremes(ReadOnlySpan{T}, out bool)"/>) and whether
    /// every value of the block is finite; null when a channel has no finite value.
    /// </summary>
    private static (Mct.ChannelExtremes<T> Extremes, bool AllFinite)? ScanBlock(T[][] block)
    {
        var mins = new T[block.Length];
        var maxs = new T[block.Length];
        var has = new bool[block.Length];
        var finite = new bool[block.Length];
        Parallel.For(0, block.Length, c =>
        {
            var extremes = Extremes(block[c], out finite[c]);
            has[c] = extremes is not null;
            if (extremes is not null) (mins[c], maxs[c]) = (extremes[0], extremes[1]);
        });
        if (!has.All(h => h)) return null;
        return (new Mct.ChannelExtremes<T>(mins, maxs), finite.All(f => f));
    }

    /// <summary>
    /// The least and greatest finite values as a scan in order finds them (the first of equal ones: a zero's sign is that
    /// of the first zero), or null when no value is finite.
    /// </summary>
    internal static T[]? Extremes(ReadOnlySpan<T> values) => Extremes(values, out _);

    /// <summary><see cref="Extremes(ReadOnlySpan{T})"/>, and whether every value is finite.</summary>
    internal static T[]? Extremes(ReadOnlySpan<T> values, out bool allFinite)
    {
        T min = T.PositiveInfinity, max = T.NegativeInfinity;
        allFinite = true;
        int i = 0;
        if (Vector256.IsHardwareAccelerated && values.Length >= 4 * Vector256<T>.Count && FiniteExtremes(values, out var lowest, out var highest))
        {
            // Every value finite: the plain extremes (which zero, -0 or +0, is settled below).
            for (int k = 0; k < Vector256<T>.Count; k++)
            {
                if (lowest[k] < min) min = lowest[k];
                if (highest[k] > max) max = highest[k];
            }
            i = values.Length - values.Length % (2 * Vector256<T>.Count);
        }
        else if (Vector256.IsHardwareAccelerated && values.Length >= 4 * Vector256<T>.Count)
        {
            // Non-finite values are masked to the identity of each reduction; zeros' signs are settled below. Two sets of
            // accumulators, so that the loads are not waiting on one min/max chain.
            var positive = Vector256.Create(T.PositiveInfinity);
            var negative = Vector256.Create(T.NegativeInfinity);
            var limit = Vector256.Create(T.MaxValue);
            Vector256<T> min0 = positive, min1 = positive, max0 = negative, max1 = negative;
            var finite = Vector256<T>.AllBitsSet;
            ref T start = ref MemoryMarshal.GetReference(values);
            int width = Vector256<T>.Count;
            for (; i <= values.Length - 2 * width; i += 2 * width)
            {
                var x0 = Vector256.LoadUnsafe(ref start, (nuint)i);
                var x1 = Vector256.LoadUnsafe(ref start, (nuint)(i + width));
                var finite0 = Vector256.LessThanOrEqual(Vector256.Abs(x0), limit);
                var finite1 = Vector256.LessThanOrEqual(Vector256.Abs(x1), limit);
                min0 = Vector256.Min(min0, Vector256.ConditionalSelect(finite0, x0, positive));
                max0 = Vector256.Max(max0, Vector256.ConditionalSelect(finite0, x0, negative));
                min1 = Vector256.Min(min1, Vector256.ConditionalSelect(finite1, x1, positive));
                max1 = Vector256.Max(max1, Vector256.ConditionalSelect(finite1, x1, negative));
                finite &= finite0 & finite1;
            }
            allFinite = finite.AsByte() == Vector256<byte>.AllBitsSet;
            var vmin = Vector256.Min(min0, min1);
            var vmax = Vector256.Max(max0, max1);
            for (int k = 0; k < width; k++)
            {
                if (vmin[k] < min) min = vmin[k];
                if (vmax[k] > max) max = vmax[k];
            }
        }
        for (; i < values.Length; i++)
        {
            T x = values[i];
            if (!T.IsFinite(x))
            {
                allFinite = false;
                continue;
            }
            if (x < min) min = x;
            if (x > max) max = x;
        }
        if (T.IsPositiveInfinity(min)) return null;
        if (T.IsZero(min) || T.IsZero(max))
        {
            T firstZero = FirstZero(values);
            if (T.IsZero(min)) min = firstZero;
            if (T.IsZero(max)) max = firstZero;
        }
        return [min, max];
    }

    /// <summary>
    /// The lanes' least and greatest of the whole vectors of <paramref name="values"/> (two at a time; the rest is left to the
    /// caller) when every one of those values is finite (the min and max instructions, whose choice between -0 and +0, or
    /// with a NaN, is not IEEE's: the caller settles zeros, and a non-finite value is found again by the masked scan).
    /// </summary>
    private static bool FiniteExtremes(ReadOnlySpan<T> values, out Vector256<T> lowest, out Vector256<T> highest)
    {
        var limit = Vector256.Create(T.MaxValue);
        Vector256<T> min0 = Vector256.Create(T.PositiveInfinity), min1 = min0, max0 = Vector256.Create(T.NegativeInfinity), max1 = max0;
        var finite = Vector256<T>.AllBitsSet;
        ref T start = ref MemoryMarshal.GetReference(values);
        int width = Vector256<T>.Count;
        for (int i = 0; i <= values.Length - 2 * width; i += 2 * width)
        {
            var x0 = Vector256.LoadUnsafe(ref start, (nuint)i);
            var x1 = Vector256.LoadUnsafe(ref start, (nuint)(i + width));
            min0 = Vector256.MinNative(min0, x0);
            max0 = Vector256.MaxNative(max0, x0);
            min1 = Vector256.MinNative(min1, x1);
            max1 = Vector256.MaxNative(max1, x1);
            finite &= Vector256.LessThanOrEqual(Vector256.Abs(x0), limit) & Vector256.LessThanOrEqual(Vector256.Abs(x1), limit);
        }
        lowest = Vector256.MinNative(min0, min1);
        highest = Vector256.MaxNative(max0, max1);
        return finite.AsByte() == Vector256<byte>.AllBitsSet;
    }

    private static T FirstZero(ReadOnlySpan<T> values)
    {
        foreach (T x in values)
            if (T.IsZero(x)) return x;
        return T.Zero;
    }
}
