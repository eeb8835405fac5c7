using System.Management.Automation;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Plotting;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Measure-Quantization: how well .npy files survive a quantizer (MSE, MAE, max error, SQNR, clipping, levels used), per
/// tensor and per channel, without writing the quantized data; optionally a histogram plot. The core's
/// <see cref="MeasureJob"/> does the work. One MeasurementResult per tensor (its channels in .Channels), or with
/// -PerChannelDetail one ChannelMeasurement per channel instead.
/// </summary>
[Cmdlet(VerbsDiagnostic.Measure, "Quantization", SupportsShouldProcess = true, DefaultParameterSetName = PathParametersSet)]
[OutputType(typeof(MeasurementResult), typeof(ChannelMeasurement))]
public sealed class MeasureQuantizationCommand : QuantizerInputCommand<MeasurementResult>
{
    /// <summary>
    /// A plot, .png or .svg by the extension: the histogram of the values with the quantizer's levels and clipping range
    /// (per channel: each channel's MSE and the channels' own histograms); one tensor only.
    /// </summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? PlotPath { get; set; }

    /// <summary>Replace an existing -PlotPath file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Flush the -PlotPath file to the disk before it is renamed into place, and its folder after.</summary>
    [Parameter]
    public SwitchParameter Fsync { get; set; }

    /// <summary>One ChannelMeasurement per channel (with its file and tensor) instead of one MeasurementResult per tensor.</summary>
    [Parameter]
    public SwitchParameter PerChannelDetail { get; set; }

    protected override InputJob<MeasurementResult> CreateJob()
    {
        var request = new MeasureRequest
        {
            Quantizer = ReadQuantizerArguments(),
            Rules = Rules,
            PlotPath = ResolveOutputPath(PlotPath),
            Plotter = new ScottPlotQuantizationPlotter(),
            Force = Force.IsPresent,
            Fsync = Fsync.IsPresent,
        };
        return new MeasureJob(request, new CmdletHost<MeasurementResult>(this, progressId: 2,
            toOutput: PerChannelDetail.IsPresent ? result => result.ChannelRows() : null));
    }
}
