using System.Buffers;
using System.Runtime.InteropServices;
using QuantShell.Core.Diagnostics;

namespace QuantShell.Core.Processing;

/// <summary>What a streaming path does with each chunk of a tensor's elements: quantize, encode or decode it, and write it.</summary>
internal interface IChunkSink
{
    /// <summary>
    /// Takes <paramref name="count"/> elements, the C-order flat indices from <paramref name="start"/> on, as they are
    /// stored (<paramref name="bytes"/>); the bytes are valid only during the call.
    /// </summary>
    void Take(ReadOnlySpan<byte> bytes, long start, int count);
}

/// <summary>
/// The chunk loop of every streaming path: a tensor's elements handed to a sink a chunk at a time, from a stream (read
/// into one pooled buffer) or from memory. Memory stays a few chunks whatever the tensor's size, and the chunks are the
/// same whichever source they come from.
/// </summary>
internal static class TensorChunks
{
    /// <summary>
    /// Hands the <paramref name="count"/> elements of <paramref name="itemSize"/> bytes that <paramref name="input"/>
    /// holds next to <paramref name="sink"/>, <paramref name="perChunk"/> at a time. An input that ends early throws
    /// <paramref name="truncated"/> (null: the <see cref="EndOfStreamException"/> of a short read).
    /// </summary>
    /// <remarks>
    /// Read, never mapped: a mapped file that another process truncates faults (SIGBUS) on the next access, which ends
    /// the process; a read just comes back short, and the input fails with an error naming it.
    /// </remarks>
    public static void FromStream<TSink>(Stream input, int itemSize, long count, int perChunk, ref TSink sink, Func<Exception>? truncated,
                                         CancellationToken cancellationToken)
        where TSink : struct, IChunkSink
    {
        // Buffers come from the shared pool: a pipeline over thousands of small files allocates almost nothing.
        byte[] raw = ArrayPool<byte>.Shared.Rent((int)Math.Min(perChunk, Math.Max(1, count)) * itemSize);
        try
        {
            for (long start = 0; start < count; start += perChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = (int)Math.Min(perChunk, count - start);
                var bytes = raw.AsSpan(0, n * itemSize);
                using (Timeline.Time(TimelinePhase.Read, bytes.Length))
                {
                    if (truncated is null) input.ReadExactly(bytes);
                    else if (input.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) < bytes.Length) throw truncated();
                }
                sink.Take(bytes, start, n);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
        }
    }

    /// <summary>Hands <paramref name="values"/>, already in memory, to <paramref name="sink"/> <paramref name="perChunk"/> at a time.</summary>
    public static void FromMemory<T, TSink>(ReadOnlySpan<T> values, int perChunk, ref TSink sink, CancellationToken cancellationToken)
        where T : unmanaged
        where TSink : struct, IChunkSink
    {
        for (int start = 0; start < values.Length; start += perChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = Math.Min(perChunk, values.Length - start);
            sink.Take(MemoryMarshal.AsBytes(values.Slice(start, n)), start, n);
        }
    }
}
