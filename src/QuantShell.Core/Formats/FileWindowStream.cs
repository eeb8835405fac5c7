using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// A read-only, seekable window of a file read with positional reads (<see cref="RandomAccess"/>): many windows of one
/// handle may be read at once, from any thread, without sharing a file position. A file that turns out shorter than the
/// window (it shrank after its index was checked) is an error naming the file and what was being read.
/// </summary>
internal sealed class FileWindowStream : Stream
{
    private readonly SafeFileHandle _handle;
    private readonly long _start;
    private readonly string _file;
    private readonly string _what;
    private long _position;

    public FileWindowStream(SafeFileHandle handle, long start, long length, string file, string what)
    {
        _handle = handle;
        _start = start;
        Length = length;
        _file = file;
        _what = what;
    }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length { get; }

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        long remaining = Length - _position;
        if (remaining <= 0 || buffer.IsEmpty) return 0;
        var target = buffer[..(int)Math.Min(buffer.Length, remaining)];
        int got = RandomAccess.Read(_handle, target, _start + _position);
        if (got == 0)
            throw new TensorFormatException(_file, $"{_what}: the file ends {remaining} bytes early: it shrank while it was being read.", ErrorIds.TensorDataTruncated);
        _position += got;
        return got;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => Length + offset,
        };
        return _position;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
