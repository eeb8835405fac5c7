using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;

namespace QuantShell.Core.Formats.Zip;

/// <summary>
/// Writes a zip archive to any stream, seekable or not (an entry's CRC and sizes follow its data in a data descriptor, as
/// torch.save's own writer does): stored or deflated entries, data optionally aligned (torch.save aligns storages to 64
/// bytes with a padding extra field), raw copies of another archive's entries (their compressed bytes and CRC kept), and
/// zip64 records when sizes, offsets or the entry count need them.
/// </summary>
/// <remarks>
/// Our own writer rather than System.IO.Compression's <c>ZipArchive</c>: that one cannot align entry data, cannot copy
/// an entry's compressed bytes without inflating and deflating them again, and needs a seekable stream for zip64.
/// </remarks>
internal sealed class ZipWriter
{
    private const ushort FlagDataDescriptor = 0x0008;
    private const ushort FlagUtf8 = 0x0800;
    private const ushort AlignmentExtraId = 0x4246; // "FB", the id torch.save's writer pads with
    private const ushort Zip64ExtraId = 0x0001;
    private const long Zip64Threshold = 0xFFFFFFFF;
    // A deflated entry can come out slightly larger than its input; entries near 4 GiB get zip64 descriptors up front.
    private const long Zip64Margin = 1L << 24;

    private readonly Stream _output;
    private readonly List<Record> _records = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private long _position;

    public ZipWriter(Stream output) => _output = output;

