using System.CommandLine;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Serialization;
using QuantShell.Plotting;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant measure</c>: options into a <see cref="MeasureRequest"/>, results into tables or JSON.</summary>
internal static class MeasureCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "The .npy or model files (.npz, safetensors, PyTorch checkpoints, ONNX models) to measure (a model file: every tensor its rules or the defaults select). A Hugging Face model folder is one input (docs/model-folders.md). '-' reads one .npy from stdin.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static readonly Option<string?> PlotPath = new("--plot-path", "--plot")
    {
        Description = "Write a plot, PNG or SVG by the extension: a histogram of the values with the quantizer's levels and clipping range; " +
            "per channel, each channel's MSE and the channels' own histograms (the worst 16 beyond 16 channels). One tensor only.",
        HelpName = "FILE.png|FILE.svg",
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace an existing --plot-path file.",
    };

    public static readonly Option<bool> Fsync = FsyncOption.Create("--plot-path file");

    public static readonly Option<bool> PerChannelDetail = new("--per-channel-detail")
    {
        Description = "One row per channel of each tensor measured with a per-channel quantizer. The rows follow the tensor's row; --json lines always hold the channels.",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per input (JSON Lines): the metrics, a channels array and the quantizer.",
    };

    public static Command Create()
    {
        var command = new Command("measure",
            "Measure a quantizer on .npy and model files (.npz, safetensors, PyTorch checkpoints, ONNX models) without writing any: MSE, MAE, max error, SQNR, clipped fraction and levels used, " +
            "per tensor (a model file: a table, one row per tensor), per channel with --per-channel-detail. The quantizer comes from --quantizer FILE or the options quantize takes (values chosen from the data when omitted).")
        {
            Inputs,
        };
        foreach (var option in QuantizerOptionSet.All) command.Options.Add(option);
        foreach (var option in new Option[] { QuantizeCommand.RulesPath, PlotPath, Force, Fsync, PerChannelDetail, Json }) command.Options.Add(option);
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        var request = new MeasureRequest
        {
            Quantizer = QuantizerOptionSet.Read(parseResult),
            RulesPath = parseResult.GetValue(QuantizeCommand.RulesPath),
            PlotPath = parseResult.GetValue(PlotPath),
            Plotter = new ScottPlotQuantizationPlotter(),
            Force = parseResult.GetValue(Force),
            Fsync = parseResult.GetValue(Fsync),
        };
        bool perChannelDetail = parseResult.GetValue(PerChannelDetail);
        string? tableOf = null;
        var host = new ConsoleHost<MeasurementResult>(cli.Output, cli.Error, parseResult.GetValue(Json), () => QuantShellJson.Compact.MeasurementResult,
            (writer, result) => TextFormat.WriteMeasured(writer, result, perChannelDetail, ref tableOf), progressLine: cli.ErrorIsTerminal);
        var job = MeasureJob.Run(request, cli.Inputs(parseResult.GetValue(Inputs)!), host, cancellationToken);
        return host.ExitCode(job);
    }
}
