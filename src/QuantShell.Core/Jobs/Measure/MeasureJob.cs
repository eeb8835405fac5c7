using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Plotting;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs.Measure;

/// <summary>
/// Measures a quantizer on inputs without writing them: each input is read once, its quantizer resolved (given, chosen
/// per input, or calibrated over all), measured per tensor and per channel, and plotted when asked.
/// </summary>
public sealed class MeasureJob : InputJob<MeasurementResult>
{
    private readonly MeasureRequest _request;
    private readonly TensorPolicy _policy;
    private readonly QuantizerRecipe _recipe;
    private readonly string? _plotPath;
    private readonly PlotFormat _plotFormat;

    public MeasureJob(MeasureRequest request, JobHost<MeasurementResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _policy = TensorPolicy.Create(request.Quantizer, request.Rules, request.RulesPath);
        _recipe = _policy.Recipe;
        if (request.PlotPath is not null)
        {
            // Before any input is read: a plot that cannot be written fails the whole request at once.
            _plotFormat = PlotFile.FormatOf(request.PlotPath);
            if (request.Plotter is null)
                throw new QuantShellException($"{request.PlotPath}: {Parameter.PlotPath} needs a plotter to draw it (MeasureRequest.Plotter).",
                    ErrorIds.PlotterMissing, QuantShellErrorKind.InvalidArgument, Parameter.PlotPath.Name);
            _plotPath = Path.GetFullPath(request.PlotPath);
            AtomicFile.CheckWritable(_plotPath, request.Force, request.PlotPath);
        }
    }

    public QuantizerRecipe Recipe => _recipe;

    protected override string Activity => "Measure";

    protected override bool CollectsInputs => _plotPath is not null || _recipe.Calibrates;

