using System.Management.Automation;
using QuantShell.Core.Jobs;

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

    protected override void BeginProcessing() =>
        _job = new InspectJob(new InspectRequest(), new CmdletHost<TensorInfo>(this, progressId: 4));

    protected override void ProcessRecord()
    {
        foreach (string file in ResolveInputs())
            _job!.Add(JobInput.File(file));
    }

    protected override void EndProcessing()
    {
        try
        {
            _job!.Complete();
        }
        catch (OperationCanceledException) when (Stopping)
        {
        }
    }

    protected override void StopProcessing() => _job?.Cancel();

    public void Dispose() => _job?.Dispose();
}
