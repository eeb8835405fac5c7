namespace QuantShell.Core.Formats;

/// <summary>
/// Produces a tensor's new bytes in a copy of its file: reads the stored bytes from <paramref name="source"/> (as
/// <see cref="TensorFile.OpenTensor"/> yields them) and writes exactly <see cref="StoredTensor.ByteCount"/> bytes of the
/// same dtype, little-endian, in C order, to <paramref name="destination"/>.
/// </summary>
public delegate void TensorRewriter(StoredTensor tensor, Stream source, Stream destination);
