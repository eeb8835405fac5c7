using System.Numerics;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Kernels;

/// <summary>
/// A quantizer bound to one tensor shape: which grid every element (by its C-order flat index) uses. Built once per
/// tensor, then applied to the whole tensor or to consecutive chunks of it (streaming), with identical results.
/// </summary>
public sealed class QuantizationPlan
{
    // Per-channel layouts whose repeat period is at most this many elements use per-lane grid tables;
    // others quantize one channel run at a time with broadcast constants.
    private const int MaxTablePeriod = 1 << 16;
    private const long MinRunForBroadcast = 64;

    private readonly QuantizationParameters _parameters;
    private Grid<float>[]? _floatGrids;
    private Grid<double>[]? _doubleGrids;
    private object? _floatTable;
    private object? _doubleTable;

    internal QuantizationPlan(QuantizationParameters parameters, IReadOnlyList<long> shape, int? channelAxis)
    {
        _parameters = parameters;
        Shape = shape.ToArray();
        ElementCount = Shape.Aggregate(1L, (a, b) => checked(a * b));
        ChannelAxis = channelAxis;
        if (channelAxis is int axis)
        {
            Channels = (int)Shape[axis];
            Inner = 1;
            for (int d = axis + 1; d < Shape.Length; d++) Inner = checked(Inner * Shape[d]);
        }
        else
        {
            Channels = 1;
            Inner = Math.Max(1, ElementCount);
        }
    }

    public long[] Shape { get; }
    public long ElementCount { get; }

    /// <summary>The resolved (non-negative) channel axis, or null for a per-tensor quantizer.</summary>
    public int? ChannelAxis { get; }

    public int Channels { get; }

    /// <summary>Elements between consecutive channels in C order (product of the dimensions after the axis).</summary>
    public long Inner { get; }

    /// <summary>Index of the channel of the element at C-order flat index <paramref name="index"/>.</summary>
    public int ChannelOf(long index) => Channels == 1 ? 0 : (int)(index / Inner % Channels);

    /// <summary>Quantizes elements [firstIndex, firstIndex + source.Length) of the tensor.</summary>
    public void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, long firstIndex, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var grids = Grids<T>();
        if (Channels == 1)
        {
            FakeQuantizeKernel.Apply(source, destination, grids[0], ref stats);
            return;
        }
        long period = Channels * Inner;
        if (Inner < MinRunForBroadcast && period <= MaxTablePeriod)
        {
            FakeQuantizeKernel.ApplyPeriodic(source, destination, Table<T>(grids, (int)period), (int)(firstIndex % period), ref stats);
            return;
        }
        int position = 0;
        while (position < source.Length)
        {
            long index = firstIndex + position;
            int run = (int)Math.Min(Inner - index % Inner, source.Length - position);
            FakeQuantizeKernel.Apply(source.Slice(position, run), destination.Slice(position, run), grids[ChannelOf(index)], ref stats);
            position += run;
        }
    }

    /// <summary>The grid of each channel in the element type.</summary>
    public Grid<T>[] Grids<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (typeof(T) == typeof(float)) return (Grid<T>[])(object)(_floatGrids ??= BuildGrids<float>());
        if (typeof(T) == typeof(double)) return (Grid<T>[])(object)(_doubleGrids ??= BuildGrids<double>());
        throw new NotSupportedException($"Element type {typeof(T).Name} is computed as float32.");
    }

    private Grid<T>[] BuildGrids<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var grids = new Grid<T>[_parameters.Count];
        for (int c = 0; c < grids.Length; c++)
            grids[c] = new Grid<T>(_parameters.Scales[c], _parameters.ZeroPoints[c], _parameters.QuantMin, _parameters.QuantMax);
        return grids;
    }

    private PeriodicGrids<T> Table<T>(Grid<T>[] grids, int period) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        ref object? slot = ref (typeof(T) == typeof(float) ? ref _floatTable : ref _doubleTable);
        if (slot is PeriodicGrids<T> cached) return cached;
        var pattern = new Grid<T>[period];
        for (int k = 0; k < period; k++) pattern[k] = grids[ChannelOf(k)];
        var table = new PeriodicGrids<T>(pattern);
        slot = table;
        return table;
    }

    /// <summary>Checks a per-channel quantizer against a shape and builds the plan.</summary>
    internal static QuantizationPlan Create(QuantizerSpec spec, QuantizationParameters parameters, IReadOnlyList<long> shape)
    {
        if (!spec.PerChannel) return new QuantizationPlan(parameters, shape, null);
        int axis = spec.ResolveChannelAxis(shape.Count);
        if (shape[axis] != parameters.Count)
        {
            string name = spec.Method == QuantizationMethod.Uniform ? "MinRange/MaxRange" : "Threshold";
            string axisText = spec.ChannelAxis is null ? $"{axis} (the default axis {QuantizerSpec.DefaultChannelAxis})" : $"{spec.ChannelAxis}";
            throw new QuantizerValidationException(
                $"{name} has {parameters.Count} values but channel axis {axisText} of shape ({string.Join(", ", shape)}) has length {shape[axis]}; give one value per channel or choose another ChannelAxis.",
                spec.Method == QuantizationMethod.Uniform ? "MinRange" : "Threshold", "ChannelCountMismatch");
        }
        return new QuantizationPlan(parameters, shape, axis);
    }
}
