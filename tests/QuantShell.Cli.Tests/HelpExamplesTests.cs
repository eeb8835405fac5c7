using System.CommandLine;

namespace QuantShell.Cli.Tests;

/// <summary>Every command's --help ends with examples, and each example is a command line the tool parses.</summary>
public sealed class HelpExamplesTests
{
    public static TheoryData<string> Commands() => new([Cli.Name, .. Cli.CommandTree.Subcommands.Select(c => c.Name)]);

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_HasAnExamplesSection_BeforeTheExitCodes(string command)
    {
        var run = command == Cli.Name ? CliRunner.Run("--help") : CliRunner.Run(command, "--help");
        Assert.Equal(ExitCode.Success, run.Code);
        int examples = run.Stdout.IndexOf("\nExamples:\n", StringComparison.Ordinal);
        Assert.True(examples > 0, run.Stdout);
        Assert.True(examples < run.Stdout.IndexOf("\nExit codes:", StringComparison.Ordinal));
        Assert.Contains(command == Cli.Name ? "  dotnet quant " : $"  dotnet quant {command} ", run.Stdout[examples..]);
    }

    [Fact]
    public void EveryExample_ParsesWithoutErrors()
    {
        int count = 0;
        foreach (string command in Commands())
        {
            foreach (var (commandLine, what) in HelpExamples.For(command))
            {
                count++;
                Assert.StartsWith("dotnet quant ", commandLine);
                Assert.False(string.IsNullOrWhiteSpace(what));
                var parsed = Cli.CommandTree.Parse(commandLine["dotnet quant ".Length..].Split(' '));
                Assert.True(parsed.Errors.Count == 0, $"{commandLine}: {string.Join("; ", parsed.Errors.Select(e => e.Message))}");
                Assert.Empty(parsed.UnmatchedTokens);
            }
        }
        Assert.True(count >= 2 * Cli.CommandTree.Subcommands.Count, $"only {count} examples");
    }
}
