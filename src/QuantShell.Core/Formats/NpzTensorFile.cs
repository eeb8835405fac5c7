using System.Text;
using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Zip;

namespace QuantShell.Core.Formats;

/// <summary>
/// A NumPy .npz file: a zip of <c>NAME.npy</c> entries, stored (<c>np.savez</c>) or deflated (<c>np.savez_compressed</c>).
/// The archive's index is checked by <see cref="ZipReader"/> (names, sizes, overlaps, zip bombs), and each entry's .npy
/// header against the size the zip declares before any data is read; entries inflate to exactly their size and pass
/// their CRC-32. Entries other than .npy files are kept in copies but are not tensors.
/// </summary>
public sealed class NpzTensorFile : TensorFile
{
    /// <summary>The entry that records how the file was quantized (the <c>int</c> output format).</summary>
    public const string RecordEntry = "quantshell.json";

    internal const int MaxRecordBytes = 16 << 20;

    private readonly SafeFileHandle _handle;
    private readonly ZipReader _archive;
    private readonly Dictionary<string, (ZipEntry Entry, long DataOffset)> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private NpzTensorFile(SafeFileHandle handle, string name) : base(name, TensorFileKind.Npz)
    {
        _handle = handle;
        _archive = ZipReader.Open(handle, name);
        Tensors = ReadIndex();
    }

    public override IReadOnlyList<StoredTensor> Tensors { get; }

    public override IReadOnlyDictionary<string, string> Metadata => _metadata;

    public override string FormatName => "NPZ";

    public static NpzTensorFile Open(string path, string name)
    {
        var handle = TensorFileHandles.OpenRead(path, name);
        try
        {
            return new NpzTensorFile(handle, name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private List<StoredTensor> ReadIndex()
    {
        var tensors = new List<StoredTensor>();
        foreach (var entry in _archive.Entries)
        {
            if (entry.Name == RecordEntry)
            {
                _metadata[TensorFiles.RecordKey] = ReadRecord(_archive, entry, Name);
                continue;
            }
            if (!entry.Name.EndsWith(".npy", StringComparison.Ordinal)) continue;
            string tensorName = entry.Name[..^4];
            NpyHeader header;
            using (var stream = _archive.OpenEntry(entry))
                header = NpyHeader.Read(stream, $"{Name}: entry '{entry.Name}'");
            long expected = checked(header.DataOffset + header.DataBytes);
            if (entry.UncompressedSize != expected)
                throw new TensorFormatException(Name, $"tensor '{tensorName}': entry '{entry.Name}' declares {entry.UncompressedSize} bytes but its .npy header (shape {header.ShapeText}, {header.DType.Name}) needs {expected}.", ErrorIds.NpzEntryInvalid);
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

    /// <summary>Reads a small UTF-8 text entry (the quantization record) of at most <see cref="MaxRecordBytes"/>.</summary>
    internal static string ReadRecord(ZipReader archive, ZipEntry entry, string file)
    {
        if (entry.UncompressedSize > MaxRecordBytes)
            throw new TensorFormatException(file, $"entry '{entry.Name}' is {entry.UncompressedSize} bytes; a quantization record is at most {MaxRecordBytes}.", ErrorIds.ArchiveInvalid);
        byte[] bytes = archive.ReadAll(entry);
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new TensorFormatException(file, $"entry '{entry.Name}' is not UTF-8 text.", ErrorIds.ArchiveInvalid);
        }
    }

    public override Stream OpenTensor(StoredTensor tensor)
    {
        var (entry, dataOffset) = _entries[tensor.Name];
        var stream = _archive.OpenEntry(entry);
        // The header is read through rather than skipped, so that reading the tensor to its end checks the entry's CRC.
        byte[] header = new byte[dataOffset];
        stream.ReadExactly(header);
        return new TensorDataStream(stream, tensor.ByteCount, Name, tensor.Name, ownsSource: true);
    }

    public override void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken)
    {
        var rewriters = Tensors.Select(t => (Tensor: t, Rewriter: rewrite(t))).ToDictionary(p => p.Tensor.Name + ".npy", StringComparer.Ordinal);
        var writer = new ZipWriter(output);
        foreach (var entry in _archive.Entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!rewriters.TryGetValue(entry.Name, out var pair) || pair.Rewriter is null)
            {
                writer.AddRawCopy(_archive, entry, cancellationToken: cancellationToken);
                continue;
            }
            var (tensor, rewriter) = pair;
            // Each entry keeps its compression; a rewritten tensor is written in C order, so its header says so.
            writer.AddEntry(entry.Name, deflate: !entry.IsStored, expectedSize: tensor.ByteCount + NpyHeader.MaxHeaderBytes, destination =>
            {
                NpyHeader.Write(destination, tensor.DType, tensor.Shape);
                using var source = OpenTensor(tensor);
                BoundedOutputStream.Run(rewriter, tensor, source, destination);
            }, dosTime: entry.DosTime, dosDate: entry.DosDate);
        }
        writer.Finish();
    }

    /// <summary>Writes tensors as a stored .npz (what <c>np.savez</c> writes), with the quantization record when given.</summary>
    internal static void Write(Stream output, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        OutputTensors.CheckAll(tensors);
        var writer = new ZipWriter(output);
        foreach (var tensor in tensors)
        {
            writer.AddEntry(tensor.Name + ".npy", deflate: false, expectedSize: tensor.ByteCount + NpyHeader.MaxHeaderBytes, stream =>
            {
                NpyHeader.Write(stream, tensor.DType, tensor.Shape);
                OutputTensors.WriteExactly(tensor, stream);
            });
        }
        if (metadata.TryGetValue(TensorFiles.RecordKey, out string? record))
        {
            byte[] bytes = Encoding.UTF8.GetBytes(record);
            writer.AddEntry(RecordEntry, deflate: false, expectedSize: bytes.Length, stream => stream.Write(bytes));
        }
        writer.Finish();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _handle.Dispose();
    }
}
