using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Processing;

namespace QuantShell.Core.Jobs.Dequantize;

/// <summary>
/// Turns <c>int</c> outputs (integer codes and their record) back into <c>fake</c> ones, bit for bit what quantizing with
/// the fake form writes: one output per input, one result per tensor.
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

    /// <summary><c>m.int.pt</c> (or <c>m.qdq.onnx</c>) → <c>m.q.pt</c> (the name the fake form gets), anything else → <c>NAME.q.EXT</c>.</summary>
    public static string DefaultOutputPath(string inputPath)
    {
        string directory = Path.GetDirectoryName(inputPath) ?? "";
        string name = Path.GetFileNameWithoutExtension(inputPath);
        if (name.EndsWith(".int", StringComparison.Ordinal)) name = name[..^4];
        else if (name.EndsWith(".qdq", StringComparison.Ordinal)) name = name[..^4];
        return Path.Combine(directory, $"{name}.q{Path.GetExtension(inputPath)}");
    }

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        _outputs.CheckCount(inputs.Count);
        base.StartCollected(inputs);
    }

    protected override void Start(JobInput input)
    {
        OutputTarget output;
        try
        {
            if (input.IsStream)
                throw new QuantShellException($"{input.Name}: dequantizing reads model files, not streams.", ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidArgument, input.Name);
            output = _outputs.For(input);
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        if (!Host.ShouldProcess(input.Name, $"Dequantize into '{output.Name}'")) return;
        try
        {
            _outputs.EnsureDirectory();
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        Enqueue(input, token =>
        {
            using var file = input.OpenTensorFile();
            string outputPath = Path.GetFullPath(output.Path!);
            var write = new WriteOptions { Force = _request.Force, Fsync = _request.Fsync };
            if (file is Formats.Onnx.OnnxTensorFile onnx)
                return OnnxModelDequantizer.Write(onnx, outputPath, output.Name, write, token);
            return AtomicFile.Write(output.Path!, write, stream => ModelDequantizer.Write(file, stream, outputPath, token), output.Name);
        });
    }
}
