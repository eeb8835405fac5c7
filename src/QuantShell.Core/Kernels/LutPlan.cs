using System.Numerics;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Kernels;

/// <summary>
/// The plan of a <see cref="LutQuantizer"/>: one table shared by every channel, one threshold per tensor or per channel.
/// The divisor <c>d = t + eps</c> is computed as MCT computes it: weights <c>float32(t) + float32(eps)</c> in float32;
/// activations <c>t + eps</c> in float64, then rounded to the input's precision.
/// </summary>
public sealed class LutPlan : QuantizationPlan
{
    // As GridPlan: short channel runs use per-lane tables, long ones broadcast constants.
    private const int MaxTablePeriod = 1 << 16;
    private const long MinRunForBroadcast = 64;

    private readonly QuantizerSpec _spec;
    private readonly double[] _thresholds;
    private ChannelConstants<float>? _float;
    private ChannelConstants<double>? _double;

    private LutPlan(QuantizerSpec spec, LutLevels table, IReadOnlyList<long> shape, int? channelAxis) : base(shape, channelAxis)
    {
        _spec = spec;
        Table = table;
        _thresholds = spec.Threshold!.ToArray();
    }

    /// <summary>The table: distinct entries, levels, the LUT's scale and clamp range.</summary>
    public LutLevels Table { get; }

