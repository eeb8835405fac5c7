using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// A file of named tensors opened for reading: .npy, .npz, safetensors, a PyTorch checkpoint, an ONNX model. The tensors
/// are listed from the file's index or header alone; values are read on demand, each tensor once, as a stream (so
/// memory stays bounded by what a caller keeps). Every format checks what its index claims against the file before it
/// allocates anything, and refuses what it cannot read safely with a <see cref="TensorFormatException"/> naming the file
/// and the tensor.
/// </summary>
public abstract class TensorFile : IDisposable
{
    protected TensorFile(string name, TensorFileKind kind)
    {
        Name = name;
        Kind = kind;
    }

    /// <summary>The file as the user named it (errors start with it).</summary>
    public string Name { get; }

    public TensorFileKind Kind { get; }

    /// <summary>The tensors, in the file's own order.</summary>
    public abstract IReadOnlyList<StoredTensor> Tensors { get; }

    /// <summary>Key/value metadata of the file (safetensors <c>__metadata__</c>, ...); empty when the format has none.</summary>
    public virtual IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

    /// <summary>A short description of the format, e.g. <c>NPY 1.0</c>, <c>safetensors</c>.</summary>
    public virtual string FormatName => Kind.ToString();

    /// <summary>
    /// The tensor's element bytes as stored (its <see cref="StoredTensor.DType"/>'s byte order), in C order (Fortran order
    /// for an .npy file that says so): exactly <see cref="StoredTensor.ByteCount"/> bytes, or a clear error.
    /// </summary>
    public abstract Stream OpenTensor(StoredTensor tensor);

    /// <summary>
    /// Writes a copy of the file to <paramref name="output"/>: the same kind, the same tensors with the same names, dtypes,
    /// shapes (and strides, keys, metadata, everything else the format holds); each tensor for which
    /// <paramref name="rewrite"/> returns a rewriter gets the bytes it writes, every other one is copied byte for byte.
    /// <paramref name="rewrite"/> is asked once per tensor; rewriters run in the file's order.
    /// </summary>
    public abstract void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken);

    /// <summary>The tensor of that name.</summary>
    public StoredTensor Tensor(string name) =>
        Tensors.FirstOrDefault(t => t.Name == name)
        ?? throw new TensorFormatException(Name, $"has no tensor named '{name}'.", ErrorIds.TensorNotFound);

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing) { }
}
