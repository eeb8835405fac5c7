using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.IO;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// Quantizes inputs into outputs: resolves the quantizer (given, chosen per input, or calibrated over all inputs),
/// names and checks each output, asks the host before each write, reads each input once, writes atomically, and
/// reports one result per tensor or one error per input.
/// </summary>
public sealed class QuantizeJob : InputJob<QuantizationResult>
{
    private readonly QuantizeRequest _request;
    private readonly TensorPolicy _policy;
    private readonly QuantizerRecipe _recipe;
    private readonly OutputPlanner _outputs;
    private readonly string? _exportPath;
    private readonly SplitPart? _part;
    private bool _quantizerExported;

    /// <summary>Checks the request (every rule that needs no input) and reads the quantizer file, if any.</summary>
    public QuantizeJob(QuantizeRequest request, JobHost<QuantizationResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _policy = TensorPolicy.Create(request.Quantizer, request.Rules, request.RulesPath);
        _recipe = _policy.Recipe;
        _outputs = new OutputPlanner(request.OutputPath, request.OutputDirectory, request.OutputStream, request.Force,
            path => DefaultOutputPath(path, request.Form));
        _part = request.Part is null ? null : SplitPart.Parse(request.Part);
        if (request.ExportQuantizerPath is not null && _policy.Rules is not null)
            throw Usage("ExportQuantizer writes one quantizer, but rules give each tensor its own; export from a run without rules.", ErrorIds.ExportQuantizerNeedsOneQuantizer, "ExportQuantizer");
        if (request.ExportQuantizerPath is not null)
        {
            _exportPath = Path.GetFullPath(request.ExportQuantizerPath);
            AtomicFile.CheckWritable(_exportPath, request.Force, request.ExportQuantizerPath);
        }
    }

    /// <summary>The quantizer checked (complete, or with values to choose).</summary>
    public QuantizerRecipe Recipe => _recipe;

    protected override string Activity => "Quantize";

    // One output path needs the count of inputs before anything is written; calibration needs them all; a quantizer
    // file of values chosen per input is only possible for a single input.
    protected override bool CollectsInputs =>
        _outputs.SingleOutput || _recipe.Calibrates || (_exportPath is not null && _recipe.ChoosesFromData);

    /// <summary>
    /// The default output name for an input: beside it, <c>.q</c> (fake) or <c>.int</c> before the extension:
    /// <c>x.npy</c> → <c>x.q.npy</c>, <c>m.safetensors</c> → <c>m.int.safetensors</c>.
    /// </summary>
    public static string DefaultOutputPath(string inputPath, OutputForm form = OutputForm.Fake) =>
        OutputPlanner.Beside(inputPath, Tag(form), Path.HasExtension(inputPath) ? null : ".npy");

    /// <summary>What a default output name says of its form: <c>q</c> (fake), <c>int</c>, <c>qdq</c>.</summary>
    internal static string Tag(OutputForm form) => form == OutputForm.Fake ? "q" : EnumNames.Json(form);

    /// <summary>Runs a whole job: adds every input, completes, and returns it for its counts.</summary>
    public static QuantizeJob Run(QuantizeRequest request, IEnumerable<JobInput> inputs, JobHost<QuantizationResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new QuantizeJob(request, host, cancellationToken), inputs);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        _outputs.CheckCount(inputs.Count);
        if (_exportPath is not null && _recipe.ChoosesFromData && !_recipe.Calibrates && inputs.Count > 1)
            throw Usage($"ExportQuantizer writes one quantizer but each of the {inputs.Count} inputs would get its own chosen values; add Calibrate to choose one from all inputs, or give the values.",
                ErrorIds.ExportQuantizerNeedsOneQuantizer, "ExportQuantizer");
        if (!_recipe.Calibrates)
        {
            base.StartCollected(inputs);
            return;
        }

