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
/// The fake-quantizing core of every file path: elements in chunks (<see cref="TensorChunks"/>), decoded where their
/// type is not the compute type, run through the fused kernel, encoded and written, with the writing overlapped on
/// another core for large inputs. Memory is a few chunk buffers whatever the tensor's size.
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
        var sink = new FakeQuantizeSink<T>(inputType, count, perChunk, output, outputType, plan, stats);
        try
        {
            TensorChunks.FromStream(input, itemSize, count, perChunk, ref sink, truncated, cancellationToken);
            return sink.Complete(out stats);
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>
    /// Quantizes values already in memory (read whole, to choose their quantizer or to reorder them) into
    /// <paramref name="outputType"/> bytes on <paramref name="output"/>. Returns the index of the first non-finite element, or -1.
    /// </summary>
    public static long Run<T>(T[] values, Stream output, DType outputType, QuantizationPlan plan, FileQuantizeOptions options,
                              ref KernelStats stats, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int perChunk = (int)Math.Max(1, Math.Min(options.ChunkBytes / outputType.ItemSize, Math.Max(1, values.Length)));
        var inputType = typeof(T) == typeof(double) ? DType.Float64 : DType.Float32;
        var sink = new FakeQuantizeSink<T>(inputType, values.Length, perChunk, output, outputType, plan, stats);
        try
        {
            TensorChunks.FromMemory<T, FakeQuantizeSink<T>>(values, perChunk, ref sink, cancellationToken);
            return sink.Complete(out stats);
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>Quantizes each chunk into a buffer of a <see cref="ChunkWriter"/> and hands it over.</summary>
    private struct FakeQuantizeSink<T> : IChunkSink, IDisposable
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly DType _inputType, _outputType;
        private readonly QuantizationPlan _plan;
        private readonly ChunkWriter _writer;
        private readonly bool _directOut;
        private T[]? _work, _quantizedWork;
        private KernelStats _stats;
        private long _firstNonFinite;

        public FakeQuantizeSink(DType inputType, long count, int perChunk, Stream output, DType outputType, QuantizationPlan plan, KernelStats stats)
        {
            _inputType = inputType;
            _outputType = outputType;
            _plan = plan;
            _stats = stats;
            _firstNonFinite = -1;
            // float32 and float64 little-endian data is used in place; other types are decoded into a work buffer.
            Direct = inputType == DType.Float32 && typeof(T) == typeof(float) || inputType == DType.Float64 && typeof(T) == typeof(double);
            _directOut = outputType.Kind == DTypeKind.Float && outputType.ItemSize == Marshal.SizeOf<T>();
            _work = Direct ? null : ArrayPool<T>.Shared.Rent(perChunk);
            _quantizedWork = _directOut ? null : ArrayPool<T>.Shared.Rent(perChunk);
            // Overlap writing with reading and quantizing once there are a few chunks; small tensors stay on one thread.
            _writer = ChunkWriter.Create(output, perChunk * outputType.ItemSize, background: count > 4L * perChunk);
        }

        /// <summary>True when the stored elements are the compute type, used as they are.</summary>
        public bool Direct { get; }

        public void Take(ReadOnlySpan<byte> bytes, long start, int n)
        {
            ReadOnlySpan<T> source;
            if (Direct) source = MemoryMarshal.Cast<byte, T>(bytes);
            else
            {
                using (Timeline.Time(TimelinePhase.Kernel)) ElementConverter.Decode(bytes, _inputType, _work.AsSpan(0, n));
                source = _work.AsSpan(0, n);
            }
            byte[] outBytes;
            using (Timeline.Time(TimelinePhase.WaitForWriter)) outBytes = _writer.Rent();
            var kernelTimer = Timeline.Time(TimelinePhase.Kernel);
            Span<T> destination = _directOut ? MemoryMarshal.Cast<byte, T>(outBytes.AsSpan(0, n * _outputType.ItemSize)) : _quantizedWork.AsSpan(0, n);
            long before = _stats.NonFinite;
            _plan.Apply(source, destination, start, ref _stats);
            // Without -AllowNonFinite the input fails, but reading on gives the error its true count.
            if (_stats.NonFinite > before && _firstNonFinite < 0) _firstNonFinite = start + NonFiniteInput.IndexOf(source);
            if (!_directOut) ElementConverter.Encode<T>(destination, _outputType, outBytes.AsSpan(0, n * _outputType.ItemSize));
            kernelTimer.Dispose();
            _writer.Submit(outBytes, n * _outputType.ItemSize);
        }

        /// <summary>Waits for the last write; gives the kernel's statistics and the index of the first non-finite element, or -1.</summary>
        public readonly long Complete(out KernelStats stats)
        {
            _writer.Complete();
            stats = _stats;
            return _firstNonFinite;
        }

        public void Dispose()
        {
            _writer.Dispose();
            if (_work is not null) ArrayPool<T>.Shared.Return(_work);
            if (_quantizedWork is not null) ArrayPool<T>.Shared.Return(_quantizedWork);
            _work = _quantizedWork = null;
        }
    }
}
