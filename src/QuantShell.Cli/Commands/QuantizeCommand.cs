using System.CommandLine;
using System.Globalization;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant quantize</c>: fake-quantizes .npy files (or stdin) into .npy files (or stdout).</summary>
internal sealed class QuantizeCommand
{
    /// <summary>The name that stands for stdin/stdout.</summary>
    public const string StandardStream = "-";

    /// <summary>How stdin is named in error messages.</summary>
    public const string StandardInputName = "<stdin>";

    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "The .npy files to quantize; '-' reads one .npy from stdin.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static readonly Option<string?> QuantizerFileOption = new("--quantizer", "-q")
    {
        Description = "Read the quantizer from a JSON file (as written by 'dotnet-quant new'; MCT's snake_case names are accepted). Not together with --target/--method/...",
        HelpName = "FILE",
    };

    public static readonly Option<string?> Output = new("--output", "-o")
    {
        Description = "Output file for a single input; '-' writes the .npy to stdout. Default: x.q.npy beside x.npy.",
        HelpName = "FILE",
    };

    public static readonly Option<string?> OutputDirectory = new("--output-dir")
    {
        Description = "Directory for the outputs of several inputs (created if missing); each output keeps its input's file name.",
        HelpName = "DIR",
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace existing output files.",
    };

    public static readonly Option<bool> AllowNonFinite = new("--allow-non-finite")
    {
        Description = "Keep NaN and saturate +/-infinity instead of failing on them.",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per file (JSON Lines) instead of a line of text.",
    };

    public static readonly Command Command = CreateCommand();

    private readonly CliInvocation _invocation;
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;

    private QuantizeCommand(CliInvocation invocation)
    {
        _invocation = invocation;
        _stdout = invocation.Output;
        _stderr = invocation.Error;
    }

    private static Command CreateCommand()
    {
        var command = new Command("quantize", "Fake-quantize .npy files: y = dequantize(quantize(x)), same shape and float dtype.")
        {
            Inputs, QuantizerFileOption,
        };
        foreach (var option in QuantizerOptions.All) command.Options.Add(option);
        foreach (var option in new Option[] { Output, OutputDirectory, Force, AllowNonFinite, Json }) command.Options.Add(option);
        command.SetAction((parseResult, cancellationToken) =>
            Task.FromResult((int)new QuantizeCommand(CliInvocation.From(parseResult)).Execute(parseResult, cancellationToken)));
        return command;
    }

    private ExitCode Execute(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string[] inputs = parseResult.GetValue(Inputs) ?? [];
        string? output = parseResult.GetValue(Output);
        string? outputDirectory = parseResult.GetValue(OutputDirectory);
        bool json = parseResult.GetValue(Json);
        CheckOptionCombinations(inputs, output, outputDirectory, json);

        var spec = QuantizerOptions.Resolve(parseResult, parseResult.GetValue(QuantizerFileOption));
        var quantizer = InferableQuantizer.Create(spec);
        var options = new FileQuantizeOptions { Force = parseResult.GetValue(Force), AllowNonFinite = parseResult.GetValue(AllowNonFinite) };
        if (outputDirectory is not null) CreateDirectory(outputDirectory);

        int failures = 0;
        var outputsSoFar = new HashSet<string>(StringComparer.Ordinal);
        foreach (string input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string target = output ?? (outputDirectory is not null
                ? Path.Combine(outputDirectory, Path.GetFileName(input))
                : FileQuantizer.DefaultOutputPath(input));
            try
            {
                if (target != StandardStream && !outputsSoFar.Add(Path.GetFullPath(target)))
                    throw new QuantShellException($"{input}: its output {target} is also the output of an earlier input; give inputs with distinct file names.", "OutputCollision", QuantShellErrorKind.InvalidArgument, target);
                var result = QuantizeOne(input, target, quantizer, options, cancellationToken);
                if (json) _stdout.WriteLine(ResultJson.Serialize(result));
                else if (target != StandardStream) _stdout.WriteLine(Describe(input, target, result));
            }
            catch (QuantShellException ex) when (inputs.Length > 1)
            {
                // One bad file among several: report it and go on with the rest.
                CliErrors.Report(_stderr, ex);
                failures++;
            }
        }
        return failures == 0 ? ExitCode.Success : ExitCode.Failure;
    }

