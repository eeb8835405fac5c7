using System.Buffers.Binary;
using System.Text;
using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats.Zip;

/// <summary>
/// Reads the index of a zip archive (.npz, PyTorch checkpoints) and checks everything it claims before anything is
/// allocated or inflated: one disk, no encryption, stored or deflated entries only, names that stay inside the archive
/// (no absolute paths, drive letters or <c>..</c>), no duplicate names, each local header agreeing with its central
/// directory record, every entry's data inside the file and overlapping no other entry, stored sizes equal, and deflated
/// sizes within what deflate can produce (1032:1). Reading an entry then checks that it inflates to exactly its declared
/// size and that its CRC-32 matches.
/// </summary>
/// <remarks>
/// Our own reader rather than System.IO.Compression's <c>ZipArchive</c>: the PyTorch reader needs each stored entry's
/// exact offset in the file (positional, thread-safe reads of tensor views), both readers need the overlap and size
/// checks above before they trust an entry, and a copy needs an entry's raw compressed bytes. Inflating is
/// System.IO.Compression's <see cref="System.IO.Compression.DeflateStream"/>.
/// </remarks>
internal sealed class ZipReader
{
    public const ushort MethodStored = 0;
    public const ushort MethodDeflated = 8;

    /// <summary>Deflate cannot expand one byte into more than 1032; an entry claiming more lies (a zip bomb).</summary>
    public const long MaxDeflateRatio = 1032;

    private const uint LocalHeaderSignature = 0x04034b50;
    private const uint CentralHeaderSignature = 0x02014b50;
    private const uint EndSignature = 0x06054b50;
    private const uint Zip64EndSignature = 0x06064b50;
    private const uint Zip64LocatorSignature = 0x07064b50;
    private const int EndRecordSize = 22;
    private const int CentralHeaderSize = 46;
    private const int LocalHeaderSize = 30;
    private const int MaxCommentLength = ushort.MaxValue;
    private const long MaxCentralDirectoryBytes = 256L << 20;

    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, ZipEntry> _byName = new(StringComparer.Ordinal);

    private ZipReader(SafeFileHandle handle, long fileLength, string file)
    {
        _handle = handle;
        File = file;
        FileLength = fileLength;
        Entries = ReadCentralDirectory();
    }

    /// <summary>The archive as the user named it (errors start with it).</summary>
    public string File { get; }

    public long FileLength { get; }

    /// <summary>The entries in central-directory order.</summary>
    public IReadOnlyList<ZipEntry> Entries { get; }

    /// <summary>Reads and checks the index of the archive open as <paramref name="handle"/>; the handle stays the caller's.</summary>
    public static ZipReader Open(SafeFileHandle handle, string file) => new(handle, RandomAccess.GetLength(handle), file);

    public ZipEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// The entry's uncompressed bytes: exactly <see cref="ZipEntry.UncompressedSize"/> of them, CRC-checked when read from
    /// start to end without seeking; a stored entry's stream can seek (it then skips the CRC check).
    /// </summary>
    public Stream OpenEntry(ZipEntry entry) => new ZipEntryStream(this, entry);