    /// <summary>
    /// Adds an entry whose bytes <paramref name="writeData"/> writes (about <paramref name="expectedSize"/> of them; the
    /// exact count is measured). <paramref name="alignment"/> &gt; 1 pads the local header so the data starts at a multiple.
    /// </summary>
    public void AddEntry(string name, bool deflate, long expectedSize, Action<Stream> writeData, int alignment = 1, ushort dosTime = 0, ushort dosDate = 0x21)
    {
        bool zip64 = expectedSize >= Zip64Threshold - Zip64Margin;
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        long headerOffset = _position;
        ushort method = deflate ? ZipReader.MethodDeflated : ZipReader.MethodStored;
        ushort flags = (ushort)(FlagDataDescriptor | (IsAscii(nameBytes) ? 0 : FlagUtf8));
        WriteLocalHeader(nameBytes, flags, method, dosTime, dosDate, crc: 0, compressed: 0, uncompressed: 0, zip64Sizes: zip64, alignment);

        var counter = new CountingStream(_output);
        var crc = new Crc32();
        long uncompressed;
        if (deflate)
        {
            using var deflater = new DeflateStream(counter, CompressionLevel.Optimal, leaveOpen: true);
            var hashing = new HashingStream(deflater, crc);
            writeData(hashing);
            uncompressed = hashing.Count;
        }
        else
        {
            var hashing = new HashingStream(counter, crc);
            writeData(hashing);
            uncompressed = hashing.Count;
        }
        long compressed = counter.Count;
        _position += compressed;
        uint crcValue = crc.GetCurrentHashAsUInt32();
        if (!zip64 && (compressed >= Zip64Threshold || uncompressed >= Zip64Threshold))
            throw new InvalidOperationException($"Entry '{name}' grew to {uncompressed} bytes, past the {expectedSize} announced.");

        Span<byte> descriptor = stackalloc byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor, 0x08074b50);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[4..], crcValue);
        int descriptorLength;
        if (zip64)
        {
            BinaryPrimitives.WriteInt64LittleEndian(descriptor[8..], compressed);
            BinaryPrimitives.WriteInt64LittleEndian(descriptor[16..], uncompressed);
            descriptorLength = 24;
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], (uint)compressed);
            BinaryPrimitives.WriteUInt32LittleEndian(descriptor[12..], (uint)uncompressed);
            descriptorLength = 16;
        }
        Write(descriptor[..descriptorLength]);
        _records.Add(new Record(nameBytes, flags, method, dosTime, dosDate, crcValue, compressed, uncompressed, headerOffset));
    }

    /// <summary>Adds a copy of <paramref name="entry"/> of <paramref name="source"/>: its stored or compressed bytes as they are.</summary>
    public void AddRawCopy(ZipReader source, ZipEntry entry, int alignment = 1, CancellationToken cancellationToken = default)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(entry.Name);
        long headerOffset = _position;
        bool zip64 = entry.CompressedSize >= Zip64Threshold || entry.UncompressedSize >= Zip64Threshold;
        ushort flags = IsAscii(nameBytes) ? (ushort)0 : FlagUtf8;
        WriteLocalHeader(nameBytes, flags, entry.Method, entry.DosTime, entry.DosDate, entry.Crc32,
            entry.CompressedSize, entry.UncompressedSize, zip64, alignment);
        using (var raw = source.OpenRaw(entry))
            StreamCopy.Copy(raw, _output, cancellationToken);
        _position += entry.CompressedSize;
        _records.Add(new Record(nameBytes, flags, entry.Method, entry.DosTime, entry.DosDate, entry.Crc32,
            entry.CompressedSize, entry.UncompressedSize, headerOffset));
    }

    /// <summary>Writes the central directory and the end records; the archive is complete after this.</summary>
    public void Finish()
    {
        long directoryOffset = _position;
        foreach (var record in _records) WriteCentralRecord(record);
        long directorySize = _position - directoryOffset;
        bool zip64 = _records.Count >= 0xFFFF || directoryOffset >= Zip64Threshold || directorySize >= Zip64Threshold;
        if (zip64)
        {
            long zip64EndOffset = _position;
            Span<byte> end64 = stackalloc byte[56];
            BinaryPrimitives.WriteUInt32LittleEndian(end64, 0x06064b50);
            BinaryPrimitives.WriteInt64LittleEndian(end64[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(end64[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(end64[14..], 45);
            BinaryPrimitives.WriteInt64LittleEndian(end64[24..], _records.Count);
            BinaryPrimitives.WriteInt64LittleEndian(end64[32..], _records.Count);
            BinaryPrimitives.WriteInt64LittleEndian(end64[40..], directorySize);
            BinaryPrimitives.WriteInt64LittleEndian(end64[48..], directoryOffset);
            Write(end64);
            Span<byte> locator = stackalloc byte[20];
            BinaryPrimitives.WriteUInt32LittleEndian(locator, 0x07064b50);
            BinaryPrimitives.WriteInt64LittleEndian(locator[8..], zip64EndOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(locator[16..], 1);
            Write(locator);
        }
        Span<byte> end = stackalloc byte[22];
        BinaryPrimitives.WriteUInt32LittleEndian(end, 0x06054b50);
        ushort count = (ushort)Math.Min(_records.Count, 0xFFFF);
        BinaryPrimitives.WriteUInt16LittleEndian(end[8..], count);
        BinaryPrimitives.WriteUInt16LittleEndian(end[10..], count);
        BinaryPrimitives.WriteUInt32LittleEndian(end[12..], (uint)Math.Min(directorySize, Zip64Threshold));
        BinaryPrimitives.WriteUInt32LittleEndian(end[16..], (uint)Math.Min(directoryOffset, Zip64Threshold));
        Write(end);
        _output.Flush();
    }

    private void WriteLocalHeader(byte[] nameBytes, ushort flags, ushort method, ushort dosTime, ushort dosDate, uint crc,
                                  long compressed, long uncompressed, bool zip64Sizes, int alignment)
    {
        if (!_names.Add(Encoding.UTF8.GetString(nameBytes)))
            throw new InvalidOperationException($"The archive already has an entry named '{Encoding.UTF8.GetString(nameBytes)}'.");
        int zip64Length = zip64Sizes ? 20 : 0;
        int baseLength = 30 + nameBytes.Length + zip64Length;
        int padding = 0;
        if (alignment > 1)
        {
            long unaligned = (_position + baseLength + 4) % alignment;
            padding = 4 + (int)((alignment - unaligned) % alignment);
        }
        var header = new byte[baseLength + padding];
        var span = header.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], (ushort)(zip64Sizes ? 45 : method == ZipReader.MethodDeflated ? 20 : 10));
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], method);
        BinaryPrimitives.WriteUInt16LittleEndian(span[10..], dosTime);
        BinaryPrimitives.WriteUInt16LittleEndian(span[12..], dosDate);
        BinaryPrimitives.WriteUInt32LittleEndian(span[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(span[18..], zip64Sizes ? 0xFFFFFFFF : (uint)compressed);
        BinaryPrimitives.WriteUInt32LittleEndian(span[22..], zip64Sizes ? 0xFFFFFFFF : (uint)uncompressed);
        BinaryPrimitives.WriteUInt16LittleEndian(span[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[28..], (ushort)(zip64Length + padding));
        nameBytes.CopyTo(span[30..]);
        int at = 30 + nameBytes.Length;
        if (zip64Sizes)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], Zip64ExtraId);
            BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 2)..], 16);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 4)..], uncompressed);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 12)..], compressed);
            at += 20;
        }
        if (padding > 0)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], AlignmentExtraId);
            BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 2)..], (ushort)(padding - 4));
            span[(at + 4)..].Fill((byte)'Z');
        }
        Write(header);
    }

    private void WriteCentralRecord(Record record)
    {
        bool bigUncompressed = record.Uncompressed >= Zip64Threshold, bigCompressed = record.Compressed >= Zip64Threshold,
             bigOffset = record.HeaderOffset >= Zip64Threshold;
        int zip64Length = (bigUncompressed ? 8 : 0) + (bigCompressed ? 8 : 0) + (bigOffset ? 8 : 0);
        int extraLength = zip64Length > 0 ? 4 + zip64Length : 0;
        var header = new byte[46 + record.Name.Length + extraLength];
        var span = header.AsSpan();
        bool zip64 = zip64Length > 0;
        BinaryPrimitives.WriteUInt32LittleEndian(span, 0x02014b50);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], 45);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], (ushort)(zip64 ? 45 : record.Method == ZipReader.MethodDeflated ? 20 : 10));
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], record.Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(span[10..], record.Method);
        BinaryPrimitives.WriteUInt16LittleEndian(span[12..], record.DosTime);
        BinaryPrimitives.WriteUInt16LittleEndian(span[14..], record.DosDate);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], record.Crc);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], (uint)Math.Min(record.Compressed, Zip64Threshold));
        BinaryPrimitives.WriteUInt32LittleEndian(span[24..], (uint)Math.Min(record.Uncompressed, Zip64Threshold));
        BinaryPrimitives.WriteUInt16LittleEndian(span[28..], (ushort)record.Name.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[30..], (ushort)extraLength);
        BinaryPrimitives.WriteUInt32LittleEndian(span[42..], (uint)Math.Min(record.HeaderOffset, Zip64Threshold));
        record.Name.CopyTo(span[46..]);
        if (zip64)
        {
            int at = 46 + record.Name.Length;
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], Zip64ExtraId);
            BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 2)..], (ushort)zip64Length);
            at += 4;
            if (bigUncompressed) { BinaryPrimitives.WriteInt64LittleEndian(span[at..], record.Uncompressed); at += 8; }
            if (bigCompressed) { BinaryPrimitives.WriteInt64LittleEndian(span[at..], record.Compressed); at += 8; }
            if (bigOffset) BinaryPrimitives.WriteInt64LittleEndian(span[at..], record.HeaderOffset);
        }
        Write(header);
    }

    private void Write(ReadOnlySpan<byte> bytes)
    {
        _output.Write(bytes);
        _position += bytes.Length;
    }

    private static bool IsAscii(byte[] bytes) => bytes.All(b => b < 0x80);

    private sealed record Record(byte[] Name, ushort Flags, ushort Method, ushort DosTime, ushort DosDate, uint Crc,
                                 long Compressed, long Uncompressed, long HeaderOffset);

    /// <summary>Counts what passes through to the archive (an entry's compressed size).</summary>
    private sealed class CountingStream(Stream inner) : WriteOnlyStream
    {
        public long Count { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }
    }

    /// <summary>Computes the CRC-32 and the size of an entry's uncompressed bytes on their way in.</summary>
    private sealed class HashingStream(Stream inner, Crc32 crc) : WriteOnlyStream
    {
        public long Count { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            crc.Append(buffer);
            inner.Write(buffer);
            Count += buffer.Length;
        }
    }
}
