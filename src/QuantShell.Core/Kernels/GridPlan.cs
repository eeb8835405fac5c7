using System.Numerics;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Kernels;

/// <summary>The plan of a <see cref="GridQuantizer"/>: one (scale, zero point) grid per tensor or per channel.</summary>
public sealed class GridPlan : QuantizationPlan
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

    private GridPlan(QuantizationParameters parameters, IReadOnlyList<long> shape, int? channelAxis, int? groupSize) : base(shape, channelAxis, groupSize)
    {
        _parameters = parameters;
    }

    public QuantizationParameters Parameters => _parameters;

    public override void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, long firstIndex, ref KernelStats stats)
    {
        var grids = Grids<T>();
        if (Channels == 1)
        {
            FakeQuantizeKernel.Apply(source, destination, grids[0], ref stats);
            return;
        }
        long period = OutputChannels * Inner;
        if (RunLength < MinRunForBroadcast && period <= MaxTablePeriod)
        {
            FakeQuantizeKernel.ApplyPeriodic(source, destination, Table<T>(grids, (int)period), (int)(firstIndex % period), ref stats);
            return;
        }
        int position = 0;
        while (position < source.Length)
        {
            long index = firstIndex + position;
            int run = (int)Math.Min(RunFrom(index), source.Length - position);
            FakeQuantizeKernel.Apply(source.Slice(position, run), destination.Slice(position, run), grids[ChannelOf(index)], ref stats);
            position += run;
        }
    }

    /// <summary>
    /// Whether <see cref="Apply{T}"/> of a float32 plan with these dimensions (<see cref="QuantizationPlan.ElementCount"/>,
    /// <see cref="QuantizationPlan.Channels"/>, <see cref="QuantizationPlan.RunLength"/>, OutputChannels x Inner) quantizes each run (a channel's inner
    /// block, or a group) with <see cref="FakeQuantizeKernel.Apply{T}"/> on its own grid, in order, every call shorter than
    /// <see cref="FakeQuantizeKernel.NonTemporalBytes"/>: then its error sums are those of <see cref="FakeQuantizeKernel.ApplyCodes"/>.
    /// </summary>
    internal static bool AppliesRunByRunFloat(long elementCount, long channels, long runLength, long period) =>
        (channels == 1 ? elementCount : runLength) * sizeof(float) < FakeQuantizeKernel.NonTemporalBytes
        && (channels == 1 || !(runLength < MinRunForBroadcast && period <= MaxTablePeriod));

    public override void Encode<T>(ReadOnlySpan<T> source, Span<int> codes, long firstIndex)
    {
        var grids = Grids<T>();
        // Run by run (a channel's inner block, or a group): one grid each, no index arithmetic per element.
        int position = 0;
        while (position < source.Length)
        {
            long index = firstIndex + position;
            int run = Channels == 1 ? source.Length : (int)Math.Min(RunFrom(index), source.Length - position);
            var grid = grids[ChannelOf(index)];
            for (int i = position; i < position + run; i++)
            {
                FakeQuantizeKernel.Quantize(source[i], grid, out T code, out _);
                codes[i] = int.CreateSaturating(code);
            }
            position += run;
        }
    }

    public override void Decode<T>(ReadOnlySpan<int> codes, Span<T> destination, long firstIndex)
    {
        var grids = Grids<T>();
        for (int i = 0; i < codes.Length; i++)
        {
            var grid = grids[ChannelOf(firstIndex + i)];
            destination[i] = (T.CreateChecked(codes[i]) - grid.ZeroPoint) * grid.Scale;
        }
    }

    public override (int Min, int Max) CodeRange => (_parameters.QuantMin, _parameters.QuantMax);

    public override int LevelCount => _parameters.QuantMax - _parameters.QuantMin + 1;

    public override void Classify<T>(ReadOnlySpan<T> source, long firstIndex, Span<T> output, Span<int> level, Span<bool> clipped)
    {
        var grids = Grids<T>();
        for (int i = 0; i < source.Length; i++)
        {
            T x = source[i];
            output[i] = FakeQuantizeKernel.Quantize(x, grids[ChannelOf(firstIndex + i)], out T code, out bool clamped);
            bool finite = T.IsFinite(x);
            level[i] = finite ? int.CreateTruncating(code) - _parameters.QuantMin : -1;
            clipped[i] = finite && clamped;
        }
    }

    public override double[] LevelValues(int channel)
    {
        var values = new double[LevelCount];
        for (int q = _parameters.QuantMin; q <= _parameters.QuantMax; q++)
            values[q - _parameters.QuantMin] = (q - _parameters.ZeroPoints[channel]) * (double)_parameters.Scales[channel];
        return values;
    }

    public override (double Min, double Max) RangeOf(int channel) =>
        ((_parameters.QuantMin - _parameters.ZeroPoints[channel]) * (double)_parameters.Scales[channel],
         (_parameters.QuantMax - _parameters.ZeroPoints[channel]) * (double)_parameters.Scales[channel]);

    public override double ScaleOf(int channel) => _parameters.Scales[channel];

    public override int ZeroPointOf(int channel) => _parameters.ZeroPoints[channel];

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
    internal static GridPlan Create(QuantizerSpec spec, QuantizationParameters parameters, IReadOnlyList<long> shape) =>
        new(parameters, shape, spec.ResolveChannels(shape, parameters.Count), spec.GroupSize);
}
