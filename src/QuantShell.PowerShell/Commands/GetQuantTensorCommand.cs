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
public sealed class GetQuantTensorCommand : FileInputCommand<TensorInfo>
{
    /// <summary>Read every value for min/max/mean/std (default: yes for .npy files, no for model files; -Statistics:$false to skip).</summary>
    [Parameter]
    public SwitchParameter Statistics { get; set; }

    protected override InputJob<TensorInfo> CreateJob() =>
        new InspectJob(new InspectRequest { Statistics = MyInvocation.BoundParameters.ContainsKey(nameof(Statistics)) ? Statistics.IsPresent : null },
            new CmdletHost<TensorInfo>(this, progressId: 4));
}
