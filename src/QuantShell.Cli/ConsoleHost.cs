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
                                           Action<TextWriter, TResult> writeText) : JobHost<TResult>
{
    private QuantShellException? _lastError;

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
