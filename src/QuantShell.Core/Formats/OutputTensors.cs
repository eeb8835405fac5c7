namespace QuantShell.Core.Formats;

/// <summary>Runs an <see cref="OutputTensor"/>'s writer and checks it wrote exactly the tensor's byte count.</summary>
internal static class OutputTensors
{
    public static void WriteExactly(OutputTensor tensor, Stream destination)
    {
        var counting = new CountingOutputStream(destination);
        tensor.WriteData(counting);
        if (counting.Count != tensor.ByteCount)
            throw new InvalidOperationException($"Tensor '{tensor.Name}' ({tensor.DType.Name}, {string.Join("x", tensor.Shape)}) wrote {counting.Count} bytes, not {tensor.ByteCount}.");
    }

    /// <summary>Checks names are unique and types little-endian before anything is written.</summary>
    public static void CheckAll(IReadOnlyList<OutputTensor> tensors)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            if (!names.Add(tensor.Name)) throw new ArgumentException($"Two output tensors are named '{tensor.Name}'.", nameof(tensors));
            if (tensor.DType.BigEndian) throw new ArgumentException($"Output tensor '{tensor.Name}' is big-endian; files are written little-endian.", nameof(tensors));
            if (tensor.Shape.Any(d => d < 0)) throw new ArgumentException($"Output tensor '{tensor.Name}' has a negative dimension.", nameof(tensors));
        }
    }

    private sealed class CountingOutputStream(Stream inner) : WriteOnlyStream
    {
        public long Count { get; private set; }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }
    }
}
