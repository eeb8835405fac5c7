using System.Diagnostics;
using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.IO;
using QuantShell.Core.Kernels;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Runtime;
using QuantShell.Core.Selection;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Jobs.Calibrate;

/// <summary>
/// Calibrates a float ONNX model's activations from sample inputs (MCT's post-training quantization of activations):
/// finds every activation a quantizable op reads (<see cref="OnnxActivations"/>), runs a copy of the model in which they
/// are outputs (<see cref="OnnxObservation"/>) over every sample, collecting each one's statistics as it goes
/// (<see cref="ActivationHistogram"/>: memory bounded whatever the number of samples), chooses each activation's quantizer
/// from them (<see cref="ActivationSelection"/>), and writes a rules file holding those quantizers by value name plus a
/// rule for each weight the graph names (the default weight quantizer). Nothing is written when anything fails.
/// </summary>
public static class CalibrateJob
{
    /// <summary>The default rules file of a model: <c>model.onnx</c> gives <c>model.rules.json</c> beside it.</summary>
    public static string DefaultOutputPath(string modelPath) =>
        Path.Combine(Path.GetDirectoryName(modelPath) ?? "", Path.GetFileNameWithoutExtension(modelPath) + ".rules.json");

    /// <summary>Checks the request's options (every rule that needs no file): the activation quantizer to choose values for.</summary>
    public static QuantizerRecipe CheckOptions(CalibrateRequest request)
    {
        var method = request.Method ?? CalibrateRequest.DefaultMethod;
        if (method is not (QuantizationMethod.Pot or QuantizationMethod.Symmetric or QuantizationMethod.Uniform))
            throw new QuantizerValidationException(
                $"{Parameter.Method} must be {Parameter.Values(QuantizationMethod.Pot, QuantizationMethod.Symmetric, QuantizationMethod.Uniform)} for calibrated activations but is {Parameter.Value(method)}: the qdq format puts an integer grid on them " +
                "(a LUT activation quantizer can be written into a rules file by hand; it is applied in the fake format only).", Parameter.Method, ErrorIds.MethodInvalid);
        return new QuantizerArguments
        {
            Target = QuantizationTarget.Activation,
            Method = method,
            NumBits = request.NumBits,
            ErrorMethod = request.ErrorMethod,
            P = request.P,
            Percentile = request.Percentile,
        }.Check();
    }

    /// <summary>Runs the calibration: one result per activation to the host (in graph order), then the summary.</summary>
    public static CalibrationSummary Run(CalibrateRequest request, JobHost<CalibrationResult> host, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(host);
        var clock = Stopwatch.StartNew();
        var quantizer = CheckOptions(request);
        var runner = request.Runner ?? throw new QuantShellException("No model runtime was given to run the model (CalibrateRequest.Runner).",
            ErrorIds.OnnxRuntimeUnavailable, QuantShellErrorKind.InvalidArgument, "Runner");
        string modelName = request.ModelPath;
        string modelPath = Path.GetFullPath(request.ModelPath);
        string outputName = request.OutputPath ?? DefaultOutputPath(request.ModelPath);
        string outputPath = Path.GetFullPath(outputName);
        PathChecks.CheckInputAndOutput(modelPath, outputPath, request.Force, modelName, outputName);
        var samples = SampleSet.Open(request.DataPath);
        var model = OnnxModel.Load(modelPath, modelName);

        var activations = OnnxActivations.Find(model);
        var calibrated = activations.Where(a => IsFloat(a.ElementType)).ToList();
        var observation = OnnxObservation.Create(model, calibrated);
        var states = calibrated.Where(a => observation.Outputs.ContainsKey(a.Key)).Select(a => new State(a, observation.Outputs[a.Key])).ToList();
        var options = new ModelSessionOptions { Threads = request.Threads };
        using var session = OpenObserved(runner, model, observation, modelPath, modelName, options);
        var outputNames = states.Where(s => !s.Activation.IsModelInput).Select(s => s.Output).Distinct(StringComparer.Ordinal).ToList();

        // The bar is closed however the loop ends (a sample that fails ends the job; a stopped one takes its bar away).
        int done = 0;
        try
        {
            for (int i = 0; i < samples.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string sampleName = samples.NameOf(i);
                host.WriteProgress(new JobProgress("Calibrate", i, samples.Count, samples.Files[i], Completed: false));
                var feeds = samples.Read(i, session.Inputs);
                // A model whose only activations are its inputs has nothing to run for.
                var outputs = outputNames.Count == 0 ? [] : RunSample(session, feeds, outputNames, sampleName);
                var byName = new Dictionary<string, ModelTensor>(StringComparer.Ordinal);
                for (int o = 0; o < outputNames.Count; o++) byName[outputNames[o]] = outputs[o];
                foreach (var feed in feeds) byName.TryAdd(feed.Name, feed);
                var errors = new QuantShellException?[states.Count];
                Parallel.For(0, states.Count, new ParallelOptions { CancellationToken = cancellationToken }, s =>
                {
                    try
                    {
                        states[s].Add(byName[states[s].Output], sampleName);
                    }
                    catch (QuantShellException ex)
                    {
                        errors[s] = ex;
                    }
                });
                // The first activation in graph order that failed, whichever thread saw it first.
                if (errors.FirstOrDefault(e => e is not null) is { } error) throw error;
                done++;
            }
        }
        finally
        {
            if (!cancellationToken.IsCancellationRequested)
                host.WriteProgress(new JobProgress("Calibrate", done, samples.Count, null, Completed: true));
        }

        // Choose every quantizer (each activation's choice is independent of the others), then write the rules once.
        var chosen = new QuantizerSpec?[states.Count];
        Parallel.For(0, states.Count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            if (states[i].Histogram.Count > 0)
                chosen[i] = ActivationSelection.Choose(states[i].Histogram, quantizer.Spec, quantizer.Selection!);
        });
        var weightRules = WeightRules(model);
        var activationRules = states.Select((s, i) => (s, i)).Where(p => chosen[p.i] is not null)
            .Select(p => new ActivationRule { Tensor = p.s.Activation.Key, Quantizer = chosen[p.i]! }).ToList();
        var rules = QuantizationRules.Create(weightRules, activationRules, outputName);
        cancellationToken.ThrowIfCancellationRequested();
        int skipped = 0;
        if (!host.ShouldProcess(outputName, $"Write the rules of {activationRules.Count} activation quantizers and {weightRules.Count} weights"))
            return Summary(0, 0);
        rules.Write(outputPath, new WriteOptions { Force = request.Force, Fsync = request.Fsync }, outputName);

