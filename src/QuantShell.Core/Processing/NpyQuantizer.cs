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
public static class NpyQuantizer
{
    /// <summary>Quantizes one file into another, atomically, streaming it through the kernel.</summary>
    public static QuantizationResult QuantizeFile(string inputPath, string outputPath, InferableQuantizer quantizer,
                                                  FileQuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FileQuantizeOptions();
        PathChecks.CheckInputAndOutput(inputPath, outputPath, options.Force);
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
        var plan = quantizer.CreatePlan(header.Shape, inputName);
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
        return QuantizationResult.Create(JobInput.ResultPathOf(inputName), outputName, null, layout, quantizer, plan, stats, options.Selection, clock.Elapsed);
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
        var plan = quantizer.CreatePlan(array.Shape, inputName);
        var outputType = array.SourceDType.QuantizedOutput;
        NpyHeader.Write(output, outputType, array.Shape);
        var stats = new KernelStats();
        long firstNonFinite = array.Data switch
        {
            double[] d => StreamingQuantizer.Run<double>(d, output, outputType, plan, options, ref stats, cancellationToken),
            float[] f => StreamingQuantizer.Run<float>(f, output, outputType, plan, options, ref stats, cancellationToken),
            Half[] h => StreamingQuantizer.Run<float>(Array.ConvertAll(h, v => (float)v), output, outputType, plan, options, ref stats, cancellationToken),
            _ => throw new ArgumentException(array.Data.GetType().Name, nameof(array)),
        };
        if (stats.NonFinite > 0 && !options.AllowNonFinite)
            throw NonFiniteInput.Create(inputName, stats.NonFinite, NonFiniteInput.Unravel(firstNonFinite, array.Shape));
        var layout = new TensorLayout(array.Shape, array.SourceDType, outputType, false);
        return QuantizationResult.Create(JobInput.ResultPathOf(inputName), outputName, null, layout, quantizer, plan, stats, options.Selection, clock.Elapsed);
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
            return StreamingQuantizer.Run<T>(NpyArray.ReadElements<T>(input, header, inputName), output, outputType, plan, options, ref stats, cancellationToken);
        }
        long firstNonFinite = StreamingQuantizer.Run<T>(input, header.DType, count, output, outputType, plan, options, ref stats,
            () => new TensorFormatException(inputName, $"data is truncated: shape {header.ShapeText} of {header.DType.Name} needs {header.DataBytes} bytes" +
                // A file's length was checked against the header when it was opened: a short read means it shrank since.
                (input.CanSeek ? $"; the file shrank to {input.Length} bytes while it was being read." : "."), ErrorIds.NpyDataTruncated),
            cancellationToken);
        NpyFiles.ExpectEnd(input, inputName, header);
        return firstNonFinite;
    }
}
