using System.Text;
using System.Text.RegularExpressions;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;

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

    /// <summary>A required option not given at all is what the command needs (not "needs a value", which is for an option given bare).</summary>
    [Theory]
    [InlineData("compare", "'compare' needs --data-path <DIR>.")]
    [InlineData("calibrate", "'calibrate' needs --data-path <DIR>.")]
    public void RequiredOption_NotGiven_NamesTheCommandAndTheOption(string command, string message)
    {
        var run = command == "compare" ? CliRunner.Run(command, "a.onnx", "b.onnx") : CliRunner.Run(command, "a.onnx");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal($"dotnet-quant: error: {message} [ArgumentMissing]", Assert.Single(ErrorLines(run)));
        Assert.Equal($"Run 'dotnet-quant {command} --help' for usage.", run.StderrLines[^1]);
    }

    [Fact]
    public void ArgumentValue_NotOneTheCommandTakes_IsOneLineWithItsId()
    {
        var run = CliRunner.Run("schema", "quantiser");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: KIND must be one of quantize, measure, inspect, dequantize, quantizer, lower, calibrate, compare, rules but is 'quantiser'. [OptionValueInvalid]",
                     Assert.Single(ErrorLines(run)));
    }

    [Fact]
    public void NoCommand_IsOneLineWithItsId_ListingTheCommands()
    {
        var run = CliRunner.Run();
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: no command given; the commands are quantize, new, inspect, measure, dequantize, lower, calibrate, compare, schema. [CommandMissing]",
                     Assert.Single(ErrorLines(run)));
        Assert.Equal("Run 'dotnet-quant --help' for usage.", run.StderrLines[^1]);
    }

    [Theory]
    [InlineData("'quantize' needs at least one <inputs>.", "quantize")]
    [InlineData("'measure' needs at least one <inputs>.", "measure", "--method", "pot")]
    [InlineData("'schema' needs the argument <kind>.", "schema")]
    public void MissingArgument_IsOneLineWithItsId(string message, params string[] args)
    {
        var run = CliRunner.Run(args);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal($"dotnet-quant: error: {message} [ArgumentMissing]", Assert.Single(ErrorLines(run)));
        Assert.Equal($"Run 'dotnet-quant {args[0]} --help' for usage.", run.StderrLines[^1]);
    }

    /// <summary>
    /// The core's messages name parameters as tokens; the command line spells them as its options and enum values in
    /// kebab case, and no PascalCase parameter name is left (the cmdlets' spelling is tested in Parity.Tests.ps1).
    /// </summary>
    [Theory]
    [InlineData("--channel-axis 1 applies to per-channel quantizers only; add --per-channel or leave --channel-axis out. [ParameterNotApplicable]",
                "quantize", "SEED", "--channel-axis", "1")]
    [InlineData("--method lut-symmetric is a weights quantizer in MCT; activations take lut-pot. [MethodInvalid]",
                "new", "--method", "lut-symmetric", "--target", "activation", "--threshold", "1", "--lut-values", "1")]
    [InlineData("--p is the exponent of --error-method lp; it does not apply to --error-method mse. [ParameterNotApplicable]",
                "measure", "SEED", "--p", "3")]
    [InlineData("--format int is written for model files; an .npy file is written fake-quantized (--format fake). [OutputFormatNotSupported]",
                "quantize", "SEED", "--format", "int", "--output-path", "OUT")]
    [InlineData("--output-path and --output-directory cannot both be given: --output-path names the one output file, --output-directory a folder for several. [OptionConflict]",
                "quantize", "SEED", "--output-path", "OUT", "--output-directory", "DIR")]
    [InlineData("--lut-values applies to LUT quantizers (lut-symmetric or lut-pot) only, not to symmetric. [ParameterNotApplicable]",
                "new", "--threshold", "1", "--lut-values", "1,2")]
    [InlineData("--signed and --unsigned cannot both be given. [OptionConflict]",
                "new", "--threshold", "1", "--signed", "--unsigned")]
    public void CoreErrors_NameParameters_AsThisCommandLineSpellsThem(string expected, params string[] args)
    {
        using var temp = new TempDirectory();
        var run = CliRunner.Run(args.Select(a => a switch { "SEED" => SeedInput, "OUT" => temp.File("o.npy"), "DIR" => temp.Path, _ => a }).ToArray());
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        string line = Assert.Single(ErrorLines(run));
        Assert.EndsWith(expected, line);
        var pascal = Parameter.All.Where(p => Regex.IsMatch(line, $@"(?<![-\w]){p.Name}(?![\w])")).Select(p => p.Name).ToList();
        Assert.True(pascal.Count == 0, $"{line} names {string.Join(", ", pascal)} as the core does");
    }

    [Fact]
    public void EveryParameter_IsSpelledAsAnOptionOfTheCommandLine()
    {
        var options = Cli.CommandTree.Subcommands.SelectMany(c => c.Options).SelectMany(o => o.Aliases.Prepend(o.Name)).ToHashSet();
        Assert.True(Parameter.All.Count >= 25, $"only {Parameter.All.Count} parameters");
        Assert.All(Parameter.All, p => Assert.Contains(Cli.Spelling.Spell(p.ToString()), options));
        Assert.Equal("--format fake", Cli.Spelling.Spell(Parameter.Format.With(QuantShell.Core.Jobs.Quantize.OutputFormat.Fake)));
        Assert.Equal("--error-method no-clipping", Cli.Spelling.Spell(Parameter.ErrorMethod.With(Core.Selection.ErrorMethod.NoClipping)));
    }

    [Fact]
    public void FileOfNoKindWeRead_ListsTheKindsWeRead()
    {
        using var temp = new TempDirectory();
        string notes = temp.File("notes.txt");
        File.WriteAllText(notes, "not a tensor file at all");
        var run = CliRunner.Run("quantize", notes);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.Equal($"dotnet-quant: error: {notes}: is not a tensor file QuantShell reads; it reads .npy, .npz, .safetensors, " +
                     "PyTorch checkpoints in torch.save's zip format (.pt, .pth, .bin, .ckpt) and ONNX models (.onnx). [TensorFileNotRecognized]",
                     Assert.Single(ErrorLines(run)));
        Assert.False(File.Exists(temp.File("notes.q.txt")));
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
