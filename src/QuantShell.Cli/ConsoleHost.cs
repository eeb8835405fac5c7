using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;

namespace QuantShell.Cli;

/// <summary>
/// A job's results and errors as a command line shows them: one line of text or one JSON object (JSON Lines) per result
/// on <paramref name="output"/>, one line per error on <paramref name="errors"/>, and the exit code they add up to.
/// </summary>
internal sealed class ConsoleHost<TResult>(TextWriter output, TextWriter errors, bool json, JsonTypeInfo<TResult>? jsonType,
                                           Action<TextWriter, TResult> writeText, bool progressLine = false) : JobHost<TResult>
{
    private QuantShellException? _lastError;
    private int _progressWidth;

    /// <summary>
    /// With <c>progressLine</c> (stderr is a terminal): one line on stderr, rewritten in place, cleared when the work is done
    /// so that what follows starts on a clean line.
    /// </summary>
    public override void WriteProgress(JobProgress progress)
    {
        if (!progressLine) return;
        string line = progress.Completed ? "" : $"{progress.Activity}: {progress.Status}";
        if (line.Length > 100) line = line[..97] + "...";
        errors.Write("\r" + line.PadRight(_progressWidth) + (progress.Completed ? "\r" : ""));
        errors.Flush();
        _progressWidth = progress.Completed ? 0 : Math.Max(_progressWidth, line.Length);
    }

    public override void WriteResult(TResult result)
    {
        if (json && jsonType is not null) output.WriteLine(JsonSerializer.Serialize(result, jsonType));
        else writeText(output, result);
    }

    public override void WriteError(QuantShellException error, JobInput? input)
    {
        _lastError = error;
        Cli.Report(errors, error);
    }

    /// <summary>0 when nothing failed; for a single input, its error's code; for several, 1 when any failed.</summary>
    public ExitCode ExitCode(InputJob<TResult> job) =>
        job.Failed == 0 ? QuantShell.Cli.ExitCode.Success
        : job.InputCount == 1 && _lastError is not null ? ExitCodes.For(_lastError)
        : QuantShell.Cli.ExitCode.Failure;
}
