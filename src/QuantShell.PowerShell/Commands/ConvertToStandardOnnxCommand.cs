using System.Management.Automation;
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
public sealed class ConvertToStandardOnnxCommand : FileInputCommand<LowerResult>
{
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

    protected override InputJob<LowerResult> CreateJob()
    {
        var request = new LowerRequest
        {
            OutputPath = ResolveOutputPath(OutputPath),
            Weights = MyInvocation.BoundParameters.ContainsKey(nameof(Weights)) ? Weights : null,
            Activations = MyInvocation.BoundParameters.ContainsKey(nameof(Activations)) ? Activations : null,
            Force = Force.IsPresent,
            Fsync = Fsync.IsPresent,
        };
        return new LowerJob(request, new CmdletHost<LowerResult>(this, progressId: 5));
    }
}