        var selection = quantizer.Describe(samples.Count);
        foreach (var activation in activations)
        {
            var result = new CalibrationResult
            {
                InputPath = modelPath,
                DataPath = Path.GetFullPath(request.DataPath),
                OutputPath = outputPath,
                TensorName = activation.Key,
                Graph = activation.Graph.IsMain ? null : activation.Graph.Path,
                Readers = activation.Readers,
                Producer = activation.Producer,
                DType = activation.ElementType == OnnxDataType.Undefined ? "unknown" : OnnxDataTypes.Name(activation.ElementType),
                Samples = 0,
                Count = 0,
            };
            int at = states.FindIndex(s => s.Activation.Key == activation.Key);
            string? skip = !IsFloat(activation.ElementType) ? $"it is {result.DType}, not a float type"
                : observation.Unobservable.TryGetValue(activation.Key, out var why) ? why
                : at < 0 || states[at].Histogram.Count == 0 ? "no sample produced a value of it (a branch or loop that never ran)"
                : null;
            if (skip is not null)
            {
                skipped++;
                host.WriteResult(result with { Skipped = true, SkipReason = skip, Samples = at < 0 ? 0 : states[at].Samples, Shape = at < 0 ? null : states[at].Shape });
                continue;
            }
            var state = states[at];
            var spec = chosen[at]!;
            var grid = ((GridQuantizer)InferableQuantizer.Create(spec)).Parameters;
            var storage = OnnxActivationNodes.StorageType(grid.QuantMin, grid.QuantMax);
            host.WriteResult(result with
            {
                Shape = state.Shape,
                Samples = state.Samples,
                Count = state.Histogram.Count,
                Min = state.Histogram.Min,
                Max = state.Histogram.Max,
                Quantizer = spec,
                Scale = grid.Scales[0],
                ZeroPoint = grid.ZeroPoints[0],
                QuantMin = grid.QuantMin,
                QuantMax = grid.QuantMax,
                QdqType = OnnxDataTypes.Name(storage),
                QdqExact = IsPowerOfTwo(grid.Scales[0]),
                Selection = selection,
            });
        }
        return Summary(activationRules.Count, weightRules.Count);

