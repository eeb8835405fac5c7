using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using QuantShell.Core.Diagnostics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Kernels;

namespace QuantShell.Core.Processing;

/// <summary>
/// The streaming core of every file path: elements read in chunks from a stream (C order), decoded where their type is
/// not the compute type, run through the fused kernel, encoded and written, with the writing overlapped on another core
/// for large inputs. Memory is a few chunk buffers whatever the tensor's size.
/// </summary>
internal static class StreamingQuantizer
{
    /// <summary>
    /// Quantizes <paramref name="count"/> elements of <paramref name="inputType"/> from <paramref name="input"/> into
    /// <paramref name="outputType"/> bytes on <paramref name="output"/>. <paramref name="truncated"/> is the error when the
    /// input ends early. Returns the C-order index of the first non-finite element, or -1.
    /// </summary>
    public static long Run<T>(Stream input, DType inputType, long count, Stream output, DType outputType, QuantizationPlan plan,
                              FileQuantizeOptions options, ref KernelStats stats, Func<Exception> truncated, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int itemSize = inputType.ItemSize;
        int perChunk = (int)Math.Max(1, Math.Min(options.ChunkBytes / itemSize, Math.Max(1, count)));
        // Buffers come from the shared pool: a pipeline over thousands of small files allocates almost nothing.
        byte[] raw = ArrayPool<byte>.Shared.Rent(perChunk * itemSize);
        // float32 and float64 little-endian data is used in place; other types are decoded into a work buffer.
        bool direct = inputType == DType.Float32 && typeof(T) == typeof(float) || inputType == DType.Float64 && typeof(T) == typeof(double);
        bool directOut = outputType.Kind == DTypeKind.Float && outputType.ItemSize == Marshal.SizeOf<T>();
        T[]? work = direct ? null : ArrayPool<T>.Shared.Rent(perChunk);
        T[]? quantizedWork = directOut ? null : ArrayPool<T>.Shared.Rent(perChunk);
        long firstNonFinite = -1;
        try
        {
            int outChunkBytes = perChunk * outputType.ItemSize;
            // Overlap writing with reading and quantizing once there are a few chunks; small tensors stay on one thread.
            using var writer = ChunkWriter.Create(output, outChunkBytes, background: count > 4L * perChunk);
            using var mapped = direct ? MappedInput.TryOpen(input, count * itemSize) : null;
            if (mapped is not null)
            {
                // float32/float64 of a regular file: the kernel reads the mapped page cache, no copy into a buffer.
                long windowElements = MappedInput.WindowBytes / itemSize;
                for (long windowStart = 0; windowStart < count; windowStart += windowElements)
                {
                    int inWindow = (int)Math.Min(windowElements, count - windowStart);
                    using var window = mapped.Map(windowStart * itemSize, inWindow * itemSize, truncated);
                    for (int offset = 0; offset < inWindow; offset += perChunk)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        int n = Math.Min(perChunk, inWindow - offset);
                        var bytes = window.Bytes.Slice(offset * itemSize, n * itemSize);
                        // A zip entry checks its CRC-32 over the bytes, chunk by chunk while they are in the cache.
                        using (Timeline.Time(TimelinePhase.Read, bytes.Length)) mapped.Observe(bytes);
                        var source = MemoryMarshal.Cast<byte, T>(bytes);
                        Quantize(source, windowStart + offset, writer, outputType, directOut, quantizedWork, plan, ref stats, ref firstNonFinite);
                    }
                }
                mapped.Consumed(input);
            }
            else
            {
                for (long start = 0; start < count; start += perChunk)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(perChunk, count - start);
                    var bytes = raw.AsSpan(0, n * itemSize);
                    int got;
                    using (Timeline.Time(TimelinePhase.Read, bytes.Length)) got = input.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
                    if (got < bytes.Length) throw truncated();
                    ReadOnlySpan<T> source;
                    if (direct) source = MemoryMarshal.Cast<byte, T>(bytes);
                    else
                    {
                        using (Timeline.Time(TimelinePhase.Kernel)) ElementConverter.Decode(bytes, inputType, work.AsSpan(0, n));
                        source = work.AsSpan(0, n);
                    }
                    Quantize(source, start, writer, outputType, directOut, quantizedWork, plan, ref stats, ref firstNonFinite);
                }
            }
            writer.Complete();
            return firstNonFinite;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            if (work is not null) ArrayPool<T>.Shared.Return(work);
            if (quantizedWork is not null) ArrayPool<T>.Shared.Return(quantizedWork);
        }
    }

    /// <summary>Quantizes values already in memory into <paramref name="outputType"/> bytes on <paramref name="output"/>; returns the index of the first non-finite value, or -1.</summary>
    public static long Run<T>(T[] values, Stream output, DType outputType, QuantizationPlan plan, FileQuantizeOptions options,
                              ref KernelStats stats, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        long firstNonFinite = -1;
        int perChunk = Math.Max(1, options.ChunkBytes / outputType.ItemSize);
        var quantized = ArrayPool<T>.Shared.Rent(Math.Min(perChunk, Math.Max(1, values.Length)));
        var bytes = ArrayPool<byte>.Shared.Rent(Math.Min(perChunk, Math.Max(1, values.Length)) * outputType.ItemSize);
        try
        {
            for (int start = 0; start < values.Length; start += perChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Math.Min(perChunk, values.Length - start);
                var source = values.AsSpan(start, n);
                long before = stats.NonFinite;
                plan.Apply<T>(source, quantized.AsSpan(0, n), start, ref stats);
                if (stats.NonFinite > before && firstNonFinite < 0) firstNonFinite = start + NonFiniteInput.IndexOf<T>(source);
                ElementConverter.Encode<T>(quantized.AsSpan(0, n), outputType, bytes.AsSpan(0, n * outputType.ItemSize));
                output.Write(bytes, 0, n * outputType.ItemSize);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(quantized);
            ArrayPool<byte>.Shared.Return(bytes);
        }
        return firstNonFinite;
    }

    /// <summary>Quantizes one chunk into a buffer of the writer and hands it over.</summary>
    private static void Quantize<T>(ReadOnlySpan<T> source, long start, ChunkWriter writer, DType outputType, bool directOut, T[]? quantizedWork,
                                    QuantizationPlan plan, ref KernelStats stats, ref long firstNonFinite)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int n = source.Length;
        byte[] outBytes;
        using (Timeline.Time(TimelinePhase.WaitForWriter)) outBytes = writer.Rent();
        var kernelTimer = Timeline.Time(TimelinePhase.Kernel);
        Span<T> destination = directOut ? MemoryMarshal.Cast<byte, T>(outBytes.AsSpan(0, n * outputType.ItemSize)) : quantizedWork.AsSpan(0, n);
        long before = stats.NonFinite;
        plan.Apply(source, destination, start, ref stats);
        // Without -AllowNonFinite the input fails, but reading on gives the error its true count.
        if (stats.NonFinite > before && firstNonFinite < 0) firstNonFinite = start + NonFiniteInput.IndexOf(source);
        if (!directOut) ElementConverter.Encode<T>(destination, outputType, outBytes.AsSpan(0, n * outputType.ItemSize));
        kernelTimer.Dispose();
        writer.Submit(outBytes, n * outputType.ItemSize);
    }
}