    /// <summary>
    /// The whole entry in memory (a pickle, a record). A stored entry's size is bounded by the file; a deflated one's
    /// buffer grows with the bytes that really inflate, so a size the index merely claims is never allocated up front.
    /// </summary>
    public byte[] ReadAll(ZipEntry entry)
    {
        using var stream = OpenEntry(entry);
        if (entry.IsStored)
        {
            var bytes = new byte[entry.UncompressedSize];
            stream.ReadExactly(bytes);
            return bytes;
        }
        var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    /// <summary>The entry's bytes as stored in the archive (compressed when deflated), for a copy that keeps them.</summary>
    public Stream OpenRaw(ZipEntry entry) => new FileWindowStream(_handle, entry.DataOffset, entry.CompressedSize, File, $"entry '{entry.Name}'");

    internal Exception Invalid(string problem) => new TensorFormatException(File, problem, ErrorIds.ArchiveInvalid);

    private List<ZipEntry> ReadCentralDirectory()
    {
        var (directoryOffset, directorySize, entryCount) = ReadEndRecords();
        if (directorySize > MaxCentralDirectoryBytes)
            throw Invalid($"its central directory claims {directorySize} bytes, over the limit of {MaxCentralDirectoryBytes}.");
        if (entryCount > directorySize / CentralHeaderSize)
            throw Invalid($"it claims {entryCount} entries, more than its {directorySize}-byte central directory can hold.");
        var directory = new byte[directorySize];
        ReadAt(directory, directoryOffset, "the central directory");

        var entries = new List<ZipEntry>((int)entryCount);
        int at = 0;
        for (long i = 0; i < entryCount; i++)
        {
            if (directory.Length - at < CentralHeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(directory.AsSpan(at)) != CentralHeaderSignature)
                throw Invalid($"central directory record {i} is malformed.");
            var record = directory.AsSpan(at);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(record[8..]);
            ushort method = BinaryPrimitives.ReadUInt16LittleEndian(record[10..]);
            ushort time = BinaryPrimitives.ReadUInt16LittleEndian(record[12..]);
            ushort date = BinaryPrimitives.ReadUInt16LittleEndian(record[14..]);
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(record[16..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(record[20..]);
            long uncompressed = BinaryPrimitives.ReadUInt32LittleEndian(record[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(record[28..]);
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(record[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(record[32..]);
            int diskStart = BinaryPrimitives.ReadUInt16LittleEndian(record[34..]);
            long localOffset = BinaryPrimitives.ReadUInt32LittleEndian(record[42..]);
            int recordLength = CentralHeaderSize + nameLength + extraLength + commentLength;
            if (directory.Length - at < recordLength)
                throw Invalid($"central directory record {i} runs past the end of the directory.");
            byte[] nameBytes = record.Slice(CentralHeaderSize, nameLength).ToArray();
            string name = DecodeName(nameBytes, flags);
            ReadZip64Extra(record.Slice(CentralHeaderSize + nameLength, extraLength), name,
                ref uncompressed, ref compressed, ref localOffset, ref diskStart);
            at += recordLength;

            CheckName(name);
            if ((flags & 0x0001) != 0 || (flags & 0x0040) != 0)
                throw Invalid($"entry '{name}' is encrypted.");
            if (method is not (MethodStored or MethodDeflated))
                throw Invalid($"entry '{name}' uses compression method {method}; only stored (0) and deflated (8) entries are read.");
            if (diskStart != 0)
                throw Invalid($"entry '{name}' starts on disk {diskStart}; multi-disk archives are not read.");
            if (method == MethodStored && compressed != uncompressed)
                throw Invalid($"stored entry '{name}' declares {uncompressed} bytes but holds {compressed}.");
            if (method == MethodDeflated && uncompressed > Math.Max(1, compressed) * MaxDeflateRatio)
                throw Invalid($"entry '{name}' claims {uncompressed} bytes from {compressed} compressed: more than deflate can produce (a zip bomb).");
            if (localOffset > directoryOffset - LocalHeaderSize)
                throw Invalid($"entry '{name}' starts at {localOffset}, outside the archive's data.");

            long dataOffset = ReadLocalHeader(name, nameBytes, method, localOffset);
            if (dataOffset > directoryOffset || compressed > directoryOffset - dataOffset)
                throw Invalid($"entry '{name}' declares {compressed} bytes at offset {dataOffset}, past the end of the archive's data ({directoryOffset} bytes).");
            var entry = new ZipEntry
            {
                Name = name, Method = method, Crc32 = crc, CompressedSize = compressed, UncompressedSize = uncompressed,
                LocalHeaderOffset = localOffset, DataOffset = dataOffset, DosTime = time, DosDate = date,
            };
            if (!_byName.TryAdd(name, entry))
                throw Invalid($"it holds two entries named '{name}'.");
            entries.Add(entry);
        }
        if (at != directory.Length)
            throw Invalid($"its central directory holds {directory.Length - at} bytes after its {entryCount} records.");

        // Entries that share bytes (overlapping local headers or data) are how the worst zip bombs multiply their output.
        var byOffset = entries.OrderBy(e => e.LocalHeaderOffset).ToList();
        for (int i = 1; i < byOffset.Count; i++)
        {
            var previous = byOffset[i - 1];
            if (previous.DataOffset + previous.CompressedSize > byOffset[i].LocalHeaderOffset)
                throw Invalid($"entries '{previous.Name}' and '{byOffset[i].Name}' overlap.");
        }
        return entries;
    }

    private (long Offset, long Size, long Count) ReadEndRecords()
    {
        if (FileLength < EndRecordSize) throw Invalid("it is too short to be a zip archive.");
        int tailLength = (int)Math.Min(FileLength, EndRecordSize + MaxCommentLength);
        var tail = new byte[tailLength];
        long tailStart = FileLength - tailLength;
        ReadAt(tail, tailStart, "the end of the archive");
        int end = -1;
        for (int i = tailLength - EndRecordSize; i >= 0; i--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndSignature
                && i + EndRecordSize + BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(i + 20)) <= tailLength)
            {
                end = i;
                break;
            }
        }
        if (end < 0) throw Invalid("it has no end-of-central-directory record (not a zip archive, or truncated).");
        var record = tail.AsSpan(end);
        long endOffset = tailStart + end;
        int disk = BinaryPrimitives.ReadUInt16LittleEndian(record[4..]);
        int directoryDisk = BinaryPrimitives.ReadUInt16LittleEndian(record[6..]);
        long entriesOnDisk = BinaryPrimitives.ReadUInt16LittleEndian(record[8..]);
        long entries = BinaryPrimitives.ReadUInt16LittleEndian(record[10..]);
        long size = BinaryPrimitives.ReadUInt32LittleEndian(record[12..]);
        long offset = BinaryPrimitives.ReadUInt32LittleEndian(record[16..]);
        long directoryEnd = endOffset;

        bool zip64 = entries == 0xFFFF || entriesOnDisk == 0xFFFF || size == 0xFFFFFFFF || offset == 0xFFFFFFFF;
        if (endOffset >= 20)
        {
            Span<byte> locator = stackalloc byte[20];
            ReadAt(locator, endOffset - 20, "the zip64 locator");
            if (BinaryPrimitives.ReadUInt32LittleEndian(locator) == Zip64LocatorSignature)
            {
                long zip64End = (long)Math.Min(BinaryPrimitives.ReadUInt64LittleEndian(locator[8..]), long.MaxValue);
                if (zip64End > endOffset - 20 - 56)
                    throw Invalid("its zip64 end record lies outside the archive.");
                Span<byte> end64 = stackalloc byte[56];
                ReadAt(end64, zip64End, "the zip64 end record");
                if (BinaryPrimitives.ReadUInt32LittleEndian(end64) != Zip64EndSignature)
                    throw Invalid("its zip64 end record is malformed.");
                disk = (int)BinaryPrimitives.ReadUInt32LittleEndian(end64[16..]);
                directoryDisk = (int)BinaryPrimitives.ReadUInt32LittleEndian(end64[20..]);
                entriesOnDisk = ClampToLong(BinaryPrimitives.ReadUInt64LittleEndian(end64[24..]));
                entries = ClampToLong(BinaryPrimitives.ReadUInt64LittleEndian(end64[32..]));
                size = ClampToLong(BinaryPrimitives.ReadUInt64LittleEndian(end64[40..]));
                offset = ClampToLong(BinaryPrimitives.ReadUInt64LittleEndian(end64[48..]));
                directoryEnd = zip64End;
                zip64 = false;
            }
        }
        if (zip64) throw Invalid("its end record needs a zip64 record that is missing.");
        if (disk != 0 || directoryDisk != 0 || entriesOnDisk != entries)
            throw Invalid("it spans several disks; multi-disk archives are not read.");
        if (offset > directoryEnd || size != directoryEnd - offset)
            throw Invalid($"its central directory ({size} bytes at {offset}) does not end where its end record starts ({directoryEnd}).");
        return (offset, size, entries);
    }

    private static long ClampToLong(ulong value) => value > long.MaxValue ? long.MaxValue : (long)value;

    private void ReadZip64Extra(ReadOnlySpan<byte> extra, string name, ref long uncompressed, ref long compressed, ref long localOffset, ref int diskStart)
    {
        bool needUncompressed = uncompressed == 0xFFFFFFFF, needCompressed = compressed == 0xFFFFFFFF, needOffset = localOffset == 0xFFFFFFFF;
        if (!needUncompressed && !needCompressed && !needOffset) return;
        while (extra.Length >= 4)
        {
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(extra);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (length > extra.Length - 4) break;
            var field = extra.Slice(4, length);
            extra = extra[(4 + length)..];
            if (id != 0x0001) continue;
            int needed = 8 * ((needUncompressed ? 1 : 0) + (needCompressed ? 1 : 0) + (needOffset ? 1 : 0));
            if (field.Length < needed) throw Invalid($"entry '{name}' has a truncated zip64 field.");
            int at = 0;
            if (needUncompressed) { uncompressed = Zip64Value(field, at, name); at += 8; }
            if (needCompressed) { compressed = Zip64Value(field, at, name); at += 8; }
            if (needOffset) { localOffset = Zip64Value(field, at, name); at += 8; }
            if (diskStart == 0xFFFF && field.Length - at >= 4) diskStart = (int)BinaryPrimitives.ReadUInt32LittleEndian(field[at..]);
            return;
        }
        throw Invalid($"entry '{name}' needs a zip64 field that is missing.");
    }

    private long Zip64Value(ReadOnlySpan<byte> field, int at, string name)
    {
        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(field[at..]);
        return value > long.MaxValue ? throw Invalid($"entry '{name}' declares a size or offset over 2^63.") : (long)value;
    }

    private long ReadLocalHeader(string name, byte[] nameBytes, ushort method, long localOffset)
    {
        Span<byte> header = stackalloc byte[LocalHeaderSize];
        ReadAt(header, localOffset, $"the local header of entry '{name}'");
        if (BinaryPrimitives.ReadUInt32LittleEndian(header) != LocalHeaderSignature)
            throw Invalid($"entry '{name}' has no local header at offset {localOffset}.");
        if (BinaryPrimitives.ReadUInt16LittleEndian(header[8..]) != method)
            throw Invalid($"entry '{name}' has a local header whose compression method disagrees with the central directory.");
        int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(header[26..]);
        int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(header[28..]);
        Span<byte> localName = stackalloc byte[nameLength];
        ReadAt(localName, localOffset + LocalHeaderSize, $"the local header of entry '{name}'");
        if (!localName.SequenceEqual(nameBytes))
            throw Invalid($"entry '{name}' has a local header naming '{DecodeName(localName.ToArray(), 0x0800)}'.");
        return localOffset + LocalHeaderSize + nameLength + extraLength;
    }

    private string DecodeName(byte[] bytes, ushort flags)
    {
        try
        {
            // Bit 11 says UTF-8; without it the name is CP437, which agrees with UTF-8 on the ASCII names numpy and torch write.
            return (flags & 0x0800) != 0 || bytes.All(b => b < 0x80)
                ? new UTF8Encoding(false, true).GetString(bytes)
                : Encoding.Latin1.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("an entry name is not valid UTF-8.");
        }
    }

    /// <summary>Names that would escape a folder if extracted are refused, whatever the reader does with them.</summary>
    private void CheckName(string name)
    {
        if (name.Length == 0 || name[0] is '/' or '\\' || name.Contains(':') || name.Contains('\0')
            || name.Split('/', '\\').Any(part => part == ".."))
            throw Invalid($"entry name '{Shorten(name)}' is empty, absolute or climbs out of the archive ('..').");
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";

    private void ReadAt(Span<byte> buffer, long offset, string what)
    {
        if (offset < 0 || offset > FileLength - buffer.Length)
            throw Invalid($"{what} lies outside the file.");
        if (TensorFileHandles.ReadUpTo(_handle, buffer, offset) < buffer.Length) throw Invalid($"the file ends inside {what}.");
    }

    internal SafeFileHandle Handle => _handle;
}
