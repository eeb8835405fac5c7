using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Plotting;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs;

/// <summary>
/// Measures a quantizer on inputs without writing them: each input is read once, its quantizer resolved (given, chosen
/// per input, or calibrated over all), measured per tensor and per channel, and plotted when asked.
/// </summary>
public sealed class MeasureJob : InputJob<MeasurementResult>
{
    private readonly MeasureRequest _request;
    private readonly QuantizerRequest _quantizer;
    private readonly string? _plotPath;

    public MeasureJob(MeasureRequest request, JobHost<MeasurementResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _quantizer = request.Quantizer.ToRequest();
        if (request.PlotPath is not null)
        {
            _plotPath = Path.GetFullPath(request.PlotPath);
            AtomicFile.CheckWritable(_plotPath, request.Force, request.PlotPath);
        }
    }

    public QuantizerRequest Quantizer => _quantizer;

    protected override string Activity => "Measure";

    protected override bool CollectsInputs => _plotPath is not null || _quantizer.Calibrates;

    public static MeasureJob Run(MeasureRequest request, IEnumerable<JobInput> inputs, JobHost<MeasurementResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new MeasureJob(request, host, cancellationToken), inputs);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        if (_plotPath is not null && inputs.Count > 1)
            throw new QuantShellException($"PlotPath draws one input but {inputs.Count} inputs were given; measure one file at a time to plot it.",
                ErrorIds.PlotPathWithSeveralInputs, QuantShellErrorKind.InvalidArgument, "PlotPath");
        if (!_quantizer.Calibrates)
        {
            base.StartCollected(inputs);
            return;
        }
        var readable = new List<(JobInput Input, NpyArray Array)>(inputs.Count);
        foreach (var input in inputs)
        {
            Cancellation.ThrowIfCancellationRequested();
            try
            {
                readable.Add((input, input.ReadArray()));
            }
            catch (QuantShellException ex)
            {
                Fail(input, ex);
            }
        }
        if (readable.Count == 0)
            throw new QuantShellException("No readable input is left to choose the quantizer from.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidData);
        var quantizer = _quantizer.ResolveFor(readable.Select(r => r.Array).ToList(), string.Join(", ", readable.Select(r => r.Input.Name)));
        var selection = _quantizer.Describe(readable.Count);
        bool plot = PlotAllowed();
        foreach (var (input, array) in readable)
            Enqueue(input, _ => [MeasureArray(input, array, quantizer, selection, plot)]);
    }

    protected override void Start(JobInput input)
    {
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
        Enqueue(input, _ =>
        {
            var array = input.ReadArray();
            var quantizer = _quantizer.ResolveFor([array], input.Name);
            return [MeasureArray(input, array, quantizer, _quantizer.Describe(1), plot)];
        });
    }

    private bool PlotAllowed() => _plotPath is not null && Host.ShouldProcess(_plotPath, "Write histogram plot");

    private MeasurementResult MeasureArray(JobInput input, NpyArray array, InferableQuantizer quantizer, SelectionInfo? selection, bool plot)
    {
        var result = QuantizationMetrics.Measure(array, quantizer, input.Name, selection);
        if (!plot) return result;
        HistogramPlot.Write(_plotPath!, array, quantizer, result, _request.Force, _request.PlotPath);
        return result with { PlotPath = _plotPath };
    }
}
