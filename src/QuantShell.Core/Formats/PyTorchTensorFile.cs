using System.Numerics;
using System.Text;
using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Pickle;
using QuantShell.Core.Formats.Zip;

namespace QuantShell.Core.Formats;

/// <summary>
/// A PyTorch checkpoint in torch.save's zip format: <c>ARCHIVE/data.pkl</c> (the pickled object), <c>ARCHIVE/data/KEY</c>
/// (one stored entry per storage, 64-byte aligned), <c>ARCHIVE/version</c> and, from newer versions,
/// <c>ARCHIVE/byteorder</c>. The pickle is read as data by <see cref="PickleReader"/> (allowlisted globals only, nothing
/// called); its tensors are named by their path in the object: state-dict keys, and for nested checkpoints the keys joined
/// with dots (<c>model.conv1.weight</c>), list positions as numbers. Tensors may share a storage, start at an offset and
/// be non-contiguous: <see cref="OpenTensor"/> gathers them into C order, and <see cref="WriteCopy"/> keeps
/// <c>data.pkl</c> as it was and scatters rewritten elements back into their places in each storage.
/// </summary>
public sealed class PyTorchTensorFile : TensorFile
{
    /// <summary>The entry (beside data.pkl) in which an <c>int</c> file records how it was quantized; torch.load ignores it.</summary>
    public const string RecordEntry = "quantshell.json";

    /// <summary>The folder name <see cref="Write"/> uses, as torch.save does for an in-memory buffer.</summary>
    public const string DefaultArchiveName = "archive";

    private const long MaxPickleBytes = 256L << 20;
    private const int MaxNestingDepth = 100;
    private const int StorageAlignment = 64;

    /// <summary>torch.save's legacy (pre-1.6, non-zip) format starts with a pickled magic number.</summary>
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    private readonly SafeFileHandle _handle;
    private readonly ZipReader _archive;
    private readonly string _prefix;
    private readonly Dictionary<string, StorageEntry> _storages = new(StringComparer.Ordinal);
    private readonly List<(StoredTensor Tensor, StorageEntry Storage, StridedView View)> _layouts = new();
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private PyTorchTensorFile(SafeFileHandle handle, string name) : base(name, TensorFileKind.PyTorch)
    {
        _handle = handle;
        _archive = ZipReader.Open(handle, name);
        _prefix = ArchivePrefix();
        CheckArchive();
        var pickle = RequiredEntry("data.pkl", null);
        if (pickle.UncompressedSize > MaxPickleBytes)
            throw new TensorFormatException(Name, $"entry '{pickle.Name}' is {pickle.UncompressedSize} bytes, over the limit of {MaxPickleBytes} for a pickle.", ErrorIds.PickleInvalid);
        byte[] bytes = _archive.ReadAll(pickle);
        var root = PickleReader.Read(bytes, Name, pickle.Name);
        var found = new List<(string Name, PickleTensor Tensor)>();
        long budget = bytes.Length + 16L;
        CollectTensors(root, "", 0, found, ref budget);
        Tensors = Describe(found);
    }

    public override IReadOnlyList<StoredTensor> Tensors { get; }

    public override IReadOnlyDictionary<string, string> Metadata => _metadata;

    public override string FormatName => "PyTorch (torch.save zip)";

