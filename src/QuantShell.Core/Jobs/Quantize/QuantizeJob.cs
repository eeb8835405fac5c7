using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Diagnostics;
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
/// reports one result per input or one error: an .npy file's <see cref="QuantizationResult"/>, a model file's
/// <see cref="ModelQuantizationSummary"/> (each tensor's result inside; a warning first when nothing was quantized).
/// </summary>
public sealed class QuantizeJob : InputJob<QuantizationReport>
{
    private readonly QuantizeRequest _request;
    private readonly TensorPolicy _policy;
    private readonly QuantizerRecipe _recipe;
    private readonly OutputPlanner _outputs;
    private readonly string? _exportPath;
    private readonly SplitPart? _part;
    private bool _quantizerExported;

    /// <summary>Checks the request (every rule that needs no input) and reads the quantizer file, if any.</summary>
    public QuantizeJob(QuantizeRequest request, JobHost<QuantizationReport> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _policy = TensorPolicy.Create(request.Quantizer, request.Rules, request.RulesPath);
        _recipe = _policy.Recipe;
        _outputs = new OutputPlanner(request.OutputPath, request.OutputDirectory, request.OutputStream, request.Force,
            path => DefaultOutputPath(path, request.Format));
        _part = request.Part is null ? null : SplitPart.Parse(request.Part);
        if (request.ExportQuantizerPath is not null && _policy.Rules is not null)
            throw Usage($"{Parameter.ExportQuantizer} writes one quantizer, but rules give each tensor its own; export from a run without {Parameter.Rules}.", ErrorIds.ExportQuantizerNeedsOneQuantizer, Parameter.ExportQuantizer);
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
    public static string DefaultOutputPath(string inputPath, OutputFormat format = OutputFormat.Fake) =>
        OutputPlanner.Beside(inputPath, Tag(format), Path.HasExtension(inputPath) ? null : ".npy");

    /// <summary>What a default output name says of its format: <c>q</c> (fake), <c>int</c>, <c>qdq</c>.</summary>
    internal static string Tag(OutputFormat format) => format == OutputFormat.Fake ? "q" : EnumNames.Json(format);

    /// <summary>The tags of every default output name (<see cref="Tag"/> of each form).</summary>
    internal static readonly IReadOnlyCollection<string> OutputTags = Enum.GetValues<OutputFormat>().Select(Tag).ToArray();

    // Whatever the form asked for now: x.int.safetensors of an earlier run is no more an input than x.q.safetensors.
    protected override IReadOnlyCollection<string> OwnOutputTags => OutputTags;

    /// <summary>Runs a whole job: adds every input, completes, and returns it for its counts.</summary>
    public static QuantizeJob Run(QuantizeRequest request, IEnumerable<JobInput> inputs, JobHost<QuantizationReport> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new QuantizeJob(request, host, cancellationToken), inputs);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        _outputs.CheckCount(inputs.Count);
        if (_exportPath is not null && _recipe.ChoosesFromData && !_recipe.Calibrates && inputs.Count > 1)
            throw Usage($"{Parameter.ExportQuantizer} writes one quantizer but each of the {inputs.Count} inputs would get its own chosen values; add {Parameter.Calibrate} to choose one from all inputs, or give the values.",
                ErrorIds.ExportQuantizerNeedsOneQuantizer, Parameter.ExportQuantizer);
        if (!_recipe.Calibrates)
        {
            base.StartCollected(inputs);
            return;
        }

        if (CalibrationPool.Read(_recipe, inputs, Parameter.Calibrate, Fail, Cancellation) is not { } pool) return;
        ExportQuantizer(pool.Quantizer.Spec);
        foreach (var (input, array) in pool.Inputs)
        {
            if (Cancellation.IsCancellationRequested) break;
            StartWithOutput(input, _outputs, "Quantize", (output, token) => [WriteArray(array, input, output, pool.Quantizer, pool.Selection, token)]);
        }
    }

