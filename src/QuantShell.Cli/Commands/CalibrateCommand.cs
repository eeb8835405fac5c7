using System.CommandLine;
using System.Globalization;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Serialization;
using QuantShell.Core.Jobs.Calibrate;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant calibrate</c>: options into a <see cref="CalibrateRequest"/>, results into lines or JSON.</summary>
internal static class CalibrateCommand
{
    public static readonly Argument<string> Model = new("model")
    {
        Description = "The float ONNX model whose activations are calibrated.",
    };

    public static readonly Option<string> DataPath = new("--data-path", "--data")
    {
        Description = "The sample inputs: a folder of .npy files (a model of one input) or .npz files (one array per input name), or one such file. Each file is one run of the model.",
        HelpName = "DIR",
        Required = true,
    };

    public static readonly Option<string?> OutputPath = new("--output-path", "--output", "-o")
    {
        Description = "The rules file to write. Default: model.rules.json beside model.onnx.",
        HelpName = "FILE",
    };

    public static readonly Option<QuantizationMethod?> Method = new("--method")
    {
        Description = $"The activation quantizers' method. One of pot, symmetric or uniform. Default: {EnumNames.Kebab(CalibrateRequest.DefaultMethod)}.",
        HelpName = "pot|symmetric|uniform",
        CustomParser = QuantizerOptionSet.ParseEnum<QuantizationMethod>,
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace an existing rules file (never the model).",
    };

    public static readonly Option<bool> Fsync = FsyncOption.Create("rules file");

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per activation (JSON Lines) instead of a line of text.",
    };

    public static Command Create()
    {
        var command = new Command("calibrate",
            "Calibrate a float ONNX model's activations from sample inputs (MCT's post-training quantization, run in ONNX Runtime): " +
            "each activation a Conv, Gemm, MatMul or RNN reads gets a quantizer chosen from its statistics, written with a rule per " +
            "weight into a rules file for 'quantize MODEL --rules FILE --format qdq'.")
        {
            Model, DataPath, OutputPath, Method, QuantizerOptionSet.NumBits, QuantizerOptionSet.ErrorMethod, QuantizerOptionSet.P, QuantizerOptionSet.Percentile,
            Force, Fsync, Json,
        };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        var request = new CalibrateRequest
        {
            ModelPath = parseResult.GetValue(Model)!,
            DataPath = parseResult.GetValue(DataPath)!,
            OutputPath = parseResult.GetValue(OutputPath),
            Method = parseResult.GetValue(Method),
            NumBits = parseResult.GetValue(QuantizerOptionSet.NumBits),
            ErrorMethod = parseResult.GetValue(QuantizerOptionSet.ErrorMethod),
            P = parseResult.GetValue(QuantizerOptionSet.P),
            Percentile = parseResult.GetValue(QuantizerOptionSet.Percentile),
            Force = parseResult.GetValue(Force),
            Fsync = parseResult.GetValue(Fsync),
        };
        // The options are checked before ONNX Runtime is loaded: a mistyped option costs nothing.
        CalibrateJob.CheckOptions(request);
        bool json = parseResult.GetValue(Json);
        var host = new ConsoleHost<CalibrationResult>(cli.Output, cli.Error, json, () => QuantShellJson.Compact.CalibrationResult, TextFormat.WriteCalibrated,
            progressLine: cli.ErrorIsTerminal);
        var summary = CalibrateJob.Run(request with { Runner = ModelRuntime.Create() }, host, cancellationToken);
        if (!json)
            cli.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{summary.OutputPath}: {summary.Activations} activation quantizer{(summary.Activations == 1 ? "" : "s")} and {summary.WeightRules} weight rule{(summary.WeightRules == 1 ? "" : "s")} " +
                $"from {summary.Samples} sample{(summary.Samples == 1 ? "" : "s")}{(summary.Skipped > 0 ? $", {summary.Skipped} activation{(summary.Skipped == 1 ? "" : "s")} skipped" : "")}, {summary.ElapsedMs / 1000:F1} s"));
        return ExitCode.Success;
    }
}
