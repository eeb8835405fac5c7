using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Processing;

/// <summary>Options for quantizing files.</summary>
public sealed record FileQuantizeOptions
{
    /// <summary>Replace an existing output file.</summary>
    public bool Force { get; init; }

    /// <summary>Keep NaN and saturate ±inf instead of failing on them.</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>Bytes of input read per step when streaming.</summary>
    public int ChunkBytes { get; init; } = 1 << 20;
}

/// <summary>
/// .npy in, .npy out: reads the header, binds the quantizer to the shape, streams the data through the fused kernel
/// in chunks and writes a little-endian, C-order file of the input's float dtype. No TorchSharp, so no libtorch load.
/// </summary>
public static class FileQuantizer
{
    /// <summary>The default output name for an input: <c>x.npy</c> becomes <c>x.q.npy</c> beside it.</summary>
    public static string DefaultOutputPath(string inputPath)
    {
        string directory = Path.GetDirectoryName(inputPath) ?? "";
        string name = Path.GetFileNameWithoutExtension(inputPath);
        return Path.Combine(directory, name + ".q.npy");
    }

    /// <summary>Checks the paths before any work: input exists, output is not the input, may be written.</summary>
    public static void CheckPaths(string inputPath, string outputPath, bool force)
    {
        string input = Path.GetFullPath(inputPath);
        string output = Path.GetFullPath(outputPath);
        if (!File.Exists(input))
            throw new QuantShellException($"{inputPath}: file not found.", "InputFileNotFound", QuantShellErrorKind.InputOutput, inputPath);
        if (SameFile(input, output))
            throw new QuantShellException($"{outputPath}: the output would replace the input file; choose another output path.", "OutputIsInput", QuantShellErrorKind.InputOutput, outputPath);
        AtomicFile.CheckWritable(outputPath, force);
    }

    /// <summary>Quantizes one file into another, atomically.</summary>
    public static QuantizationResult QuantizeFile(string inputPath, string outputPath, IInferableQuantizer quantizer,
                                                  FileQuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FileQuantizeOptions();
        CheckPaths(inputPath, outputPath, options.Force);
        using var input = NpyFiles.OpenRead(inputPath);
        var result = AtomicFile.Write(outputPath, options.Force,
            output => QuantizeStream(input, inputPath, output, quantizer, options, cancellationToken));
        return result with { InputPath = Path.GetFullPath(inputPath), OutputPath = Path.GetFullPath(outputPath) };
    }

