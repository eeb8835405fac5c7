using System.IO.Compression;
using System.IO.Hashing;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats.Zip;

/// <summary>
/// An entry's uncompressed bytes, exactly as many as the central directory declares: a deflated entry that inflates to
/// fewer or more, or whose deflate data is corrupt, is an error naming the archive and the entry, and so is a CRC-32 that
/// does not match once the entry has been read from start to end. Stored entries can seek (and are then not CRC-checked).
/// </summary>
internal sealed class ZipEntryStream : Stream
{
    private readonly ZipReader _archive;
    private readonly ZipEntry _entry;
    private readonly Stream _raw;
    private readonly DeflateStream? _inflater;
    private Crc32? _crc = new();
    private long _position;

    public ZipEntryStream(ZipReader archive, ZipEntry entry)
    {
        _archive = archive;
        _entry = entry;
        _raw = archive.OpenRaw(entry);
        if (!entry.IsStored) _inflater = new DeflateStream(_raw, CompressionMode.Decompress, leaveOpen: true);
    }

    public override bool CanRead => true;
    public override bool CanSeek => _inflater is null;
    public override bool CanWrite => false;
    public override long Length => _entry.UncompressedSize;

    public override long Position
    {
        get => _position;
        set => Seek(value, SeekOrigin.Begin);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        long remaining = Length - _position;
        if (remaining <= 0 || buffer.IsEmpty) return 0;
        var target = buffer[..(int)Math.Min(buffer.Length, remaining)];
        int got = ReadSource(target);
        if (got == 0)
            throw new TensorFormatException(_archive.File, $"entry '{_entry.Name}' ends after {_position} of the {Length} bytes it declares.", _inflater is null ? ErrorIds.TensorDataTruncated : ErrorIds.ArchiveInvalid);
        _crc?.Append(target[..got]);
        _position += got;
        if (_position == Length) Finish();
        return got;
    }

    private int ReadSource(Span<byte> target)
    {
        if (_inflater is null) return _raw.Read(target);
        try
        {
            return _inflater.Read(target);
        }
        catch (InvalidDataException ex)
        {
            throw new TensorFormatException(_archive.File, $"entry '{_entry.Name}' holds corrupt deflate data ({ex.Message}).", ErrorIds.ArchiveInvalid);
        }
    }

    private void Finish()
    {
        if (_inflater is not null)
        {
            Span<byte> probe = stackalloc byte[1];
            if (ReadSource(probe) != 0)
                throw new TensorFormatException(_archive.File, $"entry '{_entry.Name}' inflates to more than the {Length} bytes it declares.", ErrorIds.ArchiveInvalid);
        }
        if (_crc is not null && _crc.GetCurrentHashAsUInt32() != _entry.Crc32)
            throw new TensorFormatException(_archive.File, $"entry '{_entry.Name}' fails its CRC-32 check (the data is corrupt).", ErrorIds.ArchiveInvalid);
        _crc = null;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        if (_inflater is not null) throw new NotSupportedException("A deflated entry cannot seek.");
        long target = origin switch { SeekOrigin.Begin => offset, SeekOrigin.Current => _position + offset, _ => Length + offset };
        if (target != _position) _crc = null; // only a read from start to end is checked
        _raw.Position = target;
        _position = target;
        return target;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inflater?.Dispose();
            _raw.Dispose();
        }
        base.Dispose(disposing);
    }
}
