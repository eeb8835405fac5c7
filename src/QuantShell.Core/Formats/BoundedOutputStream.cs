namespace QuantShell.Core.Formats;

/// <summary>
/// What a <see cref="TensorRewriter"/> writes into: exactly the tensor's byte count may pass, so a rewriter that writes too
/// much or too little cannot shift or corrupt the rest of the file (it is a bug, reported as such).
/// </summary>
internal sealed class BoundedOutputStream(Stream inner, StoredTensor tensor) : WriteOnlyStream
{
    public long Written { get; private set; }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (buffer.Length > tensor.ByteCount - Written)
            throw new InvalidOperationException($"The rewriter of tensor '{tensor.Name}' wrote more than its {tensor.ByteCount} bytes.");
        inner.Write(buffer);
        Written += buffer.Length;
    }

    /// <summary>Runs <paramref name="rewriter"/> on <paramref name="tensor"/> and checks it wrote the tensor's size.</summary>
    public static void Run(TensorRewriter rewriter, StoredTensor tensor, Stream source, Stream destination)
    {
        var bounded = new BoundedOutputStream(destination, tensor);
        rewriter(tensor, source, bounded);
        if (bounded.Written != tensor.ByteCount)
            throw new InvalidOperationException($"The rewriter of tensor '{tensor.Name}' wrote {bounded.Written} of its {tensor.ByteCount} bytes.");
    }
}
