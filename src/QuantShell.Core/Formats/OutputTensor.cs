namespace QuantShell.Core.Formats;

/// <summary>
/// A tensor of a file being written from scratch (integer codes, scales, dequantized values): its name, type and shape,
/// and the callback that writes exactly its bytes (little-endian, C order) when the writer reaches it.
/// </summary>
public sealed record OutputTensor(string Name, DType DType, long[] Shape, Action<Stream> WriteData)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));

    public long ByteCount => checked(ElementCount * DType.ItemSize);
}
