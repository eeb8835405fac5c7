using System.Management.Automation;
using QuantShell.Core.Jobs;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// The life of a cmdlet that runs a core job over files: the job is made from the parameters before the first pipeline
/// record (<see cref="CreateJob"/>), each file a record names is added as it arrives, the job completes at the end of the
/// pipeline and is cancelled when the pipeline is stopped. A failure of the whole request stops the pipeline.
/// </summary>
public abstract class JobCommand<TResult> : PSCmdlet, IDisposable
{
    private InputJob<TResult>? _job;

    /// <summary>The job the parameters ask for, its results, errors and progress going to this cmdlet.</summary>
    protected abstract InputJob<TResult> CreateJob();

    /// <summary>The files the current pipeline record names; each argument that names none is an error record.</summary>
    protected abstract IEnumerable<string> ResolveInputs();

    /// <summary>Resolves an output path parameter; a path that is not a file-system path stops the cmdlet.</summary>
    protected string? ResolveOutputPath(string? path) => JobSteps.ResolveOutputPath(this, path);

    protected override void BeginProcessing() => JobSteps.Run(this, () => _job = CreateJob());

    protected override void ProcessRecord()
    {
        foreach (string file in ResolveInputs()) JobSteps.Run(this, () => _job!.Add(JobInput.File(file)));
    }

    protected override void EndProcessing() => JobSteps.Run(this, () => _job!.Complete());

    protected override void StopProcessing() => _job?.Cancel();

    public void Dispose()
    {
        _job?.Dispose();
        GC.SuppressFinalize(this);
    }
}
