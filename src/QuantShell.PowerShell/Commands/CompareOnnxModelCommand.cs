using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.PowerShell.Completion;
using QuantShell.Core.Jobs.Compare;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Compare-OnnxModel: runs two ONNX models on sample inputs and compares their outputs (<c>dotnet quant compare</c>).
/// Parameters become a <see cref="CompareRequest"/>; the core's <see cref="CompareJob"/> runs it with ONNX Runtime from
/// the QuantShell.OnnxRuntime module; one ComparisonResult per output.
/// </summary>
[Cmdlet(VerbsData.Compare, "OnnxModel")]
[OutputType(typeof(ComparisonResult))]
public sealed class CompareOnnxModelCommand : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _cancellation = new();

    /// <summary>The reference model (the float one).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string ReferencePath { get; set; } = "";

    /// <summary>The model compared with it (a quantized one).</summary>
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string CandidatePath { get; set; } = "";

    /// <summary>The sample inputs: a folder of .npy or .npz files, or one such file.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FolderCompleter))]
    public string DataPath { get; set; } = "";

    protected override void ProcessRecord()
    {
        var request = new CompareRequest
        {
            ReferencePath = JobSteps.ResolveOutputPath(this, ReferencePath)!,
            CandidatePath = JobSteps.ResolveOutputPath(this, CandidatePath)!,
            DataPath = JobSteps.ResolveOutputPath(this, DataPath)!,
        };
        Core.Runtime.IModelRunner? runner = null;
        JobSteps.Run(this, () => runner = RuntimeModule.Runner(this));
        try
        {
            CompareJob.Run(request with { Runner = runner! }, new CmdletHost<ComparisonResult>(this, progressId: 7), _cancellation.Token);
        }
        catch (QuantShellException ex) when (ex.Kind is not QuantShellErrorKind.InvalidArgument)
        {
            WriteError(ErrorRecords.From(ex, request.CandidatePath));
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.ForParameter(this, ex));
        }
        catch (OperationCanceledException) when (Stopping)
        {
        }
    }

    protected override void StopProcessing() => _cancellation.Cancel();

    public void Dispose() => _cancellation.Dispose();
}
