using QuantShell.Core.Errors;

namespace QuantShell.Core.Jobs;

/// <summary>
/// What a face gives a job: where results, errors and progress go, and whether an action may go ahead
/// (PowerShell's ShouldProcess for -WhatIf/-Confirm). A job calls these on the thread that calls its
/// <see cref="InputJob{TResult}.Add"/> and <see cref="InputJob{TResult}.Complete"/>, in input order.
/// </summary>
public abstract class JobHost<TResult>
{
    /// <summary>Asked right before each write; false skips it (no result, no error).</summary>
    public virtual bool ShouldProcess(string target, string action) => true;

    public abstract void WriteResult(TResult result);

    /// <summary>
    /// One input's results, all of them, in order (a model file's tensors, say): each written by <see cref="WriteResult"/>
    /// unless the face shows them together (the command line's one summary line per model).
    /// </summary>
    public virtual void WriteResults(IReadOnlyList<TResult> results)
    {
        foreach (var result in results) WriteResult(result);
    }

    /// <summary>One input (or the quantizer file) failed; the job goes on with the others.</summary>
    public abstract void WriteError(QuantShellException error, JobInput? input);

    /// <summary>
    /// Something the user should know that is not an error: an input skipped by a rule of the core, or a model where
    /// nothing is quantized (the message names it and says why); written before the input's results, if any. The faces
    /// show it as it is (PowerShell's WriteWarning; the command line's <c>warning:</c> line).
    /// </summary>
    public virtual void WriteWarning(string message, JobInput? input) { }

    /// <summary>Progress over several inputs, at most a few times a second.</summary>
    public virtual void WriteProgress(JobProgress progress) { }
}
