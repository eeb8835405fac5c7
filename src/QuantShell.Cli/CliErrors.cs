using QuantShell.Core.Errors;

namespace QuantShell.Cli;

/// <summary>Expected failures that belong to the command line itself (option combinations), as core exceptions.</summary>
internal static class CliErrors
{
    public static QuantShellException Usage(string message, string errorId) =>
        new(message, errorId, QuantShellErrorKind.InvalidArgument);

    /// <summary>The one line an expected failure prints: <c>dotnet-quant: error: message [ErrorId]</c>.</summary>
    public static void Report(TextWriter stderr, QuantShellException exception) =>
        stderr.WriteLine($"{Cli.Name}: error: {OneLine(exception.Message)} [{exception.ErrorId}]");

    public static string OneLine(string text) => text.ReplaceLineEndings(" ");
}
