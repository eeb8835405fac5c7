using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// A read-only stream of exactly one tensor's bytes from an underlying stream: it never reads past them, and a source that
/// ends early is an error naming the file and the tensor, not a short tensor.
/// </summary>
internal sealed class TensorDataStream : Stream
{
    private readonly Stream _source;
    private readonly string _file;
    private readonly string _tensor;
    private readonly bool _ownsSource;
    private long _remaining;

    public TensorDataStream(Stream source, long length, string file, string tensor, bool ownsSource)
    {
        _source = source;
        _remaining = length;
        Length = length;
        _file = file;
        _tensor = tensor;
        _ownsSource = ownsSource;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length { get; }
    public override long Position { get => Length - _remaining; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_remaining == 0 || buffer.Length == 0) return 0;
        int wanted = (int)Math.Min(buffer.Length, _remaining);
        int got = _source.Read(buffer[..wanted]);
        if (got == 0)
            throw new TensorFormatException(_file, $"tensor '{_tensor}': the data ends {_remaining} bytes early ({Length} bytes expected).", ErrorIds.TensorDataTruncated);
        _remaining -= got;
        return got;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsSource) _source.Dispose();
        base.Dispose(disposing);
    }
}
