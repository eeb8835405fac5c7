using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// Opens and writes tensor files of every kind QuantShell knows: recognised by content (the .npy magic, a zip's entries,
/// a safetensors header), with the extension deciding only where the content cannot (ONNX, a protobuf without magic).
/// </summary>
public static class TensorFiles
{
    /// <summary>The metadata key (and .npz entry, ONNX metadata_props key) under which a quantized file records its quantizers.</summary>
    public const string RecordKey = "quantshell";

    /// <summary>The kinds of file QuantShell reads, as error messages list them.</summary>
    public const string KindsRead = ".npy, .npz, .safetensors, PyTorch checkpoints in torch.save's zip format (.pt, .pth, .bin, .ckpt) and ONNX models (.onnx)";

    /// <summary>The error for a file of no kind QuantShell reads: it lists the kinds it does.</summary>
    internal static TensorFormatException NotRecognized(string name) =>
        new(name, $"is not a tensor file QuantShell reads; it reads {KindsRead}.", ErrorIds.TensorFileNotRecognized);

    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The kind of a file, from its first bytes and its name; null when QuantShell does not read it.</summary>
    public static TensorFileKind? Recognize(string path)
    {
        // A FIFO or device reports no size: reading ahead would take bytes its one reader needs; the name decides.
        if (IO.FileLength.Of(new FileInfo(path)) < 8) return null;
        Span<byte> head = stackalloc byte[16];
        int got;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..got];
        if (head.StartsWith(NpyMagic)) return TensorFileKind.Npy;
        if (head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8))
            return ZipKind(path);
        if (LooksLikeSafetensors(head)) return TensorFileKind.Safetensors;
        if (PyTorchTensorFile.IsLegacy(head)) return TensorFileKind.PyTorch; // recognised, to be refused clearly
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return TensorFileKind.Onnx;
        return null;
    }

    /// <summary>
    /// <see cref="Recognize"/> for an error about a file given in the wrong place: null also when it cannot be read (the
    /// error being reported is about something else).
    /// </summary>
    public static TensorFileKind? KindOf(string path)
    {
        try
        {
            return Recognize(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>A kind of file in words, for such errors: "an .npy file", "a PyTorch checkpoint", ...</summary>
    public static string Describe(TensorFileKind kind) => kind switch
    {
        TensorFileKind.Npy => "an .npy file",
        TensorFileKind.Npz => "an .npz file",
        TensorFileKind.Safetensors => "a safetensors file",
        TensorFileKind.PyTorch => "a PyTorch checkpoint",
        TensorFileKind.Onnx => "an ONNX model",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Opens a tensor file; <paramref name="name"/> (default: the path) names it in errors.</summary>
    public static TensorFile Open(string path, string? name = null)
    {
        name ??= path;
        TensorFileKind? kind;
        try
        {
            kind = Recognize(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new QuantShellException($"{name}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex);
        }
        return kind switch
        {
            TensorFileKind.Npy => NpyTensorFile.Open(path, name),
            TensorFileKind.Npz => NpzTensorFile.Open(path, name),
            TensorFileKind.Safetensors => SafetensorsTensorFile.Open(path, name),
            TensorFileKind.PyTorch => PyTorchTensorFile.Open(path, name),
            TensorFileKind.Onnx => Onnx.OnnxTensorFile.Open(path, name),
            _ => throw NotRecognized(name),
        };
    }

    /// <summary>Writes a new file of <paramref name="kind"/> holding <paramref name="tensors"/> (in order) and the metadata.</summary>
    public static void Write(TensorFileKind kind, Stream output, IReadOnlyList<OutputTensor> tensors,
                             IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        switch (kind)
        {
            case TensorFileKind.Npy: NpyTensorFile.Write(output, tensors); break;
            case TensorFileKind.Npz: NpzTensorFile.Write(output, tensors, metadata); break;
            case TensorFileKind.Safetensors: SafetensorsTensorFile.Write(output, tensors, metadata); break;
            case TensorFileKind.PyTorch: PyTorchTensorFile.Write(output, tensors, metadata); break;
            default: throw new NotSupportedException($"Writing {kind} files from scratch is not supported.");
        }
    }

    /// <summary>Names PyTorch checkpoints commonly have; they decide only when a zip's index cannot be read.</summary>
    public static readonly IReadOnlyList<string> PyTorchExtensions = [".pt", ".pth", ".bin", ".ckpt"];

    /// <summary>
    /// The file names of the tensor files QuantShell reads, as tab completion offers them (the content decides the kind
    /// when a file is read; these are only what such files are usually called).
    /// </summary>
    public static readonly IReadOnlyList<string> Extensions = [".npy", ".npz", ".safetensors", .. PyTorchExtensions, ".onnx"];

    /// <summary>
    /// A zip holding <c>FOLDER/data.pkl</c> is a PyTorch checkpoint, any other an .npz, unless it has a PyTorch
    /// checkpoint's name (or its index cannot be read): then its name decides, so that the reader of the kind the user
    /// meant reports what is wrong with it.
    /// </summary>
    private static TensorFileKind ZipKind(string path)
    {
        if (PyTorchExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase))) return TensorFileKind.PyTorch;
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var archive = Zip.ZipReader.Open(handle, path);
            return archive.Entries.Any(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal) && e.Name.IndexOf('/') == e.Name.Length - 9)
                ? TensorFileKind.PyTorch
                : TensorFileKind.Npz;
        }
        catch (TensorFormatException)
        {
            return TensorFileKind.Npz;
        }
    }

    // 8 bytes of little-endian header length, then a JSON object.
    private static bool LooksLikeSafetensors(ReadOnlySpan<byte> head)
    {
        if (head.Length < 9) return false;
        ulong length = BitConverter.ToUInt64(head);
        return length >= 2 && head[8] == (byte)'{';
    }
}
