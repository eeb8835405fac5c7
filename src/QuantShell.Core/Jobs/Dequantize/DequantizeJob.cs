using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;

namespace QuantShell.Core.Jobs.Dequantize;

/// <summary>
/// Turns <c>int</c> outputs (integer codes and their record) back into <c>fake</c> ones, bit for bit what quantizing with
/// the fake format writes: one output per input, one result per tensor.
/// </summary>
public sealed class DequantizeJob : InputJob<DequantizationResult>
{
    private readonly DequantizeRequest _request;
    private readonly OutputPlanner _outputs;

    public DequantizeJob(DequantizeRequest request, JobHost<DequantizationResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _outputs = new OutputPlanner(request.OutputPath, request.OutputDirectory, null, request.Force, DefaultOutputPath);
    }

    protected override string Activity => "Dequantize";

    protected override bool CollectsInputs => _outputs.SingleOutput;

    public static DequantizeJob Run(DequantizeRequest request, IEnumerable<JobInput> inputs, JobHost<DequantizationResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new DequantizeJob(request, host, cancellationToken), inputs);

    /// <summary><c>m.int.pt</c> (or <c>m.qdq.onnx</c>) → <c>m.q.pt</c> (the name the fake format gets), anything else → <c>NAME.q.EXT</c>.</summary>
    public static string DefaultOutputPath(string inputPath) =>
        OutputPlanner.Beside(inputPath, QuantizeJob.Tag(OutputFormat.Fake), replacing: [QuantizeJob.Tag(OutputFormat.Int), QuantizeJob.Tag(OutputFormat.Qdq)]);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        _outputs.CheckCount(inputs.Count);
        base.StartCollected(inputs);
    }

    protected override void Start(JobInput input)
    {
        if (input.IsStream)
        {
            Fail(input, new QuantShellException($"{input.Name}: dequantizing reads model files, not streams.", ErrorIds.StreamInputNotSupported, QuantShellErrorKind.InvalidArgument, input.Name));
            return;
        }
        StartWithOutput(input, _outputs, "Dequantize", (output, token) =>
        {
            using var file = input.OpenTensorFile();
            string outputPath = Path.GetFullPath(output.Path!);
            var write = new WriteOptions { Force = _request.Force, Fsync = _request.Fsync };
            if (file is Formats.Onnx.OnnxTensorFile onnx)
                return OnnxModelDequantizer.Write(onnx, outputPath, output.Name, write, token);
            if (CompressedTensorsReader.Recognize(file, input.FullPath!) is { } schemes)
                return AtomicFile.Write(output.Path!, write, stream => CompressedTensorsReader.Write(file, schemes, stream, outputPath, token), output.Name);
            return AtomicFile.Write(output.Path!, write, stream => ModelDequantizer.Write(file, stream, outputPath, token), output.Name);
        });
    }
}