    public static PyTorchTensorFile Open(string path, string name)
    {
        var handle = TensorFileHandles.OpenRead(path, name);
        try
        {
            Span<byte> head = stackalloc byte[LegacyMagic.Length];
            int got = RandomAccess.Read(handle, head, 0);
            if (head[..got].SequenceEqual(LegacyMagic))
                throw new TensorFormatException(name, "is a checkpoint in torch.save's legacy (pre-1.6) format, which QuantShell does not read; load and save it again with a current torch.save.", ErrorIds.PyTorchFormatNotSupported);
            if (got < 4 || !head[..4].SequenceEqual("PK\x03\x04"u8))
                throw new TensorFormatException(name, "is not a PyTorch checkpoint in torch.save's zip format.", ErrorIds.TensorFileNotRecognized);
            return new PyTorchTensorFile(handle, name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>True when the bytes start like torch.save's legacy format (recognised only to refuse it clearly).</summary>
    internal static bool IsLegacy(ReadOnlySpan<byte> head) => head.Length >= LegacyMagic.Length && head[..LegacyMagic.Length].SequenceEqual(LegacyMagic);

    /// <summary>All records live in one folder, named after the first entry's, as torch's own reader assumes.</summary>
    private string ArchivePrefix()
    {
        if (_archive.Entries.Count == 0) throw new TensorFormatException(Name, "is an empty zip archive, not a PyTorch checkpoint.", ErrorIds.ArchiveEntryMissing);
        string first = _archive.Entries[0].Name;
        int slash = first.IndexOf('/');
        if (slash <= 0) throw new TensorFormatException(Name, $"entry '{first}' is not inside the archive's folder, as torch.save writes every record.", ErrorIds.ArchiveInvalid);
        return first[..(slash + 1)];
    }

    private void CheckArchive()
    {
        if (_archive.Find(_prefix + "constants.pkl") is not null)
            throw new TensorFormatException(Name, "is a TorchScript archive (torch.jit.save); QuantShell reads checkpoints written by torch.save.", ErrorIds.PyTorchFormatNotSupported);
        var version = _archive.Find(_prefix + ".data/version") ?? RequiredEntry("version", null);
        string versionText = ReadSmallText(version, 64).Trim();
        if (!int.TryParse(versionText, out int formatVersion) || formatVersion < 1)
            throw new TensorFormatException(Name, $"entry '{version.Name}' holds '{versionText}' instead of a format version.", ErrorIds.ArchiveInvalid);
        if (_archive.Find(_prefix + "byteorder") is { } byteOrder)
        {
            string order = ReadSmallText(byteOrder, 64).Trim();
            if (order != "little")
                throw new TensorFormatException(Name, $"its storages are {(order == "big" ? "big-endian" : $"of byte order '{order}'")}; QuantShell reads little-endian checkpoints (load and save it again on a little-endian machine).", ErrorIds.PyTorchFormatNotSupported);
        }
        if (_archive.Find(_prefix + RecordEntry) is { } record)
            _metadata[TensorFiles.RecordKey] = NpzTensorFile.ReadRecord(_archive, record, Name);
    }

    private ZipEntry RequiredEntry(string record, string? tensor) =>
        _archive.Find(_prefix + record)
        ?? throw new TensorFormatException(Name, $"{(tensor is null ? "" : $"tensor '{tensor}': ")}entry '{_prefix + record}' is missing.", ErrorIds.ArchiveEntryMissing);

    private string ReadSmallText(ZipEntry entry, int limit)
    {
        if (entry.UncompressedSize > limit)
            throw new TensorFormatException(Name, $"entry '{entry.Name}' is {entry.UncompressedSize} bytes; at most {limit} are expected.", ErrorIds.ArchiveInvalid);
        return Encoding.ASCII.GetString(_archive.ReadAll(entry));
    }

    /// <summary>Walks the unpickled object and names every tensor by its path (keys joined with dots).</summary>
    private void CollectTensors(object? value, string path, int depth, List<(string, PickleTensor)> found, ref long budget)
    {
        // Shared references could make a small pickle describe an exponential number of paths; the walk may visit about
        // as many values as the pickle has bytes.
        if (--budget < 0) throw new TensorFormatException(Name, "data.pkl refers to the same values too many times (or to itself) to be a checkpoint.", ErrorIds.PickleInvalid);
        if (depth > MaxNestingDepth) throw new TensorFormatException(Name, $"data.pkl nests values deeper than {MaxNestingDepth} levels (or refers to itself).", ErrorIds.PickleInvalid);
        switch (value)
        {
            case PickleTensor tensor:
                found.Add((path.Length == 0 ? Path.GetFileNameWithoutExtension(Name) : path, tensor));
                break;
            case PickleDict dict:
                foreach (var (key, item) in dict.Items)
                {
                    string? segment = key switch { string s => s, long n => n.ToString(System.Globalization.CultureInfo.InvariantCulture), BigInteger b => b.ToString(System.Globalization.CultureInfo.InvariantCulture), _ => null };
                    if (segment is not null) CollectTensors(item, Join(path, segment), depth + 1, found, ref budget);
                }
                break;
            case PickleList list:
                for (int i = 0; i < list.Items.Count; i++) CollectTensors(list.Items[i], Join(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), depth + 1, found, ref budget);
                break;
            case PickleTuple tuple:
                for (int i = 0; i < tuple.Items.Length; i++) CollectTensors(tuple.Items[i], Join(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), depth + 1, found, ref budget);
                break;
        }
    }

    private static string Join(string path, string segment) => path.Length == 0 ? segment : $"{path}.{segment}";

    /// <summary>Checks each tensor against its storage entry and describes it.</summary>
    private List<StoredTensor> Describe(List<(string Name, PickleTensor Tensor)> found)
    {
        var tensors = new List<StoredTensor>(found.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, pickled) in found)
        {
            if (!names.Add(name))
                throw new TensorFormatException(Name, $"two tensors are named '{name}'.", ErrorIds.TensorNameDuplicate);
            var storage = StorageOf(name, pickled.Storage);
            var view = new StridedView(pickled.StorageOffset, pickled.Shape, pickled.Stride);
            long end;
            try
            {
                _ = checked(view.ElementCount * storage.DType.ItemSize);
                end = view.End;
            }
            catch (OverflowException)
            {
                throw new TensorFormatException(Name, $"tensor '{name}': size {NpyHeader.FormatShape(pickled.Shape)} and stride {NpyHeader.FormatShape(pickled.Stride)} describe more elements than can exist.", ErrorIds.TensorLayoutInvalid);
            }
            if (end > storage.ElementCount)
                throw new TensorFormatException(Name, $"tensor '{name}': the view at offset {pickled.StorageOffset} with size {NpyHeader.FormatShape(pickled.Shape)} and stride {NpyHeader.FormatShape(pickled.Stride)} reaches element {end - 1} of storage '{storage.Key}', which holds {storage.ElementCount}.", ErrorIds.TensorLayoutInvalid);
            var stored = new StoredTensor
            {
                Name = name,
                DType = storage.DType,
                StoredDType = TorchDTypeName(storage.DType),
                Shape = pickled.Shape,
                Index = tensors.Count,
            };
            tensors.Add(stored);
            _layouts.Add((stored, storage, view));
        }
        return tensors;
    }

    private StorageEntry StorageOf(string tensor, PickleStorage pickled)
    {
        if (_storages.TryGetValue(pickled.Key, out var known))
        {
            if (known.TypeName != pickled.TypeName || known.ElementCount != pickled.ElementCount)
                throw new TensorFormatException(Name, $"tensor '{tensor}': storage '{pickled.Key}' is described as {pickled.TypeName} of {pickled.ElementCount} elements, but elsewhere as {known.TypeName} of {known.ElementCount}.", ErrorIds.TensorLayoutInvalid);
            return known;
        }
        if (pickled.Key.Length == 0 || pickled.Key.Contains('/') || pickled.Key.Contains('\\'))
            throw new TensorFormatException(Name, $"tensor '{tensor}': storage key '{pickled.Key}' is not a plain name.", ErrorIds.PickleInvalid);
        var entry = RequiredEntry("data/" + pickled.Key, tensor);
        long bytes;
        try
        {
            bytes = checked(pickled.ElementCount * pickled.DType.ItemSize);
        }
        catch (OverflowException)
        {
            bytes = long.MaxValue;
        }
        if (entry.UncompressedSize != bytes)
            throw new TensorFormatException(Name, $"tensor '{tensor}': storage entry '{entry.Name}' holds {entry.UncompressedSize} bytes, but its {pickled.ElementCount} elements of {pickled.TypeName} need {bytes}.", ErrorIds.TensorLayoutInvalid);
        var storage = new StorageEntry(pickled.Key, pickled.TypeName, pickled.DType, pickled.ElementCount, entry);
        _storages[pickled.Key] = storage;
        return storage;
    }

    /// <summary>torch's name of a dtype (<c>torch.float32</c>, <c>torch.bfloat16</c>, ...).</summary>
    internal static string TorchDTypeName(DType dtype) => dtype.Kind switch
    {
        DTypeKind.Bool => "torch.bool",
        DTypeKind.UnsignedInteger when dtype.ItemSize == 1 => "torch.uint8",
        _ => "torch." + dtype.Name,
    };

    public override Stream OpenTensor(StoredTensor tensor)
    {
        if (tensor.Index < 0 || tensor.Index >= _layouts.Count) throw new ArgumentException($"Tensor '{tensor.Name}' is not one of {Name}'s.", nameof(tensor));
        var (stored, storage, view) = _layouts[tensor.Index];
        if (stored.Name != tensor.Name) throw new ArgumentException($"Tensor '{tensor.Name}' is not one of {Name}'s.", nameof(tensor));
        int itemSize = storage.DType.ItemSize;
        var stream = _archive.OpenEntry(storage.Entry);
        try
        {
            if (view.IsContiguous)
            {
                // Not seeking when the view starts the storage lets a whole-storage read check the entry's CRC.
                StreamCopy.Skip(stream, view.Offset * itemSize);
                return new TensorDataStream(stream, tensor.ByteCount, Name, tensor.Name, ownsSource: true);
            }
            // A strided view is gathered from the part of its storage it spans, read once.
            long spanBytes = (view.End - view.Offset) * itemSize;
            if (spanBytes > Array.MaxLength)
                throw new QuantShellException($"{Name}: tensor '{tensor.Name}' is a non-contiguous view spanning {spanBytes} bytes of its storage; at most {Array.MaxLength} can be gathered.", ErrorIds.TensorTooLarge, QuantShellErrorKind.InvalidData, Name);
            var span = new byte[spanBytes];
            StreamCopy.Skip(stream, view.Offset * itemSize);
            stream.ReadExactly(span);
            stream.Dispose();
            return view.Gather(span, view.Offset, itemSize);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies the checkpoint: <c>data.pkl</c> and every other record as they were (raw), and each storage either as it was
    /// or with its rewritten tensors' elements in their places. The storages come in the order of their first tensor, so
    /// rewriters run in the file's order (tensors that share a storage run together); a storage whose rewritten tensors
    /// are contiguous and in order streams through, any other is assembled in memory (bounded by that storage).
    /// </summary>
    public override void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken)
    {
        var rewriters = Tensors.Select(rewrite).ToArray();
        var storageOrder = _layouts.Select(l => l.Storage).Distinct().ToList();
        var storageEntries = storageOrder.Select(s => s.Entry.Name).ToHashSet(StringComparer.Ordinal);
        var writer = new ZipWriter(output);
        bool storagesWritten = false;
        foreach (var entry in _archive.Entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!storageEntries.Contains(entry.Name))
            {
                writer.AddRawCopy(_archive, entry, StorageAlignment, cancellationToken);
                continue;
            }
            if (storagesWritten) continue;
            storagesWritten = true;
            foreach (var storage in storageOrder)
            {
                var rewritten = _layouts.Where(l => ReferenceEquals(l.Storage, storage) && rewriters[l.Tensor.Index] is not null).ToList();
                if (rewritten.Count == 0) writer.AddRawCopy(_archive, storage.Entry, StorageAlignment, cancellationToken);
                else WriteStorage(writer, storage, rewritten.Select(l => (l.Tensor, l.View, rewriters[l.Tensor.Index]!)).ToList(), cancellationToken);
            }
        }
        writer.Finish();
    }

    private void WriteStorage(ZipWriter writer, StorageEntry storage, List<(StoredTensor Tensor, StridedView View, TensorRewriter Rewriter)> rewritten, CancellationToken cancellationToken)
    {
        int itemSize = storage.DType.ItemSize;
        long storageBytes = storage.Entry.UncompressedSize;
        bool streams = rewritten.All(r => r.View.IsContiguous);
        for (int i = 1; streams && i < rewritten.Count; i++)
            streams = rewritten[i].View.Offset >= rewritten[i - 1].View.End;
        if (streams)
        {
            writer.AddEntry(storage.Entry.Name, deflate: false, storageBytes, destination =>
            {
                using var source = _archive.OpenEntry(storage.Entry);
                long at = 0;
                foreach (var (tensor, view, rewriter) in rewritten)
                {
                    StreamCopy.CopyExactly(source, destination, view.Offset * itemSize - at, cancellationToken);
                    using var tensorSource = new TensorDataStream(source, tensor.ByteCount, Name, tensor.Name, ownsSource: false);
                    BoundedOutputStream.Run(rewriter, tensor, tensorSource, destination);
                    StreamCopy.Skip(tensorSource, tensorSource.Length - tensorSource.Position); // what the rewriter left unread
                    at = view.Offset * itemSize + tensor.ByteCount;
                }
                StreamCopy.CopyExactly(source, destination, storageBytes - at, cancellationToken);
            }, StorageAlignment);
            return;
        }
        if (storageBytes > Array.MaxLength)
            throw new QuantShellException($"{Name}: storage '{storage.Key}' ({storageBytes} bytes) holds overlapping or non-contiguous tensors to rewrite ('{rewritten[0].Tensor.Name}'); at most {Array.MaxLength} bytes can be assembled.", ErrorIds.TensorTooLarge, QuantShellErrorKind.InvalidData, Name);
        var buffer = new byte[storageBytes];
        using (var original = _archive.OpenEntry(storage.Entry))
            original.ReadExactly(buffer);
        foreach (var (tensor, view, rewriter) in rewritten)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Each rewriter reads the original values (from the file), not those an overlapping view was given.
            using var source = OpenTensor(tensor);
            BoundedOutputStream.Run(rewriter, tensor, source, view.Scatter(buffer, 0, itemSize));
        }
        writer.AddEntry(storage.Entry.Name, deflate: false, storageBytes, destination => destination.Write(buffer), StorageAlignment);
    }

    /// <summary>
    /// Writes a new checkpoint that <c>torch.load</c> (weights_only too) reads as an <c>OrderedDict</c> of name → tensor:
    /// one contiguous storage per tensor, and the quantization record as <c>archive/quantshell.json</c> when given.
    /// </summary>
    internal static void Write(Stream output, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        OutputTensors.CheckAll(tensors);
        string prefix = DefaultArchiveName + "/";
        byte[] pickle = PickleWriter.StateDict(tensors.Select((t, i) => (t.Name, StorageTypeName(t.DType), i.ToString(System.Globalization.CultureInfo.InvariantCulture), t.ElementCount, t.Shape)).ToList());
        var writer = new ZipWriter(output);
        writer.AddEntry(prefix + "data.pkl", deflate: false, pickle.Length, stream => stream.Write(pickle), StorageAlignment);
        writer.AddEntry(prefix + "byteorder", deflate: false, 6, stream => stream.Write("little"u8), StorageAlignment);
        for (int i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors[i];
            writer.AddEntry(prefix + "data/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), deflate: false, tensor.ByteCount,
                stream => OutputTensors.WriteExactly(tensor, stream), StorageAlignment);
        }
        writer.AddEntry(prefix + "version", deflate: false, 2, stream => stream.Write("3\n"u8), StorageAlignment);
        if (metadata.TryGetValue(TensorFiles.RecordKey, out string? record))
        {
            byte[] bytes = Encoding.UTF8.GetBytes(record);
            writer.AddEntry(prefix + RecordEntry, deflate: false, bytes.Length, stream => stream.Write(bytes), StorageAlignment);
        }
        writer.Finish();
    }

    private static string StorageTypeName(DType dtype) => dtype with { BigEndian = false } switch
    {
        { Kind: DTypeKind.Float, ItemSize: 4 } => "FloatStorage",
        { Kind: DTypeKind.Float, ItemSize: 8 } => "DoubleStorage",
        { Kind: DTypeKind.Float, ItemSize: 2 } => "HalfStorage",
        { Kind: DTypeKind.BFloat } => "BFloat16Storage",
        { Kind: DTypeKind.SignedInteger, ItemSize: 8 } => "LongStorage",
        { Kind: DTypeKind.SignedInteger, ItemSize: 4 } => "IntStorage",
        { Kind: DTypeKind.SignedInteger, ItemSize: 2 } => "ShortStorage",
        { Kind: DTypeKind.SignedInteger, ItemSize: 1 } => "CharStorage",
        { Kind: DTypeKind.UnsignedInteger, ItemSize: 1 } => "ByteStorage",
        { Kind: DTypeKind.Bool } => "BoolStorage",
        _ => throw new ArgumentException($"PyTorch checkpoints hold no {dtype.Name} tensors QuantShell can write.", nameof(dtype)),
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing) _handle.Dispose();
    }

    private sealed record StorageEntry(string Key, string TypeName, DType DType, long ElementCount, ZipEntry Entry);
}
