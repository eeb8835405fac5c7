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

    private static ReadOnlySpan<byte> NpyMagic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The kind of a file, from its first bytes and its name; null when QuantShell does not read it.</summary>
    public static TensorFileKind? Recognize(string path)
    {
        // A FIFO or device reports no size: reading ahead would take bytes its one reader needs; the name decides.
        if (new FileInfo(path).Length < 8) return null;
        Span<byte> head = stackalloc byte[16];
        int got;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
            got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..got];
        if (head.StartsWith(NpyMagic)) return TensorFileKind.Npy;
        if (head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8))
            return ZipKind(path);
        if (LooksLikeSafetensors(head)) return TensorFileKind.Safetensors;
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return TensorFileKind.Onnx;
        return null;
    }

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
            _ => throw new TensorFormatException(name,
                "is not a tensor file QuantShell reads (.npy, .npz, safetensors, a PyTorch zip checkpoint, .onnx).", ErrorIds.TensorFileNotRecognized),
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
            default: throw new NotSupportedException($"Writing {kind} files from scratch is not supported.");
        }
    }

    /// <summary>An .npz holds .npy entries; a PyTorch checkpoint holds ARCHIVE/data.pkl.</summary>
    private static TensorFileKind? ZipKind(string path)
    {
        try
        {
            using var archive = System.IO.Compression.ZipFile.OpenRead(path);
            if (archive.Entries.Any(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl"))
                return TensorFileKind.PyTorch;
            return TensorFileKind.Npz;
        }
        catch (InvalidDataException)
        {
            return TensorFileKind.Npz; // the .npz reader reports what is wrong with the archive
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
