using System.CommandLine;

namespace QuantShell.Cli;

/// <summary>
/// The invocation settings plus the binary standard streams: .npy data goes through streams ("-" for stdin/stdout),
/// text through <see cref="InvocationConfiguration.Output"/> and <see cref="InvocationConfiguration.Error"/>.
/// Tests pass memory streams; the real process opens the console streams only when "-" is used.
/// </summary>
internal sealed class CliInvocation : InvocationConfiguration
{
    private readonly Func<Stream> _openInput;
    private readonly Func<Stream> _openOutput;

    public CliInvocation(Func<Stream> openInput, Func<Stream> openOutput)
    {
        _openInput = openInput;
        _openOutput = openOutput;
    }

    public Stream OpenStandardInput() => _openInput();

    public Stream OpenStandardOutput() => _openOutput();

    public static CliInvocation From(ParseResult parseResult) =>
        parseResult.InvocationConfiguration as CliInvocation
        ?? throw new InvalidOperationException("dotnet-quant commands must be invoked through Cli.Run.");
}
