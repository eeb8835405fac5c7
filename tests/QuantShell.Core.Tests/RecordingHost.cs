using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.Core.Tests;

/// <summary>A job host that keeps what the job reported, for assertions.</summary>
internal sealed class RecordingHost : JobHost<QuantizationResult>
{
    public List<QuantizationResult> Results { get; } = [];

    public List<QuantShellException> Errors { get; } = [];

    public override void WriteResult(QuantizationResult result) => Results.Add(result);

    public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
}
