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

    public static readonly Option<string?> SaveQuantizer = new("--save-quantizer")
    {
        Description = "Also write the quantizer applied (with its given or chosen values) as a JSON file for --quantizer. " +
                      "With several inputs whose values are chosen from the data, needs --calibrate.",
        HelpName = "FILE",
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
        var command = new Command("quantize",
            "Fake-quantize .npy files: y = dequantize(quantize(x)), same shape and float dtype. Without --threshold (pot, " +
            "symmetric) or --min/--max (uniform), they are chosen from the data, as MCT does: 'quantize x.npy --method pot' " +
            "is enough (weights, 8 bits, least-MSE threshold).")
        {
            Inputs, QuantizerFileOption,
        };
        foreach (var option in QuantizerOptions.All) command.Options.Add(option);
        foreach (var option in QuantizerChoice.All) command.Options.Add(option);
        foreach (var option in new Option[] { Output, OutputDirectory, SaveQuantizer, Force, AllowNonFinite, Json }) command.Options.Add(option);
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
        string? saveQuantizer = parseResult.GetValue(SaveQuantizer);
        bool force = parseResult.GetValue(Force);
        CheckOptionCombinations(inputs, output, outputDirectory, json);

        var choice = QuantizerChoice.FromCommandLine(parseResult, parseResult.GetValue(QuantizerFileOption));
        if (saveQuantizer is not null)
        {
            if (inputs.Length > 1 && choice.ChoosesFromData && !choice.IsCalibrated)
                throw CliErrors.Usage($"--save-quantizer writes one quantizer, but each of the {inputs.Length} inputs gets its own chosen values; add --calibrate to choose one from all inputs, or give the threshold/range.", "SaveQuantizerNeedsOneQuantizer");
            AtomicFile.CheckWritable(saveQuantizer, force);
        }
        var options = new FileQuantizeOptions { Force = force, AllowNonFinite = parseResult.GetValue(AllowNonFinite) };
        var shared = choice.Shared(inputs);
        var sharedQuantizer = shared is null ? null : InferableQuantizer.Create(shared);
        if (outputDirectory is not null) CreateDirectory(outputDirectory);

        int failures = 0;
        QuantizerSpec? applied = null;
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
                var result = QuantizeOne(input, target, sharedQuantizer, choice, options, cancellationToken);
                applied = result.Quantizer;
                if (json) _stdout.WriteLine(ResultJson.Serialize(result, choice));
                else if (target != StandardStream) _stdout.WriteLine(Describe(input, target, result, choice.Describe(inputs.Length)));
            }
            catch (QuantShellException ex) when (inputs.Length > 1)
            {
                // One bad file among several: report it and go on with the rest.
                CliErrors.Report(_stderr, ex);
                failures++;
            }
        }
        // The quantizer that was applied (one for all inputs, see above), once at least one input was quantized with it.
        if (saveQuantizer is not null && applied is not null)
            QuantizerFile.Write(saveQuantizer, applied, force);
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

    /// <summary>Quantizes one input with <paramref name="shared"/>, or when null with values chosen from that input's data.</summary>
    private QuantizationResult QuantizeOne(string input, string output, IInferableQuantizer? shared, QuantizerChoice choice,
                                           FileQuantizeOptions options, CancellationToken cancellationToken)
    {
        if (input == StandardStream)
        {
            var stdin = _invocation.OpenStandardInput();
            IInferableQuantizer quantizer;
            if (shared is not null) quantizer = shared;
            else
            {
                // Choosing needs the values before quantizing them: stdin is read into memory once and used twice.
                var buffer = new MemoryStream();
                stdin.CopyTo(buffer);
                buffer.Position = 0;
                var array = NpyArray.Read(buffer, StandardInputName);
                buffer.Position = 0;
                quantizer = InferableQuantizer.Create(choice.ForArray(array, StandardInputName));
                stdin = buffer;
            }
            if (output == StandardStream)
                return WriteToStandardOutput(stdout => FileQuantizer.QuantizeStream(stdin, StandardInputName, stdout, quantizer, options, cancellationToken))
                       with { InputPath = StandardStream, OutputPath = StandardStream };
            var result = AtomicFile.Write(output, options.Force,
                stream => FileQuantizer.QuantizeStream(stdin, StandardInputName, stream, quantizer, options, cancellationToken));
            return result with { InputPath = StandardStream, OutputPath = Path.GetFullPath(output) };
        }
        // Choosing reads the whole input: check first that the output may be written.
        if (shared is null && output != StandardStream) FileQuantizer.CheckPaths(input, output, options.Force);
        var fileQuantizer = shared ?? InferableQuantizer.Create(choice.ForInput(input));
        return QuantizeFile(input, output, fileQuantizer, options, cancellationToken);
    }

    private QuantizationResult QuantizeFile(string input, string output, IInferableQuantizer quantizer, FileQuantizeOptions options,
                                            CancellationToken cancellationToken)
    {
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

    private static string Describe(string input, string output, QuantizationResult result, string? howChosen)
    {
        var spec = result.Quantizer;
        string channels = spec.PerChannel ? $" per-channel (axis {result.ChannelAxis})" : "";
        string scale = result.Scale.Length == 1
            ? Number(result.Scale[0])
            : $"[{string.Join(", ", result.Scale.Take(4).Select(s => Number(s)))}{(result.Scale.Length > 4 ? $", ... {result.Scale.Length} values" : "")}]";
        string nonFinite = result.NonFiniteCount > 0 ? $", {result.NonFiniteCount} non-finite kept/saturated" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"{(input == StandardStream ? StandardInputName : input)} -> {output}: {result.OutputDType} {result.ShapeText}, " +
            $"{ResultJson.Name(spec.Target)} {ResultJson.Name(spec.Method)} {spec.NumBits}-bit{channels}, {AppliedValues(spec)}" +
            $"{(howChosen is null ? "" : $" ({howChosen})")}, scale {scale}, " +
            $"MSE {result.Mse:G6}, SQNR {Decibels(result.SqnrDb)}{nonFinite}");
    }

    /// <summary>"threshold 4, signed", "threshold [2, 4, 1], unsigned" or "range [-1.5, 2.5]" / "range [[-1, 1], ...]".</summary>
    internal static string AppliedValues(QuantizerSpec spec)
    {
        if (spec.Method != QuantizationMethod.Uniform)
            return $"threshold {List(spec.Threshold!)}, {(spec.IsSigned ? "signed" : "unsigned")}";
        var ranges = spec.MinRange!.Zip(spec.MaxRange!, (min, max) => $"[{Number(min)}, {Number(max)}]").ToArray();
        return ranges.Length == 1 ? $"range {ranges[0]}" : $"ranges {ListOf(ranges)}";
    }

    private static string List(IReadOnlyList<double> values) =>
        values.Count == 1 ? Number(values[0]) : ListOf(values.Select(Number).ToArray());

    private static string ListOf(IReadOnlyList<string> items) =>
        $"[{string.Join(", ", items.Take(4))}{(items.Count > 4 ? $", ... {items.Count} values" : "")}]";

    // Chosen thresholds and ranges are float32 values: print them as float32 prints (0.57178533, not 0.5717853307723999).
    internal static string Number(double value) => (double)(float)value == value
        ? ((float)value).ToString("R", CultureInfo.InvariantCulture)
        : value.ToString("R", CultureInfo.InvariantCulture);

    internal static string Number(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    internal static string Decibels(double value) => double.IsFinite(value)
        ? value.ToString("F2", CultureInfo.InvariantCulture) + " dB"
        : double.IsPositiveInfinity(value) ? "inf dB (lossless)" : value.ToString(CultureInfo.InvariantCulture);
}