    protected override void Start(JobInput input)
    {
        if (input.IsFolder)
        {
            StartFolder(input);
            return;
        }
        if (_part is not null || _request.Finish)
        {
            Fail(input, Usage($"{input.Name}: {Parameter.Part} and {Parameter.Finish} split the shards of a model folder; this input is a file.", ErrorIds.PartInvalid, _part is not null ? Parameter.Part : Parameter.Finish));
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
                throw Usage($"{input.Name}: a model folder is written to a folder, not to a stream; give {Parameter.OutputPath} (the output folder).", ErrorIds.StreamOutputNotSupported, Parameter.OutputPath);
            if (_exportPath is not null)
                throw Usage($"{input.Name}: {Parameter.ExportQuantizer} writes one quantizer, but each tensor of a model folder gets its own.", ErrorIds.ExportQuantizerNeedsOneQuantizer, Parameter.ExportQuantizer);
            if (_request.Format == OutputFormat.Qdq)
                throw Usage($"{input.Name}: {Parameter.Format.With(OutputFormat.Qdq)} is for ONNX models; a model folder takes {Parameter.Values(OutputFormat.Fake, OutputFormat.Int, OutputFormat.CompressedTensors)}.", ErrorIds.OutputFormatNotSupported, Parameter.Format);
            if (_part is not null && _request.Finish)
                throw Usage($"{Parameter.Part} and {Parameter.Finish} cannot both be given: each part writes its shards, then one {Parameter.Finish} completes the run.", ErrorIds.OptionConflict, Parameter.Finish);
            string outputName = FolderOutput.NameFor(input, _request.OutputPath, _request.OutputDirectory, name => FolderQuantizer.DefaultOutput(name, _request.Format));
            output = Path.GetFullPath(outputName);
            _outputs.EnsureDirectory();
            FolderOutput.Check(input.FullPath!, output, _request.Force, outputName);
            var folder = ModelFolder.Open(input.FullPath!, input.Name);
            quantizer = new FolderQuantizer(folder, _policy, _request.Format, Options(null), _request.ShardParallelism, output, outputName);
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
            var clock = Stopwatch.StartNew();
            void Progress(long done, long total, int tensorsDone, int tensorsTotal) => ReportItemProgress(input, done, total, tensorsDone, tensorsTotal);
            if (_request.Finish)
            {
                quantizer.FinishParts(token);
                return [];
            }
            var results = _part is not null ? quantizer.RunPart(_part, Progress, token) : quantizer.Run(Progress, token);
            var summary = Summarize(input, "model folder", results.Count, output, results, quantizer.InputBytes, _part is null ? quantizer.OutputBytes() : null, clock.Elapsed,
                skipped => results.Count == 0 ? "the folder holds no tensors" : NothingToQuantize.Why(results.Count, _policy, skipped));
            if (summary.Warning is { } why) Warn(input, $"{input.Name}: nothing quantized, the output holds the same values: {why}");
            return [summary];
        });
    }

    /// <summary>An .npy input: streamed through the kernel, or read once when its values are chosen from it.</summary>
    private QuantizationResult QuantizeNpy(JobInput input, OutputTarget output, CancellationToken token)
    {
        if (_request.Format != OutputFormat.Fake)
            throw new QuantShellException($"{input.Name}: {Parameter.Format.With(_request.Format)} is written for model files; an .npy file is written fake-quantized ({Parameter.Format.With(OutputFormat.Fake)}).",
                ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, Parameter.Format.Name);
        var recipe = _recipe;
        if (_policy.Rules is not null)
        {
            RefuseActivations(input);
            // With rules, an .npy file is one tensor named after the file.
            using var file = NpyTensorFile.Open(input.FullPath!, input.Name);
            var decision = _policy.Decide(file.Tensors[0], input.Name);
            if (decision.Recipe is null)
            {
                AtomicFile.Write(output.Path!, Output, stream => file.WriteCopy(stream, _ => null, token), output.Name);
                return QuantizationResult.CreateSkipped(input.ResultPath, Path.GetFullPath(output.Path!), file.Tensors[0], decision);
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
        if (QuantizeByChannels(input, output, recipe, token) is { } byChannels) return byChannels;
        // Chosen from this input alone: read it once, choose, quantize the array in memory.
        var array = input.ReadArray();
        return WriteArray(array, input, output, recipe.ResolveFor([array], input.Name), recipe.Describe(1), token);
    }

    /// <summary>
    /// Values chosen per channel along an axis with only length-1 axes before it (axis 0, a weight's output channels, by
    /// default), or per tensor with no clipping or by the optimal search of a large tensor (from its extremes and strided
    /// samples, gathered in one pass), of a float32 or float64 .npy file in C order: each channel is one run of
    /// the file, so the values are chosen from blocks of channels read into buffers used again for each block, and the
    /// blocks quantized as they are read where their values are final then (<see cref="NpyChannelBlocks"/>). Where they
    /// cannot be chosen block by block, per channel, each channel is read straight into its own array, the values chosen
    /// from them, and the file streamed through the complete quantizer. The tensor is never held twice. Null when the
    /// input is not such a file (the general path takes it).
    /// </summary>
    private QuantizationResult? QuantizeByChannels(JobInput input, OutputTarget output, QuantizerRecipe recipe, CancellationToken token)
    {
        var spec = recipe.Spec;
        // Group-wise values are chosen per channel and group, not from whole channels: the general path splits them.
        if (input.IsStream || input.FullPath is null || output.Stream is not null || spec.Target != QuantizationTarget.Weights || spec.GroupSize is not null)
            return null;
        // A named pipe (quantize <(cat x.npy)) or a device reports no size and can be read only once: the general path
        // reads it whole, in order. Nothing may be read from it here.
        if (FileLength.Of(new FileInfo(input.FullPath)) == 0)
            return null;
        NpyHeader header;
        long fileBytes;
        using (var file = NpyFiles.OpenRead(input.FullPath, input.Name))
        {
            header = NpyHeader.Read(file, input.Name);
            fileBytes = file.Length;
        }
        // Per tensor only the optimal search of a tensor too large for MCT's choice to be a candidate is chosen from samples.
        if (!spec.PerChannel && recipe.Selection!.ErrorMethod != ErrorMethod.NoClipping && !ParameterSelector.SampledApplies(spec, recipe.Selection, header.ElementCount))
            return null;
        if (header.FortranOrder || header.DType.BigEndian || header.DType.Kind != DTypeKind.Float || header.DType.ItemSize is not (4 or 8)
            || header.Shape.Length == 0 || header.ElementCount == 0 || fileBytes < header.DataOffset + header.DataBytes)
            return null;
        int? axis = null;
        if (spec.PerChannel)
        {
            if (recipe.ChannelRunAxis(header.Shape) is not int a) return null;
            axis = a;
        }
        var options = Options(recipe.Describe(1));
        var byBlocks = header.DType.IsDouble
            ? NpyChannelBlocks.Quantize<double>(input.Name, input.Name, output.Name, header, axis, recipe, options, token)
            : NpyChannelBlocks.Quantize<float>(input.Name, input.Name, output.Name, header, axis, recipe, options, token);
        if (byBlocks is not null || axis is null) return byBlocks;
        var quantizer = header.DType.IsDouble
            ? ChooseByChannels<double>(input, header, axis.Value, recipe, token)
            : ChooseByChannels<float>(input, header, axis.Value, recipe, token);
        WholeTensorMemory.Release(header.DataBytes);
        return NpyQuantizer.QuantizeFile(input.Name, output.Name, quantizer, options, token);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // the channels die with this frame
    private static InferableQuantizer ChooseByChannels<T>(JobInput input, NpyHeader header, int axis, QuantizerRecipe recipe, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        long channelCount = header.Shape[axis], inner = header.ElementCount / channelCount;
        var channels = new T[channelCount][];
        using (var file = NpyFiles.OpenRead(input.FullPath!, input.Name))
        {
            file.Position = header.DataOffset;
            for (long c = 0; c < channelCount; c++)
            {
                token.ThrowIfCancellationRequested();
                channels[c] = LargeArrays.Allocate<T>((int)inner); // every element is read into
                NpyFiles.ReadExactly(file, MemoryMarshal.AsBytes(channels[c].AsSpan()), input.Name, header);
            }
        }
        return recipe.ResolveForChannels(channels, axis, header.Shape, input.Name);
    }

    /// <summary>A model file: one decision per tensor, written as a file of the same kind, and summed up.</summary>
    private IReadOnlyList<QuantizationReport> QuantizeModel(JobInput input, OutputTarget output, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        if (output.Stream is not null)
            throw Usage($"{input.Name}: a model file is written to a file, not to a stream; give {Parameter.OutputPath} or {Parameter.OutputDirectory}.", ErrorIds.StreamOutputNotSupported, Parameter.OutputPath);
        if (_exportPath is not null && _recipe.ChoosesFromData)
            throw Usage($"{input.Name}: {Parameter.ExportQuantizer} writes one quantizer, but the values of each tensor of a model file are chosen from that tensor.", ErrorIds.ExportQuantizerNeedsOneQuantizer, Parameter.ExportQuantizer);
        using var file = input.OpenTensorFile();
        if (_request.Format == OutputFormat.CompressedTensors)
            throw new QuantShellException($"{input.Name}: the compressed-tensors format is written for Hugging Face model folders (config.json and safetensors shards); give the folder.", ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, Parameter.Format.Name);
        if (_request.Format == OutputFormat.Qdq && file.Kind != TensorFileKind.Onnx)
            throw new QuantShellException($"{input.Name}: {Parameter.Format.With(OutputFormat.Qdq)} is for ONNX models; a {file.FormatName} file takes {Parameter.Values(OutputFormat.Fake, OutputFormat.Int)}.", ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, Parameter.Format.Name);
        var options = Options(null);
        string outputPath = Path.GetFullPath(output.Path!);
        long total = file.Tensors.Sum(t => t.ByteCount), done = 0;
        int tensorsDone = 0;
        void BytesDone(long bytes) => ReportItemProgress(input, done += bytes, total, ++tensorsDone, file.Tensors.Count);
        long? inputBytes = FileBytes(input.FullPath, file);
        IReadOnlyList<QuantizationResult> results;
        if (file is OnnxTensorFile onnx)
        {
            results = OnnxModelQuantizer.Quantize(onnx, _request.Format, outputPath, output.Name, Output, _policy.DeciderFor(input.Name), options, BytesDone, token, _policy.Rules);
        }
        else
        {
            RefuseActivations(input);
            results = AtomicFile.Write(output.Path!, Output, stream => _request.Format == OutputFormat.Int
                ? ModelQuantizer.WriteInt(file, file.Kind, stream, outputPath, _policy.DeciderFor(input.Name), options, BytesDone, token)
                : ModelQuantizer.WriteFake(file, stream, outputPath, _policy.DeciderFor(input.Name), options, BytesDone, token), output.Name);
        }
        var summary = Summarize(input, file.FormatName, file.Tensors.Count, outputPath, results, inputBytes, FileBytes(outputPath, file, written: true), clock.Elapsed,
            skipped => NothingToQuantize.Why(file, _policy, skipped));
        if (summary.Warning is { } why) Warn(input, $"{input.Name}: nothing quantized, the output holds the same values: {why}");
        return [summary];
    }

    /// <summary>The model's results in a few numbers, and why nothing was quantized when nothing was.</summary>
    private ModelQuantizationSummary Summarize(JobInput input, string fileFormat, int tensorCount, string outputPath, IReadOnlyList<QuantizationResult> results,
                                               long? inputBytes, long? outputBytes, TimeSpan elapsed, Func<IEnumerable<string?>, string> whyNothing)
    {
        var weights = results.Where(r => !r.Skipped && !r.Activation).ToList();
        var skipped = results.Where(r => r.Skipped).ToList();
        int activations = results.Count(r => r.Activation);
        double signal = weights.Sum(r => r.SumSquaredSignal), noise = weights.Sum(r => r.SumSquaredError);
        double? sqnr = weights.Count == 0 ? null
            : noise == 0 ? (signal == 0 ? double.NaN : double.PositiveInfinity)
            : 10 * Math.Log10(signal / noise);
        return new ModelQuantizationSummary
        {
            InputPath = input.ResultPath,
            OutputPath = outputPath,
            FileFormat = fileFormat,
            Format = _request.Format,
            TensorCount = tensorCount,
            QuantizedCount = weights.Count,
            SkippedCount = skipped.Count,
            ActivationCount = activations,
            Skipped = NothingToQuantize.Group(skipped.Select(r => r.SkipCategory ?? "skipped")),
            QuantizedElementCount = weights.Sum(r => r.ElementCount),
            InputBytes = inputBytes,
            OutputBytes = outputBytes,
            SqnrDb = sqnr,
            Warning = weights.Count == 0 && activations == 0 ? whyNothing(skipped.Select(r => r.SkipCategory)) : null,
            ElapsedMs = elapsed.TotalMilliseconds,
            Tensors = results,
        };
    }

    /// <summary>A model's size on disk: the file, and an ONNX model's external data (the input's files, or the one written beside the output).</summary>
    private static long? FileBytes(string? path, TensorFile file, bool written = false)
    {
        if (path is null || !File.Exists(path)) return null;
        long bytes = FileLength.Of(new FileInfo(path));
        if (file is OnnxTensorFile { Model: var model } && model.HasExternalData)
        {
            var data = written ? [path + ".data"] : model.ExternalDataFiles();
            bytes += data.Where(File.Exists).Sum(f => FileLength.Of(new FileInfo(f)));
        }
        return bytes;
    }

    // Values chosen from the single input (the job has one when it exports them): written once that input is done.
    protected override void Delivered(JobInput input, IReadOnlyList<QuantizationReport> results)
    {
        if (_exportPath is not null && _recipe.ChoosesFromData && !_recipe.Calibrates && results is [QuantizationResult { Quantizer: { } spec }])
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
                ErrorIds.RulesActivationsNotApplicable, QuantShellErrorKind.InvalidArgument, Parameter.Rules.Name);
    }

    private static QuantShellException Usage(string message, string errorId, Parameter parameter) =>
        new(message, errorId, QuantShellErrorKind.InvalidArgument, parameter.Name);
}
