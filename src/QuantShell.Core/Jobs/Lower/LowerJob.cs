using System.Diagnostics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.IO;

namespace QuantShell.Core.Jobs.Lower;

/// <summary>
/// Lowers MCT's exported ONNX models (custom <c>mct_quantizers</c> ops) to standard ONNX: names and checks each output,
/// asks the host before each write, reads and checks each model, replaces every quantizer node
/// (<see cref="MctLowering"/>) and writes the model atomically; one result or one error per model.
/// </summary>
public sealed class LowerJob : InputJob<LowerResult>
{
    private readonly LowerRequest _request;
    private readonly WeightsForm _weights;
    private readonly ActivationsForm _activations;
    private readonly OutputPlanner _outputs;

    public LowerJob(LowerRequest request, JobHost<LowerResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _weights = request.Weights ?? LowerRequest.DefaultWeights;
        _activations = request.Activations ?? LowerRequest.DefaultActivations;
        if (!Enum.IsDefined(_weights))
            throw new QuantShellException($"{Parameter.Weights} must be {Parameter.Values(Enum.GetValues<WeightsForm>())} but is {(int)_weights}.", ErrorIds.OptionValueInvalid, QuantShellErrorKind.InvalidArgument, Parameter.Weights.Name);
        if (!Enum.IsDefined(_activations))
            throw new QuantShellException($"{Parameter.Activations} must be {Parameter.Values(Enum.GetValues<ActivationsForm>())} but is {(int)_activations}.", ErrorIds.OptionValueInvalid, QuantShellErrorKind.InvalidArgument, Parameter.Activations.Name);
        _outputs = new OutputPlanner(request.OutputPath, null, null, request.Force, DefaultOutputPath,
            severalInputs: "leave it out to write model.lowered.onnx beside each model");
    }

    protected override string Activity => "Lower";

    // One output path needs the count of inputs before anything is written.
    protected override bool CollectsInputs => _outputs.SingleOutput;

    /// <summary>The default output of an input: <c>model.onnx</c> becomes <c>model.lowered.onnx</c> beside it.</summary>
    public static string DefaultOutputPath(string inputPath) => OutputPlanner.Beside(inputPath, "lowered", ".onnx");

    /// <summary>Runs a whole job: adds every input, completes, and returns it for its counts.</summary>
    public static LowerJob Run(LowerRequest request, IEnumerable<JobInput> inputs, JobHost<LowerResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new LowerJob(request, host, cancellationToken), inputs);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        _outputs.CheckCount(inputs.Count);
        base.StartCollected(inputs);
    }

    protected override void Start(JobInput input)
    {
        if (input.IsStream)
        {
            Fail(input, new QuantShellException($"{input.Name}: a model is read from a file, not from a stream.", ErrorIds.StreamInputNotSupported, QuantShellErrorKind.InvalidArgument, input.Name));
            return;
        }
        StartWithOutput(input, _outputs, "Lower to standard ONNX", (output, token) => [Lower(input, output.Path!, output.Name, token)]);
    }

    private LowerResult Lower(JobInput input, string outputPath, string outputName, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        var model = OnnxModel.Load(input.FullPath!, input.Name);
        long opsetBefore = model.DefaultOpset;
        int nodesBefore = model.Proto.Graph.Node.Count;
        var nodes = MctLowering.Lower(model, _weights, _activations, token);
        token.ThrowIfCancellationRequested();
        if (nodes.Count == 0)
        {
            int qdq = model.Proto.Graph.Node.Count(n => n.OpType is "QuantizeLinear" or "DequantizeLinear");
            string already = qdq > 0 ? $"; its {qdq} QuantizeLinear/DequantizeLinear nodes are standard ONNX already" : "";
            Warn(input, $"{input.Name}: nothing lowered, the output is the same model: it has no node of the mct_quantizers domain (the quantizers MCT's export writes){already}.");
        }
        model.Save(outputPath, new WriteOptions { Force = _request.Force, Fsync = _request.Fsync }, outputName);
        return new LowerResult
        {
            InputPath = input.FullPath!,
            OutputPath = outputPath,
            Weights = _weights,
            Activations = _activations,
            NodesLowered = nodes.GroupBy(n => n.OpType).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            WeightsQuantized = nodes.Count(n => n.Target == Quantization.QuantizationTarget.Weights),
            ActivationsLowered = nodes.Count(n => n.Target == Quantization.QuantizationTarget.Activation),
            Nodes = nodes,
            OpsetBefore = opsetBefore,
            Opset = model.DefaultOpset,
            IrVersion = model.Proto.IrVersion,
            NodeCountBefore = nodesBefore,
            NodeCount = model.Proto.Graph.Node.Count,
            InputBytes = IO.FileLength.Of(new FileInfo(input.FullPath!)),
            OutputBytes = new FileInfo(outputPath).Length,
            ElapsedMs = clock.Elapsed.TotalMilliseconds,
        };
    }
}
