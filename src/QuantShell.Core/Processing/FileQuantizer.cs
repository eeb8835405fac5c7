using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using QuantShell.Core.Diagnostics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Processing;

/// <summary>
/// .npy in, .npy out: reads the header, binds the quantizer to the shape, streams the data through the fused kernel
/// in chunks and writes a little-endian, C-order file of the input's float dtype. No TorchSharp, so no libtorch load.
/// </summary>
public static class FileQuantizer
{
    /// <summary>
    /// The default output name for an input: beside it, <c>.q</c> (fake) or <c>.int</c> before the extension:
    /// <c>x.npy</c> → <c>x.q.npy</c>, <c>m.safetensors</c> → <c>m.int.safetensors</c>.
    /// </summary>
    public static string DefaultOutputPath(string inputPath, OutputForm form = OutputForm.Fake)
    {
        string directory = Path.GetDirectoryName(inputPath) ?? "";
        string name = Path.GetFileNameWithoutExtension(inputPath);
        string extension = Path.GetExtension(inputPath);
        if (extension.Length == 0) extension = ".npy";
        return Path.Combine(directory, $"{name}.{(form == OutputForm.Fake ? "q" : EnumNames.Json(form))}{extension}");
    }

    /// <summary>Checks the paths before any work: input exists and is a file, output is not the input, may be written.</summary>
    public static void CheckPaths(string inputPath, string outputPath, bool force, string? inputName = null, string? outputName = null)
    {
        string input = Path.GetFullPath(inputPath);
        string output = Path.GetFullPath(outputPath);
        inputPath = inputName ?? inputPath;
        outputPath = outputName ?? outputPath;
        if (Directory.Exists(input))
            throw new QuantShellException($"{inputPath}: is a directory, not a file.", ErrorIds.InputIsDirectory, QuantShellErrorKind.InvalidArgument, inputPath);
        if (!File.Exists(input))
            throw new QuantShellException($"{inputPath}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, inputPath);
        if (SameFile(input, output) is { } how)
            throw new QuantShellException($"{outputPath}: {how}: the output would replace the input file; choose another output path.", ErrorIds.OutputIsInput, QuantShellErrorKind.InvalidArgument, outputPath);
        AtomicFile.CheckWritable(output, force, outputPath);
    }

    /// <summary>Quantizes one file into another, atomically, streaming it through the kernel.</summary>
    public static QuantizationResult QuantizeFile(string inputPath, string outputPath, InferableQuantizer quantizer,
                                                  FileQuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FileQuantizeOptions();
        CheckPaths(inputPath, outputPath, options.Force);
        FileStream input;
        using (Timeline.Time(TimelinePhase.Open)) input = NpyFiles.OpenRead(inputPath);
        using var _ = input;
        return AtomicFile.Write(outputPath, options.Output,
            output => QuantizeStream(input, inputPath, output, Path.GetFullPath(outputPath), quantizer, options, cancellationToken));
    }

    /// <summary>
    /// Quantizes an .npy stream into another stream (stdin/stdout, memory). <paramref name="inputName"/> and
    /// <paramref name="outputName"/> name them in errors and in the result.
    /// </summary>
    public static QuantizationResult QuantizeStream(Stream input, string inputName, Stream output, string outputName, InferableQuantizer quantizer,
                                                    FileQuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FileQuantizeOptions();
        var clock = Stopwatch.StartNew();
        NpyHeader header;
        using (Timeline.Time(TimelinePhase.Open)) header = NpyHeader.Read(input, inputName);
        var plan = PlanFor(quantizer, header.Shape, inputName);
        var outputType = header.DType.QuantizedOutput;
        NpyHeader.Write(output, outputType, header.Shape);
        var stats = new KernelStats();
        Timeline.Mark("header read, plan made");
        long firstNonFinite = header.DType.Kind == DTypeKind.Float && header.DType.ItemSize == 8
            ? Run<double>(input, inputName, output, header, outputType, plan, options, ref stats, cancellationToken)
            : Run<float>(input, inputName, output, header, outputType, plan, options, ref stats, cancellationToken);
        Timeline.Mark("last chunk written");
        if (stats.NonFinite > 0 && !options.AllowNonFinite)
            throw NonFiniteInput.Create(inputName, stats.NonFinite, NonFiniteInput.Unravel(firstNonFinite, header.Shape));
        var layout = new TensorLayout(header.Shape, header.DType, outputType, header.FortranOrder);
        return QuantizationResult.Create(ResultPath(inputName), outputName, null, layout, quantizer, plan, stats, options.Selection, clock.Elapsed);
    }

    /// <summary>
    /// Quantizes an array already in memory (read once, to choose its quantizer) and writes it as .npy to
    /// <paramref name="output"/>: the input's float dtype (float32 for integer inputs), little-endian, C order.
    /// </summary>
    public static QuantizationResult QuantizeArray(NpyArray array, string inputName, Stream output, string outputName, InferableQuantizer quantizer,
                                                   FileQuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FileQuantizeOptions();
        var clock = Stopwatch.StartNew();
        var plan = PlanFor(quantizer, array.Shape, inputName);
        var outputType = array.SourceDType.QuantizedOutput;
        NpyHeader.Write(output, outputType, array.Shape);
        var stats = new KernelStats();
        long firstNonFinite = array.Data switch
        {
            double[] d => WriteQuantized<double>(d, output, outputType, plan, options, ref stats, cancellationToken),
            float[] f => WriteQuantized<float>(f, output, outputType, plan, options, ref stats, cancellationToken),
            Half[] h => WriteQuantized<float>(Array.ConvertAll(h, v => (float)v), output, outputType, plan, options, ref stats, cancellationToken),
            _ => throw new ArgumentException(array.Data.GetType().Name, nameof(array)),
        };
        if (stats.NonFinite > 0 && !options.AllowNonFinite)
            throw NonFiniteInput.Create(inputName, stats.NonFinite, NonFiniteInput.Unravel(firstNonFinite, array.Shape));
        var layout = new TensorLayout(array.Shape, array.SourceDType, outputType, false);
        return QuantizationResult.Create(ResultPath(inputName), outputName, null, layout, quantizer, plan, stats, options.Selection, clock.Elapsed);
    }

    internal static long WriteQuantized<T>(T[] values, Stream output, DType outputType, QuantizationPlan plan, FileQuantizeOptions options,
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
                if (stats.NonFinite > before && firstNonFinite < 0) firstNonFinite = start + IndexOfNonFinite<T>(source);
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

    /// <summary>How a result names its input: a file by its full path, a stream by its name.</summary>
    internal static string ResultPath(string inputName) => inputName == JobInput.StandardInputName ? inputName : Path.GetFullPath(inputName);

    /// <summary>Binds the quantizer to a tensor's shape; a mismatch names the input.</summary>
    internal static QuantizationPlan PlanFor(InferableQuantizer quantizer, long[] shape, string inputName)
    {
        try
        {
            return quantizer.CreatePlan(shape);
        }
        catch (QuantizerValidationException ex)
        {
            throw ex.WithSource(inputName);
        }
    }

    // Returns the C-order flat index of the first non-finite element, or -1.
    private static long Run<T>(Stream input, string inputName, Stream output, NpyHeader header, DType outputType,
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
            return WriteQuantized<T>(NpyArray.ReadElements<T>(input, header, inputName), output, outputType, plan, options, ref stats, cancellationToken);
        }
        long firstNonFinite = StreamingQuantizer.Run<T>(input, header.DType, count, output, outputType, plan, options, ref stats,
            () => new TensorFormatException(inputName, $"data is truncated: shape {header.ShapeText} of {header.DType.Name} needs {header.DataBytes} bytes.", ErrorIds.NpyDataTruncated),
            cancellationToken);
        NpyFiles.ExpectEnd(input, inputName, header);
        return firstNonFinite;
    }

    /// <summary>Index of the first NaN or ±infinity, or -1.</summary>
    internal static int IndexOfNonFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>
    /// How <paramref name="output"/> is the file <paramref name="input"/>, or null when it is another file. Paths are not
    /// enough: a symbolic link, a hard link, a linked folder, '..' after a linked folder or a bind mount reach the same
    /// file by another path, so the files' identities (device and inode) are compared.
    /// </summary>
    private static string? SameFile(string input, string output)
    {
        if (string.Equals(input, output, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)) return "is the input file";
        if (FileIdentity.Of(output) is not { } outputIdentity || FileIdentity.Of(input) != outputIdentity) return null;
        if (FileIdentity.IsSymbolicLink(output)) return "is a symbolic link to the input file";
        if (FileIdentity.LinkCount(output) > 1) return "is a hard link to the input file";
        return "is the input file, reached through another path (a linked folder, '..' or a bind mount)";
    }
}
