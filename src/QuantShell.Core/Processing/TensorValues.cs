using QuantShell.Core.Errors;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Processing;

/// <summary>A stored tensor's values read into memory (to choose a quantizer from them, or to measure): once, in C order.</summary>
internal static class TensorValues
{
    /// <summary>
    /// Reads <paramref name="tensor"/> from <paramref name="source"/> (its stored bytes) as float64 for float64 data and
    /// float32 for every other numeric type; <paramref name="sourceName"/> names it in errors.
    /// </summary>
    public static NpyArray Read(Stream source, StoredTensor tensor, string sourceName)
    {
        if (tensor.DType.Kind == DTypeKind.Opaque)
            throw new QuantShellException($"{sourceName}: {tensor.DType.Name} values cannot be read as numbers.", ErrorIds.DTypeNotSupported, QuantShellErrorKind.InvalidData, sourceName);
        long count = tensor.ElementCount;
        if (count > Array.MaxLength)
            throw new QuantShellException($"{sourceName}: shape {tensor.ShapeText} has too many elements to hold in memory at once.", ErrorIds.TensorTooLarge, QuantShellErrorKind.InvalidData, sourceName);
        Array data = tensor.DType.IsDouble ? Decode<double>(source, tensor, (int)count) : Decode<float>(source, tensor, (int)count);
        if (tensor.FortranOrder)
            data = data is double[] d ? NpyArray.FortranToC(d, tensor.Shape) : NpyArray.FortranToC((float[])data, tensor.Shape);
        return new NpyArray(tensor.Shape, data, tensor.DType);
    }

    /// <summary>
    /// Reads a C-order <paramref name="tensor"/> from <paramref name="source"/> straight into its channels along
    /// <paramref name="axis"/>, every axis before which has length 1 (each channel one run of the data,
    /// <see cref="Rules.QuantizerRecipe.ChannelRunAxis"/>): the channels' arrays, as <see cref="Read"/> would decode the
    /// values, without the whole tensor in memory as well.
    /// </summary>
    public static T[][] ReadChannels<T>(Stream source, StoredTensor tensor, int axis) where T : unmanaged
    {
        long channelCount = tensor.Shape[axis], inner = tensor.ElementCount / channelCount;
        var channels = new T[channelCount][];
        for (long c = 0; c < channelCount; c++) channels[c] = new T[inner];
        int perChunk = Math.Max(1, (1 << 20) / tensor.DType.ItemSize);
        var sink = new DecodeIntoChannels<T>(tensor.DType, channels, (int)inner);
        TensorChunks.FromStream(source, tensor.DType.ItemSize, tensor.ElementCount, perChunk, ref sink, truncated: null, CancellationToken.None);
        return channels;
    }

    private static T[] Decode<T>(Stream source, StoredTensor tensor, int count) where T : unmanaged
    {
        var values = new T[count];
        int perChunk = Math.Max(1, (1 << 20) / tensor.DType.ItemSize);
        var sink = new DecodeInto<T>(tensor.DType, values);
        TensorChunks.FromStream(source, tensor.DType.ItemSize, count, perChunk, ref sink, truncated: null, CancellationToken.None);
        return values;
    }

    /// <summary>Decodes each chunk into its place in the array.</summary>
    private readonly struct DecodeInto<T>(DType storedType, T[] values) : IChunkSink where T : unmanaged
    {
        public void Take(ReadOnlySpan<byte> bytes, long start, int count) => ElementConverter.Decode(bytes, storedType, values.AsSpan((int)start, count));
    }

    /// <summary>Decodes each chunk into the channels it covers (a chunk may end in the middle of one).</summary>
    private readonly struct DecodeIntoChannels<T>(DType storedType, T[][] channels, int inner) : IChunkSink where T : unmanaged
    {
        public void Take(ReadOnlySpan<byte> bytes, long start, int count)
        {
            int itemSize = storedType.ItemSize;
            while (count > 0)
            {
                long channel = start / inner;
                int offset = (int)(start - channel * inner), n = Math.Min(count, inner - offset);
                ElementConverter.Decode(bytes[..(n * itemSize)], storedType, channels[channel].AsSpan(offset, n));
                bytes = bytes[(n * itemSize)..];
                start += n;
                count -= n;
            }
        }
    }
}
