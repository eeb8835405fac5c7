using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Plotting;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Measure-Quantization: measures how well .npy files survive a quantizer (MSE, MAE, max error, SQNR, clipping, levels
/// used), per tensor and per channel, without writing the quantized data; optionally draws the histogram with the grid
/// and clipping range. The quantizer is given or built, as for Invoke-Quantize.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "Quantization", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(QuantizationMeasurement))]
public sealed class MeasureQuantizationCommand : QuantizerInputCommand
{
    private const int ProgressActivityId = 2;

    private string? _plotPath;
    private volatile bool _stopping;

    /// <summary>A PNG histogram of the values with the quantizer's grid and clipping range; only for a single input.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PlotPath { get; set; }

    /// <summary>Replace an existing -PlotPath file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing()
    {
        if (PlotPath is not null)
        {
            _plotPath = PathResolver.ResolveLiteral(this, PlotPath, out var error);
            if (error is not null || _plotPath is null) ThrowTerminatingError(error!);
        }
        PrepareQuantizer();
    }

    protected override void ProcessRecord() => CollectInputs();

    protected override void EndProcessing()
    {
        if (_plotPath is not null)
        {
            if (Inputs.Count > 1)
            {
                ThrowTerminatingError(ErrorRecords.Create(
                    $"-PlotPath names one file but {Inputs.Count} inputs were given; measure one file at a time to plot it.",
                    "PlotPathRequiresSingleInput", ErrorCategory.InvalidArgument, PlotPath));
            }
            try
            {
                AtomicFile.CheckWritable(_plotPath, Force.IsPresent);
            }
            catch (QuantShellException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex, _plotPath));
            }
        }

        IReadOnlyList<string> inputs = Inputs;
        var shared = CompleteQuantizer;
        if (shared is null && Calibrate)
        {
            (shared, inputs) = CalibrateShared();
            if (shared is null) return;
        }

        var progress = new ProgressRecord(ProgressActivityId, "Measure-Quantization", "Starting");
        bool showProgress = inputs.Count > 1;
        var progressClock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < inputs.Count && !_stopping; i++)
        {
            string input = inputs[i];
            // Progress is drawn by the host and costs far more than a small file: refresh it at most 4 times a second.
            if (showProgress && (i == 0 || progressClock.ElapsedMilliseconds >= 250))
            {
                progressClock.Restart();
                progress.StatusDescription = $"{i + 1} of {inputs.Count}: {System.IO.Path.GetFileName(input)}";
                progress.PercentComplete = (int)(100L * i / inputs.Count);
                WriteProgress(progress);
            }
            MeasureOne(input, shared);
        }
        if (showProgress)
        {
            progress.RecordType = ProgressRecordType.Completed;
            progress.PercentComplete = 100;
            WriteProgress(progress);
        }
    }

    protected override void StopProcessing() => _stopping = true;

    private void MeasureOne(string input, InferableQuantizer? shared)
    {
        try
        {
            // Read once: the same array serves choosing, measuring and plotting.
            var array = NpyArray.Read(input);
            var quantizer = shared ?? InferableQuantizer.Create(QuantizerResolver.Resolve(Request!, [array], input, Selection));
            var report = QuantizationMetrics.Measure(array, quantizer, input);
            string? plotted = null;
            if (_plotPath is not null && ShouldProcess(_plotPath, "Write histogram plot"))
            {
                HistogramPlot.Write(_plotPath, array, quantizer, report, Force.IsPresent);
                plotted = _plotPath;
            }
            WriteObject(new QuantizationMeasurement(report, plotted));
        }
        catch (QuantShellException ex)
        {
            WriteError(ErrorRecords.From(ex, input));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            WriteError(new ErrorRecord(ex, "OutputWriteFailed", ErrorCategory.WriteError, _plotPath));
        }
    }
}
