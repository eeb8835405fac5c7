using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;

namespace QuantShell.Cli;

/// <summary>
/// A job's results and errors as a command line shows them: one line of text or one JSON object (JSON Lines) per result
/// on <paramref name="output"/>, one line per error on <paramref name="errors"/>, and the exit code they add up to.
/// <paramref name="jsonType"/> is asked for only when a result is written as JSON: building a type's serialization metadata
/// runs System.Text.Json's generic code for every type it reaches, hundreds of methods the JIT would otherwise compile at
/// start-up for text output too.
/// </summary>
internal sealed class ConsoleHost<TResult>(TextWriter output, TextWriter errors, bool json, Func<JsonTypeInfo<TResult>>? jsonType,
                                           Action<TextWriter, TResult> writeText, bool progressLine = false,
                                           Action<TextWriter, TResult>? writeJson = null,
                                           Action<TextWriter, IReadOnlyList<TResult>>? writeTextOfInput = null) : JobHost<TResult>
{
    private QuantShellException? _lastError;
    private int _progressWidth;

    /// <summary>
    /// With <c>progressLine</c> (stderr is a terminal): one line on stderr, rewritten in place, cleared when the work is done
    /// and before anything else is written, so that what follows starts on a clean line.
    /// </summary>
    public override void WriteProgress(JobProgress progress)
    {
        if (!progressLine) return;
        if (progress.Completed)
        {
            ClearProgress();
            return;
        }
        string line = $"{progress.Activity}: {(progress.ItemTensorsTotal is null ? progress.Status : progress.ItemStatus)}";
        if (progress.ItemTensorsTotal is not null && progress.Known > 1) line = $"{progress.Activity}: {progress.Done + 1} of {progress.Known}, {progress.ItemStatus}";
        if (line.Length > 100) line = line[..97] + "...";
        errors.Write("\r" + line.PadRight(_progressWidth));
        errors.Flush();
        _progressWidth = Math.Max(_progressWidth, line.Length);
    }

    // A line written while the progress line is shown starts at the beginning of a clean line; the next progress redraws.
    private void ClearProgress()
    {
        if (_progressWidth == 0) return;
        errors.Write("\r" + new string(' ', _progressWidth) + "\r");
        errors.Flush();
        _progressWidth = 0;
    }

    public override void WriteResult(TResult result)
    {
        ClearProgress();
        if (json && writeJson is not null) writeJson(output, result);
        else if (json && jsonType is not null) output.WriteLine(JsonSerializer.Serialize(result, jsonType()));
        else writeText(output, result);
    }

    /// <summary>As text with <c>writeTextOfInput</c>: an input's results written together (a summary line); else one by one.</summary>
    public override void WriteResults(IReadOnlyList<TResult> results)
    {
        if (json || writeTextOfInput is null)
        {
            base.WriteResults(results);
            return;
        }
        ClearProgress();
        writeTextOfInput(output, results);
    }

    public override void WriteWarning(string message, JobInput? input)
    {
        ClearProgress();
        errors.WriteLine($"{Cli.Name}: warning: {Cli.OneLine(message)}");
    }

    public override void WriteError(QuantShellException error, JobInput? input)
    {
        ClearProgress();
        _lastError = error;
        Cli.Report(errors, error);
    }

    /// <summary>0 when nothing failed; for a single input, its error's code; for several, 1 when any failed.</summary>
    public ExitCode ExitCode(InputJob<TResult> job) =>
        job.Failed == 0 ? QuantShell.Cli.ExitCode.Success
        : job.InputCount == 1 && _lastError is not null ? ExitCodes.For(_lastError)
        : QuantShell.Cli.ExitCode.Failure;
}
