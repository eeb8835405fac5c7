using System.CommandLine;
using QuantShell.Core.Jobs;

namespace QuantShell.Cli;

/// <summary>
/// The invocation settings plus the binary standard streams: .npy data goes through streams ("-" for stdin/stdout),
/// text through <see cref="InvocationConfiguration.Output"/> and <see cref="InvocationConfiguration.Error"/>.
/// Tests pass memory streams; the real process opens the console streams only when "-" is used.
/// </summary>
internal sealed class CliInvocation : InvocationConfiguration
{
    /// <summary>The name that stands for stdin or stdout on the command line.</summary>
    public const string StandardStream = "-";

    private readonly Func<Stream> _openInput;
    private readonly Func<Stream> _openOutput;

    public CliInvocation(Func<Stream> openInput, Func<Stream> openOutput)
    {
        _openInput = openInput;
        _openOutput = openOutput;
    }

    /// <summary>True when stderr is a terminal (the real process only): long work then shows a progress line there.</summary>
    public bool ErrorIsTerminal { get; init; }

    public Stream OpenStandardInput() => _openInput();

    public Stream OpenStandardOutput() => _openOutput();

    /// <summary>A command-line input: a file, or stdin for "-".</summary>
    public JobInput Input(string argument) => argument == StandardStream ? JobInput.StandardInput(_openInput) : JobInput.File(argument);

    public IReadOnlyList<JobInput> Inputs(IEnumerable<string> arguments) => arguments.Select(Input).ToList();

    public static CliInvocation From(ParseResult parseResult) =>
        parseResult.InvocationConfiguration as CliInvocation
        ?? throw new InvalidOperationException("dotnet-quant commands must be invoked through Cli.Run.");
}
