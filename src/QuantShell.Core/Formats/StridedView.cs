namespace QuantShell.Core.Formats;

/// <summary>
/// A strided view of a buffer of elements (a PyTorch tensor in its storage): shape, strides and the first element's
/// index, all in elements. It lists the view's elements in C order as runs of consecutive elements, which is what
/// gathering a non-contiguous tensor into C order, and scattering rewritten values back into their places, both need.
/// </summary>
internal sealed class StridedView(long offset, long[] shape, long[] stride)
{
    public long Offset { get; } = offset;

    public long[] Shape { get; } = shape;

    public long[] Stride { get; } = stride;

    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    /// <summary>C-contiguous: each dimension longer than 1 steps by the product of the later sizes.</summary>
    public bool IsContiguous
    {
        get
        {
            if (ElementCount == 0) return true;
            long expected = 1;
            for (int d = Shape.Length - 1; d >= 0; d--)
            {
                if (Shape[d] != 1 && Stride[d] != expected) return false;
                expected *= Shape[d];
            }
            return true;
        }
    }

    /// <summary>The index one past the last element the view touches (its offset when it is empty).</summary>
    public long End
    {
        get
        {
            if (ElementCount == 0) return Offset;
            long last = Offset;
            for (int d = 0; d < Shape.Length; d++) last = checked(last + (Shape[d] - 1) * Stride[d]);
            return checked(last + 1);
        }
    }

    /// <summary>The view's elements in C order, as (first element index, element count) runs.</summary>
    public IEnumerable<(long Start, long Count)> Runs()
    {
        if (ElementCount == 0) yield break;
        int rank = Shape.Length;
        if (rank == 0)
        {
            yield return (Offset, 1);
            yield break;
        }
        // The innermost dimension is one run when its stride is 1, else one run per element.
        bool innerRun = Stride[rank - 1] == 1 || Shape[rank - 1] == 1;
        int outerRank = innerRun ? rank - 1 : rank;
        long runLength = innerRun ? Shape[rank - 1] : 1;
        var index = new long[outerRank];
        long position = Offset;
        while (true)
        {
            yield return (position, runLength);
            int d = outerRank - 1;
            while (d >= 0)
            {
                index[d]++;
                position += Stride[d];
                if (index[d] < Shape[d]) break;
                position -= Stride[d] * Shape[d];
                index[d] = 0;
                d--;
            }
            if (d < 0) yield break;
        }
    }

    /// <summary>Reads the view's elements in C order out of <paramref name="buffer"/>, whose element 0 is <paramref name="bufferStart"/>.</summary>
    public Stream Gather(byte[] buffer, long bufferStart, int itemSize) => new GatherStream(this, buffer, bufferStart, itemSize);

    /// <summary>Writes C-ordered elements into their places in <paramref name="buffer"/>, whose element 0 is <paramref name="bufferStart"/>.</summary>
    public Stream Scatter(byte[] buffer, long bufferStart, int itemSize) => new ScatterStream(this, buffer, bufferStart, itemSize);

    private sealed class GatherStream : Stream
    {
        private readonly IEnumerator<(long Start, long Count)> _runs;
        private readonly byte[] _buffer;
        private readonly long _bufferStart;
        private readonly int _itemSize;
        private long _runAt, _runLeft; // bytes

        public GatherStream(StridedView view, byte[] buffer, long bufferStart, int itemSize)
        {
            _runs = view.Runs().GetEnumerator();
            _buffer = buffer;
            _bufferStart = bufferStart;
            _itemSize = itemSize;
            Length = view.ElementCount * itemSize;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length { get; }
        public override long Position { get; set; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> destination)
        {
            int written = 0;
            while (written < destination.Length)
            {
                if (_runLeft == 0)
                {
                    if (!_runs.MoveNext()) break;
                    _runAt = (_runs.Current.Start - _bufferStart) * _itemSize;
                    _runLeft = _runs.Current.Count * _itemSize;
                }
                int n = (int)Math.Min(_runLeft, destination.Length - written);
                _buffer.AsSpan(checked((int)_runAt), n).CopyTo(destination[written..]);
                written += n;
                _runAt += n;
                _runLeft -= n;
            }
            Position += written;
            return written;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private sealed class ScatterStream : WriteOnlyStream
    {
        private readonly IEnumerator<(long Start, long Count)> _runs;
        private readonly byte[] _buffer;
        private readonly long _bufferStart;
        private readonly int _itemSize;
        private long _runAt, _runLeft;

        public ScatterStream(StridedView view, byte[] buffer, long bufferStart, int itemSize)
        {
            _runs = view.Runs().GetEnumerator();
            _buffer = buffer;
            _bufferStart = bufferStart;
            _itemSize = itemSize;
        }

        public override void Write(ReadOnlySpan<byte> source)
        {
            while (!source.IsEmpty)
            {
                if (_runLeft == 0)
                {
                    if (!_runs.MoveNext()) throw new InvalidOperationException("More bytes were written than the view holds.");
                    _runAt = (_runs.Current.Start - _bufferStart) * _itemSize;
                    _runLeft = _runs.Current.Count * _itemSize;
                }
                int n = (int)Math.Min(_runLeft, source.Length);
                source[..n].CopyTo(_buffer.AsSpan(checked((int)_runAt), n));
                source = source[n..];
                _runAt += n;
                _runLeft -= n;
            }
        }
    }
}
