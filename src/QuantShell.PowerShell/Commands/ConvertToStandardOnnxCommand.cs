using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Jobs;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// ConvertTo-StandardOnnx: lowers MCT's exported ONNX models (custom mct_quantizers ops) to standard ONNX
/// (<c>dotnet quant lower</c>). Parameters become a <see cref="LowerRequest"/>; the core's <see cref="LowerJob"/> does the
/// rest, each model handed to it as it arrives from the pipeline.
/// </summary>
[Cmdlet(VerbsData.ConvertTo, "StandardOnnx", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(LowerResult))]
public sealed class ConvertToStandardOnnxCommand : PSCmdlet, IDisposable
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    private LowerJob? _job;

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>The output file, for a single model. Default: model.lowered.onnx beside model.onnx.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    /// <summary>What weight quantizers become: Fake (default) or Qdq.</summary>
    [Parameter]
    public WeightsForm Weights { get; set; } = WeightsForm.Fake;

    /// <summary>What activation quantizers become: Exact (default) or Qdq.</summary>
    [Parameter]
    public ActivationsForm Activations { get; set; } = ActivationsForm.Exact;

    [Parameter]
    public SwitchParameter Force { get; set; }

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
            Weights = Weights,
            Activations = Activations,
            Force = Force.IsPresent,
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
        bool literal = ParameterSetName == LiteralPathSet;
        foreach (string file in PathResolver.ResolveInputs(this, literal ? LiteralPath : Path, literal))
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
