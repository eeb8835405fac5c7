using System.Numerics;

namespace QuantShell.Core.Kernels;

/// <summary>
/// A quantizer bound to one tensor shape: which parameters every element (by its C-order flat index) uses. Built once
/// per tensor, then applied to the whole tensor or to consecutive chunks of it (streaming), with identical results.
/// </summary>
public abstract class QuantizationPlan
{
    private protected QuantizationPlan(IReadOnlyList<long> shape, int? channelAxis, int? groupSize = null)
    {
        Shape = shape.ToArray();
        ElementCount = Shape.Aggregate(1L, (a, b) => checked(a * b));
        ChannelAxis = channelAxis;
        if (channelAxis is int axis)
        {
            OutputChannels = (int)Shape[axis];
            Inner = 1;
            for (int d = axis + 1; d < Shape.Length; d++) Inner = checked(Inner * Shape[d]);
        }
        else
        {
            OutputChannels = 1;
            Inner = Math.Max(1, ElementCount);
        }
        GroupSize = groupSize;
        if (groupSize is int g && channelAxis is not null)
        {
            LastLength = Shape[^1];
            GroupsPerChannel = (int)((LastLength + g - 1) / g);
        }
        else
        {
            LastLength = 1;
            GroupsPerChannel = 1;
        }
        Channels = checked(OutputChannels * GroupsPerChannel);
    }

    public long[] Shape { get; }
    public long ElementCount { get; }

    /// <summary>The resolved (non-negative) channel axis, or null for a per-tensor quantizer.</summary>
    public int? ChannelAxis { get; }

    /// <summary>
    /// The number of parameter sets (scale and zero point, or threshold): one per tensor, per channel, or per channel and
    /// group (channel-major: set c * <see cref="GroupsPerChannel"/> + g).
    /// </summary>
    public int Channels { get; }

    /// <summary>The length of the channel axis (1 per tensor).</summary>
    public int OutputChannels { get; }

    /// <summary>Group-wise: the number of input features (on the last axis) per group; null otherwise.</summary>
    public int? GroupSize { get; }

    /// <summary>Groups along the last axis of each channel (the last one ragged when the size does not divide); 1 without groups.</summary>
    public int GroupsPerChannel { get; }

    /// <summary>Group-wise: the length of the last axis.</summary>
    public long LastLength { get; }

    /// <summary>Elements between consecutive channels in C order (product of the dimensions after the axis).</summary>
    public long Inner { get; }

    /// <summary>Index of the parameter set of the element at C-order flat index <paramref name="index"/>.</summary>
    public int ChannelOf(long index)
    {
        if (Channels == 1) return 0;
        int channel = (int)(index / Inner % OutputChannels);
        return GroupSize is int g ? channel * GroupsPerChannel + (int)(index % LastLength / g) : channel;
    }

    /// <summary>How many elements from <paramref name="index"/> on share its parameter set (up to the end of its channel run or group).</summary>
    public long RunFrom(long index)
    {
        if (GroupSize is int g)
        {
            long within = index % LastLength;
            return Math.Min(g - within % g, LastLength - within);
        }
        return Inner - index % Inner;
    }

    /// <summary>The longest run of elements that share a parameter set (a channel's inner block, or a group).</summary>
    public long RunLength => GroupSize is int g ? Math.Min(g, LastLength) : Inner;

    /// <summary>Quantizes elements [firstIndex, firstIndex + source.Length) of the tensor into <paramref name="destination"/>.</summary>
    public abstract void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, long firstIndex, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>;

    /// <summary>
    /// The integer code of each element: an integer grid's <c>clamp(round(x * inv) + z, qmin, qmax)</c>, a table's index of
    /// the chosen entry. <see cref="Decode"/> of these codes gives exactly what <see cref="Apply"/> gives. Elements must be
    /// finite (NaN has no code).
    /// </summary>
    public abstract void Encode<T>(ReadOnlySpan<T> source, Span<int> codes, long firstIndex)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>;

    /// <summary>The values that codes stand for, in the element type (bit for bit what <see cref="Apply"/> writes).</summary>
    public abstract void Decode<T>(ReadOnlySpan<int> codes, Span<T> destination, long firstIndex)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>;

    /// <summary>The smallest and largest code <see cref="Encode"/> can give.</summary>
    public abstract (int Min, int Max) CodeRange { get; }

    /// <summary>How many output levels a channel has (an integer grid's qmax - qmin + 1, a table's entries).</summary>
    public abstract int LevelCount { get; }

    /// <summary>
    /// For measuring: the level (0 .. <see cref="LevelCount"/> - 1) each finite element lands on, its quantized value and
    /// whether it lay outside the representable range. Non-finite elements get level -1.
    /// </summary>
    public abstract void Classify<T>(ReadOnlySpan<T> source, long firstIndex, Span<T> output, Span<int> level, Span<bool> clipped)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>;

    /// <summary>The value each level of a channel stands for, in level order.</summary>
    public abstract double[] LevelValues(int channel);

    /// <summary>The representable range of a channel.</summary>
    public abstract (double Min, double Max) RangeOf(int channel);

    /// <summary>The step between levels of a channel (an integer grid's scale, a table's t / 2^(B - signed)).</summary>
    public abstract double ScaleOf(int channel);

    /// <summary>The integer zero point of a channel (0 for tables).</summary>
    public abstract int ZeroPointOf(int channel);
}