    private static void CheckOptionCombinations(string[] inputs, string? output, string? outputDirectory, bool json)
    {
        if (output is not null && outputDirectory is not null)
            throw CliErrors.Usage("--output and --output-dir cannot be used together.", "OptionConflict");
        if (output is not null && inputs.Length > 1)
            throw CliErrors.Usage($"--output names one file but {inputs.Length} inputs were given; use --output-dir DIR for several.", "OutputWithSeveralInputs");
        if (inputs.Contains(StandardStream))
        {
            if (inputs.Length > 1)
                throw CliErrors.Usage("'-' (stdin) must be the only input.", "StdinWithSeveralInputs");
            if (output is null)
                throw CliErrors.Usage("reading from stdin ('-') needs --output FILE, or --output - for stdout.", "StdinNeedsOutput");
        }
        if (output == StandardStream && json)
            throw CliErrors.Usage("--json cannot be used with --output - (stdout carries the .npy data).", "OptionConflict");
    }

    private QuantizationResult QuantizeOne(string input, string output, IInferableQuantizer quantizer, FileQuantizeOptions options,
                                           CancellationToken cancellationToken)
    {
        if (input == StandardStream)
        {
            var stdin = _invocation.OpenStandardInput();
            if (output == StandardStream)
                return WriteToStandardOutput(stdout => FileQuantizer.QuantizeStream(stdin, StandardInputName, stdout, quantizer, options, cancellationToken))
                       with { InputPath = StandardStream, OutputPath = StandardStream };
            var result = AtomicFile.Write(output, options.Force,
                stream => FileQuantizer.QuantizeStream(stdin, StandardInputName, stream, quantizer, options, cancellationToken));
            return result with { InputPath = StandardStream, OutputPath = Path.GetFullPath(output) };
        }
        if (output == StandardStream)
        {
            using var file = OpenInput(input);
            return WriteToStandardOutput(stdout => FileQuantizer.QuantizeStream(file, input, stdout, quantizer, options, cancellationToken))
                   with { InputPath = Path.GetFullPath(input), OutputPath = StandardStream };
        }
        return FileQuantizer.QuantizeFile(input, output, quantizer, options, cancellationToken);
    }

    private QuantizationResult WriteToStandardOutput(Func<Stream, QuantizationResult> write)
    {
        var stdout = _invocation.OpenStandardOutput();
        using var buffered = new BufferedStream(stdout, 1 << 16);
        var result = write(buffered);
        buffered.Flush();
        stdout.Flush();
        return result;
    }

    internal static FileStream OpenInput(string path)
    {
        if (Directory.Exists(path))
            throw new QuantShellException($"{path}: is a directory, not an .npy file.", "InputIsDirectory", QuantShellErrorKind.InputOutput, path);
        if (!File.Exists(path))
            throw new QuantShellException($"{path}: file not found.", "InputFileNotFound", QuantShellErrorKind.InputOutput, path);
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{path}: cannot be read ({ex.Message}).", "InputFileUnreadable", QuantShellErrorKind.InputOutput, path, ex);
        }
    }

    private static void CreateDirectory(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{directory}: the output directory cannot be created ({ex.Message}).", "OutputDirectoryUnwritable", QuantShellErrorKind.InputOutput, directory, ex);
        }
    }

    private static string Describe(string input, string output, QuantizationResult result)
    {
        var spec = result.Quantizer;
        string channels = spec.PerChannel ? $" per-channel (axis {result.ChannelAxis})" : "";
        string scale = result.Scale.Length == 1
            ? Number(result.Scale[0])
            : $"[{string.Join(", ", result.Scale.Take(4).Select(s => Number(s)))}{(result.Scale.Length > 4 ? $", ... {result.Scale.Length} values" : "")}]";
        string nonFinite = result.NonFiniteCount > 0 ? $", {result.NonFiniteCount} non-finite kept/saturated" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{(input == StandardStream ? StandardInputName : input)} -> {output}: {result.OutputDType} {result.ShapeText}, " +
            $"{ResultJson.Name(spec.Target)} {ResultJson.Name(spec.Method)} {spec.NumBits}-bit{channels}, scale {scale}, " +
            $"MSE {result.Mse:G6}, SQNR {Decibels(result.SqnrDb)}{nonFinite}");
    }

    private static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Decibels(double value) => double.IsFinite(value)
        ? value.ToString("F2", CultureInfo.InvariantCulture) + " dB"
        : double.IsPositiveInfinity(value) ? "inf dB (lossless)" : value.ToString(CultureInfo.InvariantCulture);
}
