using QuantShell.Core.IO;

namespace QuantShell.Core.Formats;

/// <summary>An .npy file as a tensor file: one tensor, named after the file.</summary>
public sealed class NpyTensorFile : TensorFile
{
    private readonly string _path;
    private readonly NpyHeader _header;

    private NpyTensorFile(string path, string name, NpyHeader header) : base(name, TensorFileKind.Npy)
    {
        _path = path;
        _header = header;
        Tensors =
        [
            new StoredTensor
            {
                Name = Path.GetFileNameWithoutExtension(name),
                DType = header.DType,
                StoredDType = header.DType.Descr,
                Shape = header.Shape,
                FortranOrder = header.FortranOrder,
            },
        ];
    }

    public override IReadOnlyList<StoredTensor> Tensors { get; }

    public override string FormatName => $"NPY {_header.MajorVersion}.0";

    public NpyHeader Header => _header;

    public static NpyTensorFile Open(string path, string name)
    {
        using var stream = NpyFiles.OpenRead(path, name);
        return new NpyTensorFile(path, name, NpyHeader.Read(stream, name));
    }

    public override Stream OpenTensor(StoredTensor tensor)
    {
        var stream = NpyFiles.OpenRead(_path, Name);
        stream.Position = _header.DataOffset;
        return new TensorDataStream(stream, tensor.ByteCount, Name, tensor.Name, ownsSource: true);
    }

    public override void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken)
    {
        var tensor = Tensors[0];
        var rewriter = rewrite(tensor);
        // A rewriter writes C order; the copy keeps the file's own order when it copies.
        NpyHeader.Write(output, tensor.DType, tensor.Shape, fortranOrder: rewriter is null && tensor.FortranOrder);
        using var source = OpenTensor(tensor);
        if (rewriter is null) source.CopyTo(output);
        else rewriter(tensor, source, output);
    }

    /// <summary>Writes one tensor as an .npy file.</summary>
    internal static void Write(Stream output, IReadOnlyList<OutputTensor> tensors)
    {
        if (tensors.Count != 1)
            throw new ArgumentException($"An .npy file holds one array; {tensors.Count} were given.", nameof(tensors));
        NpyHeader.Write(output, tensors[0].DType, tensors[0].Shape);
        tensors[0].WriteData(output);
    }
}
