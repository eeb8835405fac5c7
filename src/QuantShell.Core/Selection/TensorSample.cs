using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>
/// What the optimal search's symmetric and uniform scans of one channel (or a whole tensor) read of its values, gathered
/// from its values taken in order, part after part (a file read in chunks), so the values need not be held at once: the
/// least and greatest finite values (as <see cref="ChannelBlockSelection{T}.Extremes(ReadOnlySpan{T})"/> finds them in one scan) and the
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
            _strides[s] = Stride(length, sizes[s]);
        }
    }

    /// <summary>The stride of an evenly strided sample of <paramref name="size"/> of <paramref name="length"/> values.</summary>
    internal static double Stride(long length, int size) => (double)length / size;

    /// <summary>Which value is entry <paramref name="i"/> of an evenly strided sample (<see cref="Stride"/>).</summary>
    internal static long Index(int i, double stride) => (long)(i * stride);

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
        if (_position + values.Length > Length) throw new InvalidOperationException("More values than the tensor holds.");
        _extremes = ChannelBlockSelection<T>.JoinExtremes(_extremes, ChannelBlockSelection<T>.Extremes(values));
        Gather(values, _position, _next);
        _position += values.Length;
    }

    /// <summary>
    /// The tensor's values cut into <paramref name="count"/> consecutive parts (at most; none empty), to be given their
    /// values at once (on several threads: each writes only its own samples' entries), then joined (<see cref="Join"/>)
    /// in place of <see cref="Add"/>.
    /// </summary>
    public Part[] Split(int count)
    {
        if (_position != 0) throw new InvalidOperationException("Values were added already.");
        count = (int)Math.Clamp(count, 1, Length);
        var parts = new Part[count];
        for (int k = 0; k < count; k++) parts[k] = new Part(this, Length * k / count, Length * (k + 1) / count);
        return parts;
    }

    /// <summary>Takes the parts' values as if added in order (the extremes joined from the first part on).</summary>
    public void Join(Part[] parts)
    {
        if (_position != 0) throw new InvalidOperationException("Values were added already.");
        long at = 0;
        foreach (var part in parts)
        {
            if (part.Start != at || !part.Complete) throw new InvalidOperationException("The parts do not hold every value in order.");
            _extremes = ChannelBlockSelection<T>.JoinExtremes(_extremes, part.Extremes);
            at = part.End;
        }
        if (at != Length) throw new InvalidOperationException("The parts do not hold every value.");
        _position = Length;
    }

    // The samples' entries whose values lie in values (the values from position on), from next[s] on.
    private void Gather(ReadOnlySpan<T> values, long position, int[] next)
    {
        long end = position + values.Length;
        for (int s = 0; s < _samples.Length; s++)
        {
            var sample = _samples[s];
            double stride = _strides[s];
            int i = next[s];
            for (; i < sample.Length; i++)
            {
                long at = Index(i, stride);
                if (at >= end) break;
                sample[i] = values[(int)(at - position)];
            }
            next[s] = i;
        }
    }

    /// <summary>The values from <see cref="Start"/> to <see cref="End"/> (see <see cref="Split"/>).</summary>
    public sealed class Part
    {
        private readonly TensorSample<T> _owner;
        private readonly int[] _next;
        private long _position;

        internal Part(TensorSample<T> owner, long start, long end)
        {
            _owner = owner;
            Start = start;
            End = end;
            _position = start;
            // The first entry of each sample at or after start.
            _next = new int[owner._samples.Length];
            for (int s = 0; s < _next.Length; s++)
            {
                double stride = owner._strides[s];
                int size = owner._samples[s].Length;
                int i = (int)Math.Min(size, Math.Max(0, Math.Floor(start / stride)));
                while (i > 0 && Index(i - 1, stride) >= start) i--;
                while (i < size && Index(i, stride) < start) i++;
                _next[s] = i;
            }
        }

        public long Start { get; }
        public long End { get; }
        public bool Complete => _position == End;
        internal T[]? Extremes { get; private set; }

        /// <summary>Adds this part's next values, in order.</summary>
        public void Add(ReadOnlySpan<T> values)
        {
            if (values.Length == 0) return;
            if (_position + values.Length > End) throw new InvalidOperationException("More values than the part holds.");
            Extremes = ChannelBlockSelection<T>.JoinExtremes(Extremes, ChannelBlockSelection<T>.Extremes(values));
            _owner.Gather(values, _position, _next);
            _position += values.Length;
        }
    }

    /// <summary>The sample of <paramref name="limit"/> values (all of them when there are no more), as asked for when made.</summary>
    public T[] Sample(int limit)
    {
        if (!Complete) throw new InvalidOperationException("Not every value was added.");
        return _samples[_slotOf[(int)Math.Min(limit, Length)]];
    }
}
