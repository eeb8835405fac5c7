using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Lower;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// ConvertTo-StandardOnnx: lowers MCT's exported ONNX models (custom mct_quantizers ops) to standard ONNX
/// (<c>dotnet quant lower</c>). Parameters become a <see cref="LowerRequest"/>; the core's <see cref="LowerJob"/> does the
/// rest, each model handed to it as it arrives from the pipeline.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "StandardOnnx", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(LowerResult))]
public sealed class ConvertToStandardOnnxCommand : FileInputCommand, IDisposable
{
    private LowerJob? _job;

    /// <summary>The output file, for a single model. Default: model.lowered.onnx beside model.onnx.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    /// <summary>What weight quantizers become: Fake or Qdq (not given: the core's default).</summary>
    [Parameter]
    public WeightsForm Weights { get; set; }

    /// <summary>What activation quantizers become: Exact or Qdq (not given: the core's default).</summary>
    [Parameter]
    public ActivationsForm Activations { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Flush each output to disk before it is renamed into place, so it survives a power cut.</summary>
    [Parameter]
    public SwitchParameter Fsync { get; set; }

    protected override void BeginProcessing()
    {
        string? outputPath = null;
        if (OutputPath is not null)
        {
            outputPath = PathResolver.ResolveLiteral(this, OutputPath, out var error);
            if (error is not null) ThrowTerminatingError(error);
        }
        var request = new LowerRequest
        {
            OutputPath = outputPath,
            Weights = MyInvocation.BoundParameters.ContainsKey(nameof(Weights)) ? Weights : null,
            Activations = MyInvocation.BoundParameters.ContainsKey(nameof(Activations)) ? Activations : null,
            Force = Force.IsPresent,
            Fsync = Fsync.IsPresent,
        };
        try
        {
            _job = new LowerJob(request, new CmdletHost<LowerResult>(this, progressId: 5));
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.ForParameter(this, ex));
        }
    }

    protected override void ProcessRecord()
    {
        foreach (string file in ResolveInputs())
            Step(() => _job!.Add(JobInput.File(file)));
    }

    protected override void EndProcessing() => Step(() => _job!.Complete());

    protected override void StopProcessing() => _job?.Cancel();

    public void Dispose() => _job?.Dispose();

    // A failure of the whole request (an output path for several models) stops the pipeline; a stopped pipeline ends quietly.
    private void Step(Action step)
    {
        try
        {
            step();
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.ForParameter(this, ex));
        }
        catch (OperationCanceledException) when (Stopping)
        {
        }
    }
}
