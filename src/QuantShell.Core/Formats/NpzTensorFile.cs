using System.IO.Compression;
using System.Text;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// A NumPy .npz file: a zip of <c>NAME.npy</c> entries, stored (<c>np.savez</c>) or deflated (<c>np.savez_compressed</c>),
/// read with System.IO.Compression. Each entry's .npy header is checked against the sizes the zip declares before any
/// data is read, and a deflated entry that claims more than deflate can produce is refused (a zip bomb).
/// </summary>
public sealed class NpzTensorFile : TensorFile
{
    /// <summary>The entry that records how the file was quantized (the <c>int</c> output form).</summary>
    public const string RecordEntry = "quantshell.json";

    // Deflate cannot expand 1 byte into more than 1032; a header claiming more lies.
    private const long MaxDeflateRatio = 1032;
    private const int MaxRecordBytes = 16 << 20;

    private readonly FileStream _stream;
    private readonly ZipArchive _archive;
    private readonly Dictionary<string, (ZipArchiveEntry Entry, long DataOffset)> _entries = new(StringComparer.Ordinal);

    private NpzTensorFile(string path, string name) : base(name, TensorFileKind.Npz)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            _archive = new ZipArchive(_stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException ex)
        {
            _stream.Dispose();
            throw new TensorFormatException(name, $"not a readable zip archive ({ex.Message}).", ErrorIds.ArchiveInvalid);
        }
        try
        {
            Tensors = ReadIndex();
        }
        catch
        {
            Dispose(true);
            throw;
        }
    }

    public override IReadOnlyList<StoredTensor> Tensors { get; }

    public override IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    public override string FormatName => "NPZ";

    public static NpzTensorFile Open(string path, string name) => new(path, name);

    private List<StoredTensor> ReadIndex()
    {
        var tensors = new List<StoredTensor>();
        foreach (var entry in _archive.Entries)
        {
            CheckEntry(entry);
            if (entry.FullName == RecordEntry)
            {
                ((Dictionary<string, string>)Metadata)[TensorFiles.RecordKey] = ReadRecord(entry);
                continue;
            }
            if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
            string tensorName = entry.FullName[..^4];
            if (_entries.ContainsKey(tensorName))
                throw new TensorFormatException(Name, $"holds two entries named '{entry.FullName}'.", ErrorIds.TensorNameDuplicate);
            NpyHeader header;
            using (var stream = entry.Open())
                header = NpyHeader.Read(stream, $"{Name}: {entry.FullName}");
            long expected = checked(header.DataOffset + header.DataBytes);
            if (entry.Length != expected)
                throw new TensorFormatException(Name, $"entry '{entry.FullName}' declares {entry.Length} bytes but its .npy header (shape {header.ShapeText}, {header.DType.Name}) needs {expected}.", ErrorIds.NpzEntryInvalid);
            _entries[tensorName] = (entry, header.DataOffset);
            tensors.Add(new StoredTensor
            {
                Name = tensorName,
                DType = header.DType,
                StoredDType = header.DType.Descr,
                Shape = header.Shape,
                FortranOrder = header.FortranOrder,
                Index = tensors.Count,
            });
        }
        return tensors;
    }

    /// <summary>Names that would escape a folder, and sizes deflate cannot produce, are refused up front.</summary>
    private void CheckEntry(ZipArchiveEntry entry)
    {
        string entryName = entry.FullName;
        if (entryName.Length == 0 || entryName.StartsWith('/') || entryName.StartsWith('\\') || entryName.Contains(':')
            || entryName.Split('/', '\\').Any(part => part == ".."))
            throw new TensorFormatException(Name, $"entry name '{entryName}' is absolute or climbs out of the archive ('..').", ErrorIds.ArchiveInvalid);
        if (entry.Length < 0 || entry.CompressedLength < 0 || entry.Length > Math.Max(1, entry.CompressedLength) * MaxDeflateRatio)
            throw new TensorFormatException(Name, $"entry '{entryName}' claims {entry.Length} bytes from {entry.CompressedLength} compressed: more than deflate can produce.", ErrorIds.ArchiveInvalid);
    }

    private string ReadRecord(ZipArchiveEntry entry)
    {
        if (entry.Length > MaxRecordBytes)
            throw new TensorFormatException(Name, $"entry '{entry.FullName}' is {entry.Length} bytes; a quantization record is at most {MaxRecordBytes}.", ErrorIds.NpzEntryInvalid);
        using var stream = new TensorDataStream(entry.Open(), entry.Length, Name, entry.FullName, ownsSource: true);
        using var reader = new StreamReader(stream, new UTF8Encoding(false, true));
        return reader.ReadToEnd();
    }

    public override Stream OpenTensor(StoredTensor tensor)
    {
        var (entry, dataOffset) = _entries[tensor.Name];
        var stream = entry.Open();
        // Skip the header (re-read: entry streams are not seekable when deflated).
        Span<byte> skip = stackalloc byte[4096];
        for (long left = dataOffset; left > 0;)
        {
            int n = stream.Read(skip[..(int)Math.Min(skip.Length, left)]);
            if (n == 0) throw new TensorFormatException(Name, $"entry '{entry.FullName}' ends inside its header.", ErrorIds.TensorDataTruncated);
            left -= n;
        }
        return new TensorDataStream(stream, tensor.ByteCount, Name, tensor.Name, ownsSource: true);
    }

    public override void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken)
    {
        using var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        var byName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var entry in _archive.Entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Each entry keeps its name and its compression (stored or deflated).
            bool stored = entry.CompressedLength == entry.Length;
            var copy = archive.CreateEntry(entry.FullName, stored ? CompressionLevel.NoCompression : CompressionLevel.Optimal);
            copy.LastWriteTime = entry.LastWriteTime;
            using var destination = copy.Open();
            if (entry.FullName.EndsWith(".npy", StringComparison.Ordinal) && byName.TryGetValue(entry.FullName[..^4], out var tensor)
                && rewrite(tensor) is { } rewriter)
            {
                NpyHeader.Write(destination, tensor.DType, tensor.Shape);
                using var source = OpenTensor(tensor);
                rewriter(tensor, source, destination);
            }
            else
            {
                using var source = new TensorDataStream(entry.Open(), entry.Length, Name, entry.FullName, ownsSource: true);
                source.CopyTo(destination);
            }
        }
    }

    /// <summary>Writes tensors as a stored .npz (what <c>np.savez</c> writes), with the quantization record when given.</summary>
    internal static void Write(Stream output, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        using var archive = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true);
        foreach (var tensor in tensors)
        {
            var entry = archive.CreateEntry(tensor.Name + ".npy", CompressionLevel.NoCompression);
            using var stream = entry.Open();
            NpyHeader.Write(stream, tensor.DType, tensor.Shape);
            tensor.WriteData(stream);
        }
        if (metadata.TryGetValue(TensorFiles.RecordKey, out string? record))
        {
            using var stream = archive.CreateEntry(RecordEntry, CompressionLevel.NoCompression).Open();
            stream.Write(Encoding.UTF8.GetBytes(record));
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _archive?.Dispose();
            _stream.Dispose();
        }
    }
}
