using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.Core.Tests;

/// <summary>A quantize job's host that keeps what the job reported, for assertions; a model's tensors as results of their own.</summary>
internal sealed class RecordingHost : JobHost<QuantizationReport>
{
    /// <summary>Every tensor's result (an .npy file's, and each of a model's).</summary>
    public List<QuantizationResult> Results { get; } = [];

    /// <summary>What the job delivered: a result per .npy file, a summary per model file.</summary>
    public List<QuantizationReport> Reports { get; } = [];

    public List<QuantShellException> Errors { get; } = [];

    public List<string> Warnings { get; } = [];

    public List<JobProgress> Progress { get; } = [];

    public override void WriteResult(QuantizationReport result)
    {
        Reports.Add(result);
        Results.AddRange(result.TensorResults());
    }

    public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);

    public override void WriteWarning(string message, JobInput? input) => Warnings.Add(message);

    public override void WriteProgress(JobProgress progress) => Progress.Add(progress);
}
