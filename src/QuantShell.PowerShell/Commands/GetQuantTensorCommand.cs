using System.Management.Automation;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Inspect;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Get-QuantTensor: the tensors of .npy files, with format, dtype, shape, order, size and value statistics
/// (<c>dotnet quant inspect</c>). The core's <see cref="InspectJob"/> reads them.
/// </summary>
[Cmdlet(VerbsCommon.Get, "QuantTensor", DefaultParameterSetName = PathSet)]
[OutputType(typeof(TensorInfo))]
public sealed class GetQuantTensorCommand : FileInputCommand, IDisposable
{
    private InspectJob? _job;

    /// <summary>Read every value for min/max/mean/std (default: yes for .npy files, no for model files; -Statistics:$false to skip).</summary>
    [Parameter]
    public SwitchParameter Statistics { get; set; }

    protected override void BeginProcessing() =>
        _job = new InspectJob(new InspectRequest { Statistics = MyInvocation.BoundParameters.ContainsKey(nameof(Statistics)) ? Statistics.IsPresent : null },
            new CmdletHost<TensorInfo>(this, progressId: 4));

    protected override void ProcessRecord()
    {
        foreach (string file in ResolveInputs())
            JobSteps.Run(this, () => _job!.Add(JobInput.File(file)));
    }

    protected override void EndProcessing() => JobSteps.Run(this, () => _job!.Complete());

    protected override void StopProcessing() => _job?.Cancel();

    public void Dispose() => _job?.Dispose();
}
