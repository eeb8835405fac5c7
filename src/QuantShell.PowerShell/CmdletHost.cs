using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;

namespace QuantShell.PowerShell;

/// <summary>A job's results, errors and progress as a cmdlet writes them: pipeline objects, error records, progress records.</summary>
internal sealed class CmdletHost<TResult>(PSCmdlet cmdlet, int progressId, Func<TResult, object>? toOutput = null) : JobHost<TResult>
{
    public override bool ShouldProcess(string target, string action) => cmdlet.ShouldProcess(target, action);

    /// <summary>The result, or what <c>toOutput</c> makes of it (a list: each of its items).</summary>
    public override void WriteResult(TResult result)
    {
        object? output = toOutput is null ? result : toOutput(result);
        cmdlet.WriteObject(output, enumerateCollection: output is System.Collections.IList);
    }

    public override void WriteWarning(string message, JobInput? input) => cmdlet.WriteWarning(message);

    public override void WriteError(QuantShellException error, JobInput? input) =>
        cmdlet.WriteError(ErrorRecords.From(error, input?.Name ?? error.Target));

    private bool _itemBarShown;

    public override void WriteProgress(JobProgress progress)
    {
        // A bar per model file (the bytes of its tensors done), under the bar of the inputs; closed before it.
        if (progress.ItemBytesTotal is not null && !progress.Completed)
        {
            cmdlet.WriteProgress(new ProgressRecord(progressId, $"{cmdlet.MyInvocation.MyCommand.Name}", progress.Status) { PercentComplete = progress.PercentComplete });
            cmdlet.WriteProgress(new ProgressRecord(progressId + 100, "Tensors", progress.ItemStatus)
            {
                ParentActivityId = progressId,
                PercentComplete = progress.ItemPercentComplete,
            });
            _itemBarShown = true;
            return;
        }
        if (progress.Completed && _itemBarShown)
        {
            cmdlet.WriteProgress(new ProgressRecord(progressId + 100, "Tensors", "Done") { ParentActivityId = progressId, RecordType = ProgressRecordType.Completed });
            _itemBarShown = false;
        }
        cmdlet.WriteProgress(new ProgressRecord(progressId, $"{cmdlet.MyInvocation.MyCommand.Name}", progress.Status)
        {
            PercentComplete = progress.Completed ? 100 : progress.PercentComplete,
            RecordType = progress.Completed ? ProgressRecordType.Completed : ProgressRecordType.Processing,
        });
    }
}