    /// <summary>Quantizes an .npy stream into another stream (stdin/stdout, memory). <paramref name="inputName"/> names the input in errors.</summary>
    public static QuantizationResult QuantizeStream(Stream input, string inputName, Stream output, IInferableQuantizer quantizer,
                                                    FileQuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FileQuantizeOptions();
        var clock = Stopwatch.StartNew();
        var header = NpyHeader.Read(input, inputName);
        QuantizationPlan plan;
        try
        {
            plan = quantizer.CreatePlan(header.Shape);
        }
        catch (QuantizerValidationException ex)
        {
            throw new QuantShellException($"{inputName}: {ex.Message}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, inputName, ex);
        }
        var outputType = header.DType.QuantizedOutput;
        NpyHeader.Write(output, outputType, header.Shape);
        var stats = new KernelStats();
        long firstNonFinite = header.DType.Kind == NpyKind.Float && header.DType.ItemSize == 8
            ? Run<double>(input, inputName, output, header, outputType, plan, options, ref stats, cancellationToken)
            : Run<float>(input, inputName, output, header, outputType, plan, options, ref stats, cancellationToken);
        if (stats.NonFinite > 0 && !options.AllowNonFinite)
            throw NonFiniteInput.Create(inputName, stats.NonFinite, NonFiniteInput.Unravel(firstNonFinite, header.Shape));
        var spec = quantizer.Spec;
        return new QuantizationResult
        {
            InputPath = inputName,
            OutputPath = output is FileStream fs ? fs.Name : "-",
            Shape = header.Shape,
            DType = header.DType.Name,
            OutputDType = outputType.Name,
            FortranOrder = header.FortranOrder,
            Target = spec.Target,
            Method = spec.Method,
            NumBits = spec.NumBits,
            PerChannel = spec.PerChannel,
            ChannelAxis = plan.ChannelAxis,
            Scale = quantizer.Parameters.Scales.ToArray(),
            ZeroPoint = quantizer.Parameters.ZeroPoints.ToArray(),
            QuantMin = quantizer.Parameters.QuantMin,
            QuantMax = quantizer.Parameters.QuantMax,
            ElementCount = header.ElementCount,
            NonFiniteCount = stats.NonFinite,
            Mse = stats.MeanSquaredError,
            SqnrDb = stats.SqnrDecibels,
            Quantizer = spec,
            Elapsed = clock.Elapsed,
        };
    }

    // Returns the C-order flat index of the first non-finite element, or -1.
    private static long Run<T>(Stream input, string inputName, Stream output, NpyHeader header, NpyDType outputType,
                               QuantizationPlan plan, FileQuantizeOptions options, ref KernelStats stats, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        long count = header.ElementCount;
        // With at most one axis longer than 1, Fortran and C order are the same sequence: stream it as C order.
        bool reorder = header.FortranOrder && header.Shape.Count(d => d > 1) > 1;
        if (reorder && FortranStreaming.Applies(input, output, header))
            return FortranStreaming.Run<T>((FileStream)input, (FileStream)output, header, outputType, plan, options, ref stats, cancellationToken);
        if (reorder)
        {
            // A pipe in or out: Fortran order is reordered to C order in memory.
            var values = NpyArray.ReadElements<T>(input, header, inputName);
            var quantized = new T[values.Length];
            plan.Apply<T>(values, quantized, 0, ref stats);
            WriteEncoded<T>(output, quantized, outputType, options.ChunkBytes);
            return stats.NonFinite > 0 ? IndexOfNonFinite<T>(values) : -1;
        }
        int itemSize = header.DType.ItemSize;
        int perChunk = (int)Math.Max(1, Math.Min(options.ChunkBytes / itemSize, Math.Max(1, count)));
        // Buffers come from the shared pool: a pipeline over thousands of small files allocates almost nothing.
        byte[] raw = ArrayPool<byte>.Shared.Rent(perChunk * itemSize);
        // float32 and float64 little-endian data is used in place; other types are decoded into a work buffer.
        bool direct = header.DType == NpyDType.Float32 && typeof(T) == typeof(float)
                      || header.DType == NpyDType.Float64 && typeof(T) == typeof(double);
        bool directOut = outputType.ItemSize == Marshal.SizeOf<T>();
        T[]? work = direct ? null : ArrayPool<T>.Shared.Rent(perChunk);
        T[]? quantizedWork = directOut ? null : ArrayPool<T>.Shared.Rent(perChunk);
        try
        {
            return StreamChunks<T>(input, inputName, output, header, outputType, plan, options, ref stats, cancellationToken,
                             perChunk, raw, work, quantizedWork);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            if (work is not null) ArrayPool<T>.Shared.Return(work);
            if (quantizedWork is not null) ArrayPool<T>.Shared.Return(quantizedWork);
        }
    }

    private static long StreamChunks<T>(Stream input, string inputName, Stream output, NpyHeader header, NpyDType outputType,
                                  QuantizationPlan plan, FileQuantizeOptions options, ref KernelStats stats, CancellationToken cancellationToken,
                                  int perChunk, byte[] raw, T[]? work, T[]? quantizedWork)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        long firstNonFinite = -1;
        long count = header.ElementCount;
        int itemSize = header.DType.ItemSize;
        int outChunkBytes = perChunk * outputType.ItemSize;
        bool direct = work is null, directOut = quantizedWork is null;
        // Overlap writing with reading and quantizing once there are a few chunks; small files stay on one thread.
        using var writer = ChunkWriter.Create(output, outChunkBytes, background: count > 4L * perChunk);
        for (long start = 0; start < count; start += perChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int n = (int)Math.Min(perChunk, count - start);
            NpyFiles.ReadExactly(input, raw.AsSpan(0, n * itemSize), inputName, header);
            ReadOnlySpan<T> source;
            if (direct) source = MemoryMarshal.Cast<byte, T>(raw.AsSpan(0, n * itemSize));
            else
            {
                NpyElementConverter.Decode(raw.AsSpan(0, n * itemSize), header.DType, work.AsSpan(0, n));
                source = work.AsSpan(0, n);
            }
            byte[] outBytes = writer.Rent();
            Span<T> destination = directOut ? MemoryMarshal.Cast<byte, T>(outBytes.AsSpan(0, n * outputType.ItemSize)) : quantizedWork.AsSpan(0, n);
            long before = stats.NonFinite;
            plan.Apply(source, destination, start, ref stats);
            // Without -AllowNonFinite the file fails, but reading on gives the error its true count.
            if (stats.NonFinite > before && firstNonFinite < 0) firstNonFinite = start + IndexOfNonFinite(source);
            if (!directOut) NpyElementConverter.Encode<T>(destination, outputType, outBytes.AsSpan(0, n * outputType.ItemSize));
            writer.Submit(outBytes, n * outputType.ItemSize);
        }
        writer.Complete();
        NpyFiles.ExpectEnd(input, inputName, header);
        return firstNonFinite;
    }

    private static void WriteEncoded<T>(Stream output, ReadOnlySpan<T> values, NpyDType outputType, int chunkBytes) where T : unmanaged
    {
        int perChunk = Math.Max(1, chunkBytes / outputType.ItemSize);
        var buffer = new byte[Math.Min(perChunk, Math.Max(1, values.Length)) * outputType.ItemSize];
        for (int start = 0; start < values.Length; start += perChunk)
        {
            int n = Math.Min(perChunk, values.Length - start);
            NpyElementConverter.Encode(values.Slice(start, n), outputType, buffer);
            output.Write(buffer, 0, n * outputType.ItemSize);
        }
    }

    /// <summary>Index of the first NaN or ±infinity, or -1.</summary>
    internal static int IndexOfNonFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return -1;
    }

    private static bool SameFile(string a, string b)
    {
        if (string.Equals(a, b, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)) return true;
        if (!File.Exists(b)) return false;
        string Resolve(string p) => new FileInfo(p).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? p;
        return string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);
    }
}