    public static MeasureJob Run(MeasureRequest request, IEnumerable<JobInput> inputs, JobHost<MeasurementResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new MeasureJob(request, host, cancellationToken), inputs);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        if (_plotPath is not null && inputs.Count > 1)
            throw new QuantShellException($"{Parameter.PlotPath} draws one input but {inputs.Count} inputs were given; measure one file at a time to plot it.",
                ErrorIds.PlotPathWithSeveralInputs, QuantShellErrorKind.InvalidArgument, Parameter.PlotPath.Name);
        if (!_recipe.Calibrates)
        {
            base.StartCollected(inputs);
            return;
        }
        if (CalibrationPool.Read(_recipe, inputs, Parameter.Calibrate, Fail, Cancellation) is not { } pool) return;
        bool plot = PlotAllowed();
        foreach (var (input, array) in pool.Inputs)
            Enqueue(input, _ => [MeasureArray(input, array, pool.Quantizer, pool.Selection, plot)]);
    }

    // What quantize wrote beside an input is not measured with it (nor pooled with it by Calibrate).
    protected override IReadOnlyCollection<string> OwnOutputTags => Quantize.QuantizeJob.OutputTags;

    protected override void Start(JobInput input)
    {
        // A Hugging Face model folder is one input, as quantize takes it: the tensors it would quantize, shard by shard.
        if (input.IsFolder)
        {
            bool plotFolder = PlotAllowed();
            Enqueue(input, _ => MeasureFolder(input, plotFolder));
            return;
        }
        try
        {
            input.CheckReadable();
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        bool plot = PlotAllowed();
        Enqueue(input, _ => input.Kind() == TensorFileKind.Npy ? MeasureNpy(input, plot) : MeasureModel(input, plot));
    }

    private IReadOnlyList<MeasurementResult> MeasureNpy(JobInput input, bool plot)
    {
        var array = input.ReadArray();
        var recipe = _recipe;
        if (_policy.Rules is not null)
        {
            // With rules, an .npy file is one tensor named after the file.
            var tensor = new StoredTensor { Name = Path.GetFileNameWithoutExtension(input.Name), DType = array.SourceDType, StoredDType = array.SourceDType.Name, Shape = array.Shape };
            var decision = _policy.Decide(tensor, input.Name);
            if (decision.Recipe is not { } chosen)
            {
                Warn(input, $"{input.Name}: nothing measured: {decision.SkipReason}");
                return [];
            }
            recipe = chosen;
        }
        return [MeasureArray(input, array, recipe.ResolveFor([array], input.Name), recipe.Describe(1), plot)];
    }

    /// <summary>Every tensor the rules or defaults would quantize, each read once, one at a time.</summary>
    private IReadOnlyList<MeasurementResult> MeasureModel(JobInput input, bool plot)
    {
        using var file = input.OpenTensorFile();
        var measured = new Measured(plot);
        MeasureTensors(input, file, _policy.DeciderFor(input.Name), measured, file.Tensors.Sum(t => t.ByteCount), file.Tensors.Count);
        if (measured.Results.Count == 0) Warn(input, $"{input.Name}: nothing measured: {NothingToQuantize.Why(file, _policy, measured.Skipped)}");
        return Finish(input, measured);
    }

    /// <summary>
    /// A model folder: every tensor quantize would quantize in it (rules, or by default its Linear weights), shard by
    /// shard, each read once.
    /// </summary>
    private IReadOnlyList<MeasurementResult> MeasureFolder(JobInput input, bool plot)
    {
        var folder = ModelFolder.Open(input.FullPath!, input.Name);
        var measured = new Measured(plot);
        long total = folder.Shards.Sum(s => s.Tensors.Sum(t => t.ByteCount));
        int count = folder.Shards.Sum(s => s.Tensors.Count);
        foreach (var shard in folder.Shards)
        {
            using var file = folder.OpenShard(shard);
            MeasureTensors(input, file, _policy.LinearWeightDeciderFor(file.Name), measured, total, count);
        }
        if (measured.Results.Count == 0)
            Warn(input, $"{input.Name}: nothing measured: {(count == 0 ? "the folder holds no tensors" : NothingToQuantize.Why(count, _policy, measured.Skipped))}");
        return Finish(input, measured);
    }

    /// <summary>What a model file's or folder's measuring has gathered so far.</summary>
    private sealed class Measured(bool plot)
    {
        public bool Plot { get; } = plot;
        public List<MeasurementResult> Results { get; } = [];
        public List<string?> Skipped { get; } = [];
        public NpyArray? FirstValues { get; set; }
        public long Done { get; set; }
        public int TensorsDone { get; set; }
    }

    private void MeasureTensors(JobInput input, TensorFile file, Func<StoredTensor, TensorDecision> decide, Measured measured, long total, int count)
    {
        foreach (var tensor in file.Tensors)
        {
            Cancellation.ThrowIfCancellationRequested();
            ReportItemProgress(input, measured.Done, total, measured.TensorsDone++, count);
            measured.Done += tensor.ByteCount;
            var decision = decide(tensor);
            if (decision.Recipe is not { } recipe)
            {
                measured.Skipped.Add(decision.SkipCategory);
                continue;
            }
            string name = ModelQuantizer.Source(file, tensor);
            NpyArray array;
            using (var source = file.OpenTensor(tensor))
                array = TensorValues.Read(source, tensor, name);
            var quantizer = recipe.ResolveFor([array], name);
            measured.Results.Add(QuantizationMetrics.Measure(array, quantizer, input.Name, recipe.Describe(1), tensor.Name));
            if (measured.Plot && measured.Results.Count == 1) measured.FirstValues = array;
        }
    }

    /// <summary>A plot, where asked, of the one tensor measured.</summary>
    private IReadOnlyList<MeasurementResult> Finish(JobInput input, Measured measured)
    {
        var results = measured.Results;
        if (measured.Plot && results.Count != 1)
            throw new QuantShellException($"{input.Name}: {Parameter.PlotPath} draws one tensor but {results.Count} were measured; give {Parameter.Rules} that select one.",
                ErrorIds.PlotPathWithSeveralInputs, QuantShellErrorKind.InvalidArgument, Parameter.PlotPath.Name);
        if (measured.Plot) results[0] = Plot(measured.FirstValues!, InferableQuantizer.Create(results[0].Quantizer), results[0]);
        return results;
    }

    private bool PlotAllowed() => _plotPath is not null && Host.ShouldProcess(_plotPath, "Write plot");

    private MeasurementResult MeasureArray(JobInput input, NpyArray array, InferableQuantizer quantizer, SelectionInfo? selection, bool plot)
    {
        var result = QuantizationMetrics.Measure(array, quantizer, input.Name, selection);
        return plot ? Plot(array, quantizer, result) : result;
    }

    private MeasurementResult Plot(NpyArray array, InferableQuantizer quantizer, MeasurementResult result)
    {
        var figure = QuantizationFigure.Create(array, quantizer, result);
        PlotFile.Write(_plotPath!, figure, _request.Plotter!, _plotFormat, new WriteOptions { Force = _request.Force, Fsync = _request.Fsync }, _request.PlotPath);
        return result with { PlotPath = _plotPath };
    }
}