    public override void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, long firstIndex, ref KernelStats stats)
    {
        var constants = Constants<T>();
        var decision = Table.Decision<T>();
        if (Channels == 1)
        {
            LutKernel.Apply(source, destination, decision, constants.Divisors[0], constants.Thresholds[0], ref stats);
            return;
        }
        long period = Channels * Inner;
        if (Inner < MinRunForBroadcast && period <= MaxTablePeriod)
        {
            LutKernel.ApplyPeriodic(source, destination, decision, constants.Periodic(this, (int)period), (int)(firstIndex % period), ref stats);
            return;
        }
        int position = 0;
        while (position < source.Length)
        {
            long index = firstIndex + position;
            int run = (int)Math.Min(Inner - index % Inner, source.Length - position);
            int channel = ChannelOf(index);
            LutKernel.Apply(source.Slice(position, run), destination.Slice(position, run), decision,
                            constants.Divisors[channel], constants.Thresholds[channel], ref stats);
            position += run;
        }
    }

    /// <summary>
    /// The code of an element is the index, in the table as listed, of the entry it lands on (its first listing when an
    /// entry is listed twice), so <c>lut[code] * (t / k)</c> in float32 is the fake-quantized value. ±infinity lands on
    /// an end of the table; NaN has no code.
    /// </summary>
    public override void Encode<T>(ReadOnlySpan<T> source, Span<int> codes, long firstIndex)
    {
        var constants = Constants<T>();
        var decision = Table.Decision<T>();
        for (int i = 0; i < source.Length; i++)
        {
            T v = LutKernel.Scaled(source[i], constants.Divisors[ChannelOf(firstIndex + i)], decision);
            v = T.Clamp(v, decision.Low, decision.High);
            codes[i] = Table.FirstListed[decision.IndexOf(v)];
        }
    }

    public override void Decode<T>(ReadOnlySpan<int> codes, Span<T> destination, long firstIndex)
    {
        var constants = Constants<T>();
        var decision = Table.Decision<T>();
        var levelOfListed = _levelOfListed ??= ListedLevels();
        for (int i = 0; i < codes.Length; i++)
            destination[i] = LutKernel.ToFloat32(decision.Levels[levelOfListed[codes[i]]] * constants.Thresholds[ChannelOf(firstIndex + i)]);
    }

    /// <summary>Codes index the table as listed: 0 .. entries - 1.</summary>
    public override (int Min, int Max) CodeRange => (0, _spec.LutValues!.Count - 1);

    // For each entry as listed, its level (index among the distinct sorted entries).
    private int[]? _levelOfListed;

    private int[] ListedLevels()
    {
        var listed = _spec.LutValues!;
        var levels = new int[listed.Count];
        for (int i = 0; i < listed.Count; i++)
        {
            int level = 0;
            while (Table.Values[level] != listed[i]) level++;
            levels[i] = level;
        }
        return levels;
    }

    /// <summary>The distinct table entries: each is one level.</summary>
    public override int LevelCount => Table.Count;

    /// <summary>Levels are the table's entries in ascending order; clipped means the scaled value lay beyond the table's extreme entries.</summary>
    public override void Classify<T>(ReadOnlySpan<T> source, long firstIndex, Span<T> output, Span<int> level, Span<bool> clipped)
    {
        var constants = Constants<T>();
        var decision = Table.Decision<T>();
        T lowest = T.CreateChecked(Table.Values[0]), highest = T.CreateChecked(Table.Values[^1]);
        for (int i = 0; i < source.Length; i++)
        {
            T x = source[i];
            int channel = ChannelOf(firstIndex + i);
            T divisor = constants.Divisors[channel], threshold = constants.Thresholds[channel];
            output[i] = LutKernel.Quantize(x, divisor, threshold, decision);
            if (!T.IsFinite(x))
            {
                level[i] = -1;
                clipped[i] = false;
                continue;
            }
            T scaled = LutKernel.Scaled(x, divisor, decision);
            T v = T.Clamp(scaled, decision.Low, decision.High);
            level[i] = decision.IndexOf(v);
            clipped[i] = scaled < lowest || scaled > highest;
        }
    }

    public override double[] LevelValues(int channel)
    {
        float threshold = (float)_thresholds[channel];
        return Table.Levels.Select(level => (double)(level * threshold)).ToArray();
    }

    public override (double Min, double Max) RangeOf(int channel)
    {
        var levels = LevelValues(channel);
        return (levels[0], levels[^1]);
    }

    /// <summary>The step of the LUT's integer range, t / 2^(B - signed).</summary>
    public override double ScaleOf(int channel) => (float)_thresholds[channel] / Table.Scale;

    public override int ZeroPointOf(int channel) => 0;

    /// <summary>The divisor d = t + eps of each channel in the element type, as MCT computes it.</summary>
    public T DivisorOf<T>(int channel) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> => Constants<T>().Divisors[channel];

    private ChannelConstants<T> Constants<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (typeof(T) == typeof(float)) return (ChannelConstants<T>)(object)(_float ??= new ChannelConstants<float>(_spec, _thresholds));
        if (typeof(T) == typeof(double)) return (ChannelConstants<T>)(object)(_double ??= new ChannelConstants<double>(_spec, _thresholds));
        throw new NotSupportedException($"Element type {typeof(T).Name} is computed as float32.");
    }

    /// <summary>Checks a spec against a shape (input rank, channel count) and builds the plan.</summary>
    internal static LutPlan Create(QuantizerSpec spec, LutLevels table, IReadOnlyList<long> shape) =>
        new(spec, table, shape, spec.ResolveChannels(shape, spec.Threshold!.Count));

    /// <summary>Per channel, in the element type: the divisor t + eps and the threshold (a float32 value).</summary>
    private sealed class ChannelConstants<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private PeriodicLutChannels<T>? _periodic;

        public ChannelConstants(QuantizerSpec spec, double[] thresholds)
        {
            double eps = spec.EffectiveEps;
            bool weights = spec.Target == QuantizationTarget.Weights;
            Divisors = thresholds.Select(t => weights
                ? T.CreateChecked((float)t + (float)eps)   // a float32 tensor plus a Python float: float32 arithmetic
                : T.CreateChecked(t + eps)).ToArray();     // a Python float sum, then the input's precision
            Thresholds = thresholds.Select(t => T.CreateChecked((float)t)).ToArray();
        }

        public T[] Divisors { get; }
        public T[] Thresholds { get; }

        public PeriodicLutChannels<T> Periodic(LutPlan plan, int period)
        {
            if (_periodic is not null) return _periodic;
            var divisors = new T[period];
            var thresholds = new T[period];
            for (int k = 0; k < period; k++)
            {
                divisors[k] = Divisors[plan.ChannelOf(k)];
                thresholds[k] = Thresholds[plan.ChannelOf(k)];
            }
            return _periodic = new PeriodicLutChannels<T>(divisors, thresholds);
        }
    }
}
