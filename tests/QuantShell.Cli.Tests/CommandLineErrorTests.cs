using System.Text;

namespace QuantShell.Cli.Tests;

/// <summary>
/// What the command line says when it cannot run: a misspelt command gets the closest one suggested, a value an option
/// does not take is named with what it takes, each in one line with an id; an unexpected exception (a bug) exits 70 with
/// one line naming it, then its stack trace.
/// </summary>
public sealed class CommandLineErrorTests
{
    private static readonly string SeedInput = Conformance.PyTorch.File("e_seed_example.input.npy");

    private static string[] ErrorLines(CliRun run) => run.StderrLines.Where(line => line.Contains(": error: ", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void UnknownCommand_Misspelt_SuggestsTheClosest_InOneErrorLine_RealProcess()
    {
        var run = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quanitze", "x.npy"], TimeSpan.FromMinutes(1));
        Assert.True(run.Code == ExitCode.InvalidArguments, run.ToString());
        Assert.Equal("dotnet-quant: error: unknown command 'quanitze' (did you mean 'quantize'?) [UnknownCommand]", Assert.Single(ErrorLines(run)));
        Assert.Equal("Run 'dotnet-quant --help' for usage.", run.StderrLines[^1]);
        Assert.Equal("", run.Stdout);
    }

    [Theory]
    [InlineData("inspetc", "inspect")]
    [InlineData("mesure", "measure")]
    [InlineData("dequantise", "dequantize")]
    [InlineData("Quantize", "quantize")]
    public void UnknownCommand_Misspelt_SuggestsTheClosest(string typed, string suggested)
    {
        var run = CliRunner.Run(typed, SeedInput);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal($"dotnet-quant: error: unknown command '{typed}' (did you mean '{suggested}'?) [UnknownCommand]", Assert.Single(ErrorLines(run)));
    }

    [Fact]
    public void UnknownCommand_FarFromEveryCommand_ListsThem()
    {
        var run = CliRunner.Run("x.npy");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: unknown command 'x.npy'; the commands are quantize, new, inspect, measure, dequantize, lower, calibrate, compare, schema [UnknownCommand]",
                     Assert.Single(ErrorLines(run)));
    }

    [Theory]
    [InlineData("--method", "pow", "--method must be one of pot, symmetric, uniform, lut-symmetric, lut-pot but is 'pow'.")]
    [InlineData("--target", "w", "--target must be one of weights, activation but is 'w'.")]
    [InlineData("--error-method", "l2", "--error-method must be one of no-clipping, mse, mae, lp, kl, percentile but is 'l2'.")]
    [InlineData("--num-bits", "abc", "--num-bits takes a whole number but is 'abc'.")]
    [InlineData("--num-bits", "3.5", "--num-bits takes a whole number but is '3.5'.")]
    [InlineData("--eps", "tiny", "--eps takes a number but is 'tiny'.")]
    [InlineData("--threshold", "1,a", "--threshold takes comma-separated numbers but 'a' in '1,a' is not a number.")]
    public void OptionValue_NotOneTheOptionTakes_IsOneLineWithItsId(string option, string value, string message)
    {
        var run = CliRunner.Run("quantize", SeedInput, option, value);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal($"dotnet-quant: error: {message} [OptionValueInvalid]", Assert.Single(ErrorLines(run)));
        Assert.Equal("Run 'dotnet-quant quantize --help' for usage.", run.StderrLines[^1]);
    }

    [Fact]
    public void OptionValue_Missing_IsOneLineWithItsId()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--method");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: --method needs a value. [OptionValueInvalid]", Assert.Single(ErrorLines(run)));
    }

    [Fact]
    public void ArgumentValue_NotOneTheCommandTakes_IsOneLineWithItsId()
    {
        var run = CliRunner.Run("schema", "quantiser");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: KIND must be one of quantize, measure, inspect, dequantize, quantizer, lower, calibrate, compare, rules but is 'quantiser'. [OptionValueInvalid]",
                     Assert.Single(ErrorLines(run)));
    }

    /// <summary>
    /// Exit 70 is for what no rule expects. Reached here the way a bug would reach it: the text writer the caller gave
    /// throws an exception nothing in the tool anticipates, while an inspect job delivers its result.
    /// </summary>
    [Fact]
    public void UnexpectedException_Exits70_WithOneLineNamingIt_ThenItsStackTrace()
    {
        var stderr = new StringWriter();
        int exitCode = Cli.Run(["inspect", SeedInput], new ThrowingWriter(), stderr);
        Assert.Equal((int)ExitCode.InternalError, exitCode);
        Assert.Equal(70, exitCode);
        string[] lines = stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("dotnet-quant: internal error (this is a bug, please report it): System.InvalidOperationException: this writer refuses every line", lines[0]);
        Assert.True(lines.Length > 1, "the stack trace follows the line");
        Assert.All(lines[1..], line => Assert.StartsWith("at ", line, StringComparison.Ordinal));
        Assert.Contains(lines, line => line.Contains(nameof(ThrowingWriter), StringComparison.Ordinal));
    }

    private sealed class ThrowingWriter : TextWriter
    {
        public override Encoding Encoding => Encoding.UTF8;

        public override void Write(char value) => throw new InvalidOperationException("this writer refuses every line");

        public override void Write(string? value) => throw new InvalidOperationException("this writer refuses every line");

        public override void WriteLine(string? value) => throw new InvalidOperationException("this writer refuses every line");
    }
}