        var pool = CalibrationPool.Read(_recipe, inputs, npyOnly: true, Fail, Cancellation);
        ExportQuantizer(pool.Quantizer.Spec);
        foreach (var (input, array) in pool.Inputs)
        {
            if (Cancellation.IsCancellationRequested) break;
            StartWithOutput(input, _outputs, "Quantize", (output, token) => [WriteArray(array, input, output, pool.Quantizer, pool.Selection, token)]);
        }
    }

    protected override void Start(JobInput input)
    {
        if (input.FullPath is not null && Directory.Exists(input.FullPath))
        {
            StartFolder(input);
            return;
        }
        if (_part is not null || _request.Finish)
        {
            Fail(input, Usage($"{input.Name}: Part and Finish split the shards of a model folder; this input is a file.", ErrorIds.PartInvalid, _part is not null ? "Part" : "Finish"));
            return;
        }
        if (_policy.Rules is null && !_recipe.ChoosesFromData) ExportQuantizer(_recipe.Spec);
        StartWithOutput(input, _outputs, "Quantize", (output, token) => input.Kind() == TensorFileKind.Npy ? [QuantizeNpy(input, output, token)] : QuantizeModel(input, output, token));
    }

    /// <summary>
    /// A Hugging Face model folder: the index and every shard's header are read and checked, and the output folder's name,
    /// on the caller's thread; the shards are written on a worker (docs/model-folders.md).
    /// </summary>
    private void StartFolder(JobInput input)
    {
        string output;
        FolderQuantizer quantizer;
        try
        {
            if (_outputs.SingleOutput && _request.OutputStream is not null)
                throw Usage($"{input.Name}: a model folder is written to a folder; give OutputPath (the output folder).", ErrorIds.OutputFormNotSupported, "OutputPath");
            if (_exportPath is not null)
                throw Usage($"{input.Name}: ExportQuantizer writes one quantizer, but each tensor of a model folder gets its own.", ErrorIds.ExportQuantizerNeedsOneQuantizer, "ExportQuantizer");
            if (_request.Form == OutputForm.Qdq)
                throw Usage($"{input.Name}: the qdq format is for ONNX models; a model folder takes fake, int or compressed-tensors.", ErrorIds.OutputFormNotSupported, "Format");
            if (_part is not null && _request.Finish)
                throw Usage("Part and Finish cannot both be given: each part writes its shards, then one Finish completes the run.", ErrorIds.OptionConflict, "Finish");
            string outputName = _request.OutputPath ?? (_request.OutputDirectory is { } directory
                ? Path.Combine(directory, Path.GetFileName(Path.TrimEndingDirectorySeparator(input.FullPath!)))
                : FolderQuantizer.DefaultOutput(input.Name, _request.Form));
            output = Path.GetFullPath(outputName);
            _outputs.EnsureDirectory();
            FolderQuantizer.CheckOutput(input.FullPath!, output, _request.Force, outputName);
            var folder = ModelFolder.Open(input.FullPath!, input.Name);
            quantizer = new FolderQuantizer(folder, _policy, _request.Form, Options(null), _request.ShardParallelism, output, outputName);
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        string action = _request.Finish ? "Finish the split quantization into" : _part is not null ? $"Quantize part {_part} into" : "Quantize into";
        if (!Host.ShouldProcess(input.Name, $"{action} '{output}'")) return;
        Enqueue(input, token =>
        {
            void Progress(long done, long total) => ReportItemBytes(input, done, total);
            if (_request.Finish)
            {
                quantizer.FinishParts(token);
                return [];
            }
            return _part is not null ? quantizer.RunPart(_part, Progress, token) : quantizer.Run(Progress, token);
        });
    }

    /// <summary>An .npy input: streamed through the kernel, or read once when its values are chosen from it.</summary>
    private QuantizationResult QuantizeNpy(JobInput input, OutputTarget output, CancellationToken token)
    {
        if (_request.Form != OutputForm.Fake)
            throw new QuantShellException($"{input.Name}: the {EnumNames.Json(_request.Form)} form is written for model files; an .npy file is written fake-quantized.",
                ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidArgument, "Form");
        var recipe = _recipe;
        if (_policy.Rules is not null)
        {
            RefuseActivations(input);
            // With rules, an .npy file is one tensor named after the file.
            using var file = NpyTensorFile.Open(input.FullPath!, input.Name);
            var decision = _policy.Decide(file.Tensors[0]);
            if (decision.Recipe is null)
            {
                AtomicFile.Write(output.Path!, Output, stream => file.WriteCopy(stream, _ => null, token), output.Name);
                return QuantizationResult.CreateSkipped(input.ResultPath, Path.GetFullPath(output.Path!), file.Tensors[0], decision.SkipReason!);
            }
            recipe = decision.Recipe;
        }
        if (!recipe.ChoosesFromData)
        {
            var quantizer = recipe.Complete;
            return output.Stream is null && !input.IsStream
                ? NpyQuantizer.QuantizeFile(input.Name, output.Name, quantizer, Options(null), token)
                : StreamToOutput(input, output, quantizer, token);
        }
        // Chosen from this input alone: read it once, choose, quantize the array in memory.
        var array = input.ReadArray();
        return WriteArray(array, input, output, recipe.ResolveFor([array], input.Name), recipe.Describe(1), token);
    }

    /// <summary>A model file: one decision per tensor, written as a file of the same kind.</summary>
    private IReadOnlyList<QuantizationResult> QuantizeModel(JobInput input, OutputTarget output, CancellationToken token)
    {
        if (output.Stream is not null)
            throw Usage($"{input.Name}: a model file is written to a file; give OutputPath or OutputDirectory.", ErrorIds.OutputFormNotSupported, "OutputPath");
        if (_exportPath is not null && _recipe.ChoosesFromData)
            throw Usage($"{input.Name}: ExportQuantizer writes one quantizer, but the values of each tensor of a model file are chosen from that tensor.", ErrorIds.ExportQuantizerNeedsOneQuantizer, "ExportQuantizer");
        using var file = input.OpenTensorFile();
        if (_request.Form == OutputForm.CompressedTensors)
            throw new QuantShellException($"{input.Name}: the compressed-tensors format is written for Hugging Face model folders (config.json and safetensors shards); give the folder.", ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidArgument, "Format");
        if (_request.Form == OutputForm.Qdq && file.Kind != TensorFileKind.Onnx)
            throw new QuantShellException($"{input.Name}: the qdq form is for ONNX models; a {file.FormatName} file takes fake or int.", ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidArgument, "Form");
        var options = Options(null);
        string outputPath = Path.GetFullPath(output.Path!);
        long total = file.Tensors.Sum(t => t.ByteCount), done = 0;
        void BytesDone(long bytes) => ReportItemBytes(input, done += bytes, total);
        if (file is OnnxTensorFile onnx)
            return OnnxModelQuantizer.Quantize(onnx, _request.Form, outputPath, output.Name, Output, _policy.Decide, options, BytesDone, token, _policy.Rules);
        RefuseActivations(input);
        return AtomicFile.Write(output.Path!, Output, stream => _request.Form == OutputForm.Int
            ? ModelQuantizer.WriteInt(file, file.Kind, stream, outputPath, _policy.Decide, options, BytesDone, token)
            : ModelQuantizer.WriteFake(file, stream, outputPath, _policy.Decide, options, BytesDone, token), output.Name);
    }

    // Values chosen from the single input (the job has one when it exports them): written once that input is done.
    protected override void Delivered(JobInput input, IReadOnlyList<QuantizationResult> results)
    {
        if (_exportPath is not null && _recipe.ChoosesFromData && !_recipe.Calibrates && results is [{ Quantizer: { } spec }])
            ExportQuantizer(spec);
    }

    private FileQuantizeOptions Options(SelectionInfo? selection) =>
        new() { Force = _request.Force, Fsync = _request.Fsync, AllowNonFinite = _request.AllowNonFinite, ChunkBytes = _request.ChunkBytes, Selection = selection };

    private WriteOptions Output => new() { Force = _request.Force, Fsync = _request.Fsync };

    // A stream in (stdin) or out (stdout): read once, in order.
    private QuantizationResult StreamToOutput(JobInput input, OutputTarget output, InferableQuantizer quantizer, CancellationToken token)
    {
        using var source = input.Open();
        if (output.Stream is not null)
            return NpyQuantizer.QuantizeStream(source, input.Name, output.Stream, output.Name, quantizer, Options(null), token);
        return AtomicFile.Write(output.Path!, Output,
            stream => NpyQuantizer.QuantizeStream(source, input.Name, stream, output.Path!, quantizer, Options(null), token), output.Name);
    }

    private QuantizationResult WriteArray(NpyArray array, JobInput input, OutputTarget output, InferableQuantizer quantizer, SelectionInfo? selection, CancellationToken token)
    {
        var options = Options(selection);
        if (output.Stream is not null)
            return NpyQuantizer.QuantizeArray(array, input.Name, output.Stream, output.Name, quantizer, options, token);
        return AtomicFile.Write(output.Path!, Output,
            stream => NpyQuantizer.QuantizeArray(array, input.Name, stream, output.Path!, quantizer, options, token), output.Name);
    }

    // A quantizer file is written once, when the quantizer for all inputs is known and something is about to be quantized.
    private void ExportQuantizer(QuantizerSpec spec)
    {
        if (_exportPath is null || _quantizerExported) return;
        _quantizerExported = true;
        if (Host.ShouldProcess(_exportPath, "Write quantizer file"))
            QuantizerFile.Write(_exportPath, spec, Output, _request.ExportQuantizerPath);
    }

    /// <summary>Activation quantizers name values of an ONNX model's graph; other files have no graph to put them in.</summary>
    private void RefuseActivations(JobInput input)
    {
        if (_policy.Rules is { Activations.Count: > 0 } rules)
            throw new QuantShellException($"{input.Name}: {rules.Source} holds activation quantizers, which apply to ONNX models (values of the graph); this file has no graph. Remove its \"activations\" list for this file.",
                ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidArgument, "Rules");
    }

    private static QuantShellException Usage(string message, string errorId, string parameter) =>
        new(message, errorId, QuantShellErrorKind.InvalidArgument, parameter);
}