        CalibrationSummary Summary(int activationsWritten, int weightsWritten) => new()
        {
            InputPath = modelPath,
            OutputPath = outputPath,
            Samples = samples.Count,
            Activations = activationsWritten,
            Skipped = skipped,
            WeightRules = weightsWritten,
            ElapsedMs = clock.Elapsed.TotalMilliseconds,
        };
    }

    /// <summary>One run of the model; a failure names the sample.</summary>
    internal static IReadOnlyList<ModelTensor> RunSample(IModelSession session, IReadOnlyList<ModelTensor> feeds, IReadOnlyList<string> outputs, string sampleName)
    {
        try
        {
            return session.Run(feeds, outputs);
        }
        catch (QuantShellException ex) when (ex.ErrorId == ErrorIds.OnnxRuntimeRunFailed)
        {
            throw new QuantShellException($"{sampleName}: {ex.Message}", ex.ErrorId, ex.Kind, sampleName, ex);
        }
    }

    private static bool IsFloat(OnnxDataType type) => type is OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.Double or OnnxDataType.BFloat16 or OnnxDataType.Undefined;

    private static bool IsPowerOfTwo(float scale) => scale > 0 && (BitConverter.SingleToInt32Bits(scale) & 0x7FFFFF) == 0 && float.IsNormal(scale);

    /// <summary>
    /// Opens the copy with the observed outputs. When the runtime refuses it, the original model is tried: if that is
    /// refused too, the model itself is what the runtime cannot load, and its error is the one reported.
    /// </summary>
    private static IModelSession OpenObserved(IModelRunner runner, OnnxModel model, OnnxObservation observation, string modelPath, string modelName, ModelSessionOptions options)
    {
        try
        {
            return runner.Open(ModelSource.Memory(observation.Model.ToByteArray(), modelName, model.Directory), options);
        }
        catch (QuantShellException observedError) when (observedError.ErrorId == ErrorIds.OnnxRuntimeCannotLoad)
        {
            runner.Open(ModelSource.File(modelPath, modelName), options).Dispose();
            throw new QuantShellException($"{modelName}: ONNX Runtime loads the model but not the copy in which its activations are outputs ({observedError.Message}); " +
                "this is a limit of QuantShell's observation of this graph.", ErrorIds.OnnxRuntimeCannotLoad, QuantShellErrorKind.InvalidData, modelName, observedError);
        }
    }

    /// <summary>One rule per weight the graph names (an initializer a Conv, ConvTranspose, Gemm or MatMul reads as its weight): the default weight quantizer.</summary>
    private static List<QuantizationRule> WeightRules(OnnxModel model)
    {
        var file = new OnnxTensorFile(model);
        var policy = TensorPolicy.Create(new QuantizerArguments(), null, null);
        var rules = new List<QuantizationRule>();
        foreach (var tensor in file.Tensors)
        {
            if (tensor.GraphRole?.ChannelAxis is null) continue;
            var decision = policy.Decide(tensor);
            if (decision.Recipe is not { } weight) continue;
            rules.Add(new QuantizationRule
            {
                Match = tensor.Name,
                Quantizer = weight.Spec,
                ErrorMethod = weight.Selection?.ErrorMethod,
                P = weight.Selection?.ErrorMethod == ErrorMethod.Lp ? weight.Selection.P : null,
            });
        }
        return rules;
    }

    /// <summary>One activation's statistics as the samples come.</summary>
    private sealed class State(OnnxActivation activation, string output)
    {
        public OnnxActivation Activation { get; } = activation;
        public string Output { get; } = output;
        public ActivationHistogram Histogram { get; } = new();
        public int Samples { get; private set; }
        public long[]? Shape { get; private set; }

        public void Add(ModelTensor tensor, string sampleName)
        {
            if (tensor.ElementCount == 0) return;
            (long NonFinite, long First) bad = tensor.ElementType switch
            {
                OnnxDataType.Float => Histogram.Add<float>(MemoryMarshal.Cast<byte, float>(tensor.Data.AsSpan())),
                OnnxDataType.Double => Histogram.Add<double>(MemoryMarshal.Cast<byte, double>(tensor.Data.AsSpan())),
                OnnxDataType.Float16 or OnnxDataType.BFloat16 => Histogram.Add<double>(tensor.ToDoubles()),
                _ => throw new QuantShellException($"{sampleName}: activation '{Activation.Key}' came out as {OnnxDataTypes.Name(tensor.ElementType)}, not a float type.",
                    ErrorIds.OnnxRuntimeRunFailed, QuantShellErrorKind.InvalidData, sampleName),
            };
            if (bad.NonFinite > 0)
                throw new QuantShellException(
                    $"{sampleName}: activation '{Activation.Key}' ({Activation.Role}) holds {bad.NonFinite} non-finite value{(bad.NonFinite == 1 ? "" : "s")} " +
                    $"(NaN or ±infinity), the first at index [{string.Join(", ", NonFiniteInput.Unravel(bad.First, tensor.Shape))}]; no quantizer can be chosen from them. Check this sample.",
                    ErrorIds.ActivationNonFinite, QuantShellErrorKind.InvalidData, sampleName);
            Samples++;
            Shape ??= tensor.Shape;
        }
    }
}
