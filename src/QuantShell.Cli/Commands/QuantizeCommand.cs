using System.CommandLine;
using System.Text.Json;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Serialization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant quantize</c>: options into a <see cref="QuantizeRequest"/>, results into lines or JSON.</summary>
internal static class QuantizeCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "The .npy or model files (.npz, safetensors, PyTorch checkpoints, ONNX models) to quantize. A Hugging Face model folder is one input (docs/model-folders.md). '-' reads one .npy from stdin. A file named as the default output of another input (x.q.npy beside x.npy) is skipped with a warning.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static readonly Option<string?> OutputPath = new("--output-path", "--output", "-o")
    {
        Description = "The output file, for a single input. '-' writes the .npy to stdout (results then go to stderr). Default: x.q.npy beside x.npy. For a model folder, the output folder (default DIR.q beside DIR).",
        HelpName = "FILE",
    };

    public static readonly Option<string?> OutputDirectory = new("--output-directory", "--output-dir")
    {
        Description = "A folder for the outputs of several inputs (created if missing); each output keeps its input's file name.",
        HelpName = "DIR",
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace existing output files (never an input).",
    };

    public static readonly Option<bool> Fsync = FsyncOption.Create("output");

    public static readonly Option<bool> AllowNonFinite = new("--allow-non-finite")
    {
        Description = "Keep NaN and saturate +/-infinity to the ends of the range instead of failing on them.",
    };

    public static readonly Option<string?> ExportQuantizer = new("--export-quantizer", "--save-quantizer")
    {
        Description = "Writes the quantizer applied (given or chosen) as a JSON quantizer file. For --quantizer; it must be one quantizer for all inputs (given, or --calibrate).",
        HelpName = "FILE",
    };

    public static readonly Option<string?> RulesPath = new("--rules")
    {
        Description = "A rules file (JSON) deciding which tensor of a model file gets which quantizer. Without it every floating tensor of rank 2 or more is quantized per channel on axis 0 with the quantizer options.",
        HelpName = "FILE",
    };

    public static readonly Option<OutputFormat?> Format = new("--format", "--form")
    {
        Description = "What a model-file output holds. One of fake (dequantized values, the default), int (integer codes with NAME_scale and NAME_zero_point, the quantizers recorded), qdq (ONNX only) or compressed-tensors (model folders: the pack-quantized layout vLLM and transformers load).",
        HelpName = "fake|int|qdq|compressed-tensors",
        CustomParser = QuantizerOptionSet.ParseEnum<OutputFormat>,
    };

    public static readonly Option<int?> MaxParallelism = new("--max-parallelism")
    {
        Description = $"For a Hugging Face model folder: how many shards are quantized at once. Default: {QuantizeRequest.DefaultShardParallelism}, so memory holds only the tensors of one shard in flight.",
        HelpName = "N",
    };

    public static readonly Option<string?> Part = new("--part")
    {
        Description = "For a Hugging Face model folder: quantize only part K of N of its shards ('K/N'; shards in file-name order, every N-th from the K-th) into a staging folder beside --output-path, so that N processes or machines share the work. When every part is done, run once with --finish.",
        HelpName = "K/N",
    };

    public static readonly Option<bool> Finish = new("--finish")
    {
        Description = "For a model folder split with --part: checks that every part is done and was run on the same input with the same --format, writes the index, config.json and the other files, and puts the output folder in place.",
    };

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "For a model file, a line per tensor (what was done to it and how, or why it was copied) before the file's summary line.",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per result (JSON Lines) instead of a line of text.",
    };

    public static Command Create()
    {
        var command = new Command("quantize",
            "Fake-quantize .npy files and model files (safetensors, .npz, PyTorch checkpoints, ONNX models): y = dequantize(quantize(x)), same " +
            "shape and dtype, or integer codes with --format int. Values not given (threshold, range, LUT table) are chosen from " +
            "the data, as MCT does: 'quantize x.npy --method pot' is enough (weights, 8 bits, least-MSE threshold); " +
            "'quantize w.npy --method lut-pot --bits 3' chooses a 3-bit table by k-means.")
        {
            Inputs,
        };
        foreach (var option in QuantizerOptionSet.All) command.Options.Add(option);
        foreach (var option in new Option[] { RulesPath, Format, OutputPath, OutputDirectory, ExportQuantizer, Force, Fsync, AllowNonFinite, MaxParallelism, Part, Finish, Verbose, Json }) command.Options.Add(option);
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        string? outputPath = parseResult.GetValue(OutputPath);
        bool toStdout = outputPath == CliInvocation.StandardStream;
        using var stdout = toStdout ? new BufferedStream(cli.OpenStandardOutput(), 1 << 16) : null;
        var request = new QuantizeRequest
        {
            Quantizer = QuantizerOptionSet.Read(parseResult),
            RulesPath = parseResult.GetValue(RulesPath),
            Format = parseResult.GetValue(Format) ?? QuantizeRequest.DefaultFormat,
            OutputPath = toStdout ? null : outputPath,
            OutputStream = stdout,
            OutputDirectory = parseResult.GetValue(OutputDirectory),
            Force = parseResult.GetValue(Force),
            Fsync = parseResult.GetValue(Fsync),
            AllowNonFinite = parseResult.GetValue(AllowNonFinite),
            ExportQuantizerPath = parseResult.GetValue(ExportQuantizer),
            ShardParallelism = parseResult.GetValue(MaxParallelism) ?? QuantizeRequest.DefaultShardParallelism,
            Part = parseResult.GetValue(Part),
            Finish = parseResult.GetValue(Finish),
        };
        // When stdout carries the .npy data, the results go to stderr.
        bool verbose = parseResult.GetValue(Verbose);
        var host = new ConsoleHost<QuantizationReport>(toStdout ? cli.Error : cli.Output, cli.Error, parseResult.GetValue(Json),
            () => QuantShellJson.Compact.QuantizationReport, (writer, report) => TextFormat.WriteQuantizeReport(writer, report, verbose),
            progressLine: cli.ErrorIsTerminal, writeJson: WriteJson);
        var job = QuantizeJob.Run(request, cli.Inputs(parseResult.GetValue(Inputs)!), host, cancellationToken);
        stdout?.Flush();
        return host.ExitCode(job);
    }

    /// <summary>A line per tensor, then a model's summary line; each says which it is ("kind": "tensor" or "model").</summary>
    private static void WriteJson(TextWriter output, QuantizationReport report)
    {
        if (report is ModelQuantizationSummary summary)
            foreach (QuantizationReport tensor in summary.Tensors) output.WriteLine(JsonSerializer.Serialize(tensor, QuantShellJson.Compact.QuantizationReport));
        output.WriteLine(JsonSerializer.Serialize(report, QuantShellJson.Compact.QuantizationReport));
    }
}
