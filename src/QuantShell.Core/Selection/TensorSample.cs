using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>
/// What the optimal search's symmetric and uniform scans of one channel (or a whole tensor) read of its values, gathered
/// from its values taken in order, part after part (a file read in chunks), so the values need not be held at once: the
/// least and greatest finite values (as <see cref="ChannelBlockSelection{T}.Extremes"/> finds them in one scan) and the
/// evenly strided samples <see cref="ChannelScorer{T}.Sample"/> takes, index for index (value i of a sample of
/// <c>limit</c> is value <c>(long)(i · (length / limit))</c>; a limit not below the length takes every value).
/// </summary>
internal sealed class TensorSample<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    private readonly Dictionary<int, int> _slotOf = [];
    private readonly T[][] _samples;
    private readonly double[] _strides;
    private readonly int[] _next;
    private long _position;
    private T[]? _extremes;

    /// <param name="length">How many values will be added.</param>
    /// <param name="limits">The sample sizes that will be asked for (each at most <paramref name="length"/> values is all of them).</param>
    public TensorSample(long length, IEnumerable<int> limits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        var sizes = limits.Select(l => (int)Math.Min(l, length)).Distinct().ToArray();
        _samples = new T[sizes.Length][];
        _strides = new double[sizes.Length];
        _next = new int[sizes.Length];
        for (int s = 0; s < sizes.Length; s++)
        {
            _slotOf[sizes[s]] = s;
            _samples[s] = new T[sizes[s]];
            _strides[s] = (double)length / sizes[s];
        }
    }

    /// <summary>How many values the tensor holds.</summary>
    public long Length { get; }

    /// <summary>Whether every value has been added.</summary>
    public bool Complete => _position == Length;

    /// <summary>The least and greatest finite values (null: none is finite), once every value is added.</summary>
    public T[]? Extremes => Complete ? _extremes : throw new InvalidOperationException("Not every value was added.");

    /// <summary>Adds the next values, in order.</summary>
    public void Add(ReadOnlySpan<T> values)
    {
        if (values.Length == 0) return;
        long end = _position + values.Length;
        if (end > Length) throw new InvalidOperationException("More values than the tensor holds.");
        _extremes = ChannelBlockSelection<T>.JoinExtremes(_extremes, ChannelBlockSelection<T>.Extremes(values));
        for (int s = 0; s < _samples.Length; s++)
        {
            var sample = _samples[s];
            double stride = _strides[s];
            int i = _next[s];
            for (; i < sample.Length; i++)
            {
                long at = (long)(i * stride);
                if (at >= end) break;
                sample[i] = values[(int)(at - _position)];
            }
            _next[s] = i;
        }
        _position = end;
    }

    /// <summary>The sample of <paramref name="limit"/> values (all of them when there are no more), as asked for when made.</summary>
    public T[] Sample(int limit)
    {
        if (!Complete) throw new InvalidOperationException("Not every value was added.");
        return _samples[_slotOf[(int)Math.Min(limit, Length)]];
    }
}
