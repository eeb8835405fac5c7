using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Plotting;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Cli.Commands;

/// <summary>
/// <c>dotnet-quant measure</c>: how well a quantizer (given, or chosen from the data as <c>quantize</c> chooses it)
/// fits .npy files: error metrics per tensor and per channel, optionally a histogram PNG. Writes no .npy.
/// </summary>
internal sealed class MeasureCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "The .npy files to measure; '-' reads one .npy from stdin.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static readonly Option<string?> Plot = new("--plot")
    {
        Description = "Write a PNG histogram of the values with the quantization grid and clipping range (a single input only).",
        HelpName = "FILE.png",
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace an existing --plot file.",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per input (JSON Lines): overall metrics, a channels array and the quantizer.",
    };

    public static readonly Command Command = CreateCommand();

    private readonly CliInvocation _invocation;
    private readonly TextWriter _stdout;
    private readonly TextWriter _stderr;

    private MeasureCommand(CliInvocation invocation)
    {
        _invocation = invocation;
        _stdout = invocation.Output;
        _stderr = invocation.Error;
    }

    private static Command CreateCommand()
    {
        var command = new Command("measure",
            "Measure a quantizer on .npy files without writing any: MSE, MAE, max error, SQNR, clipped fraction and levels used, " +
            "per tensor and per channel. The quantizer comes from --quantizer FILE or from the options quantize takes " +
            "(threshold/range chosen from the data when omitted).")
        {
            Inputs, QuantizeCommand.QuantizerFileOption,
        };
        foreach (var option in QuantizerOptions.All) command.Options.Add(option);
        foreach (var option in QuantizerChoice.All) command.Options.Add(option);
        foreach (var option in new Option[] { Plot, Force, Json }) command.Options.Add(option);
        command.SetAction((parseResult, cancellationToken) =>
            Task.FromResult((int)new MeasureCommand(CliInvocation.From(parseResult)).Execute(parseResult, cancellationToken)));
        return command;
    }

    private ExitCode Execute(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string[] inputs = parseResult.GetValue(Inputs) ?? [];
        string? plot = parseResult.GetValue(Plot);
        bool force = parseResult.GetValue(Force);
        bool json = parseResult.GetValue(Json);
        if (plot is not null && inputs.Length > 1)
            throw CliErrors.Usage($"--plot draws one input but {inputs.Length} inputs were given.", "PlotWithSeveralInputs");
        if (inputs.Contains(QuantizeCommand.StandardStream) && inputs.Length > 1)
            throw CliErrors.Usage("'-' (stdin) must be the only input.", "StdinWithSeveralInputs");

        var choice = QuantizerChoice.FromCommandLine(parseResult, parseResult.GetValue(QuantizeCommand.QuantizerFileOption));
        if (plot is not null) AtomicFile.CheckWritable(plot, force);
        var shared = choice.Shared(inputs);
        var sharedQuantizer = shared is null ? null : InferableQuantizer.Create(shared);

        int failures = 0;
        foreach (string input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var (array, quantizer, report) = MeasureOne(input, sharedQuantizer, choice);
                if (plot is not null)
                    HistogramPlot.Write(plot, array, quantizer, report, force);
                string? plotPath = plot is null ? null : Path.GetFullPath(plot);
                if (json) _stdout.WriteLine(ToJson(report, choice, plotPath));
                else WriteText(_stdout, input, report, choice.Describe(inputs.Length), plotPath);
            }
            catch (QuantShellException ex) when (inputs.Length > 1)
            {
                CliErrors.Report(_stderr, ex);
                failures++;
            }
        }
        return failures == 0 ? ExitCode.Success : ExitCode.Failure;
    }

    /// <summary>Measures one input, read once: the same array serves choosing, measuring and plotting.</summary>
    private (NpyArray Array, IInferableQuantizer Quantizer, MeasurementReport Report) MeasureOne(string input, IInferableQuantizer? shared, QuantizerChoice choice)
    {
        NpyArray array;
        string name;
        if (input == QuantizeCommand.StandardStream)
        {
            array = NpyArray.Read(_invocation.OpenStandardInput(), QuantizeCommand.StandardInputName);
            name = QuantizeCommand.StandardInputName;
        }
        else
        {
            // The same checks and messages as quantize for a missing or unreadable file.
            QuantizeCommand.OpenInput(input).Dispose();
            array = NpyArray.Read(input);
            name = input;
        }
        var quantizer = shared ?? InferableQuantizer.Create(choice.ForArray(array, name));
        var report = QuantizationMetrics.Measure(array, quantizer, name);
        return (array, quantizer, report with { InputPath = input == QuantizeCommand.StandardStream ? QuantizeCommand.StandardStream : Path.GetFullPath(input) });
    }

    private static void WriteText(TextWriter output, string input, MeasurementReport report, string? howChosen, string? plotPath)
    {
        var spec = report.Quantizer;
        string channels = spec.PerChannel ? $" per-channel (axis {spec.ResolveChannelAxis(report.Shape.Length)})" : "";
        string name = input == QuantizeCommand.StandardStream ? QuantizeCommand.StandardInputName : input;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}: {NpyHeader.FormatShape(report.Shape)}, {ResultJson.Name(spec.Target)} {ResultJson.Name(spec.Method)} {spec.NumBits}-bit{channels}, " +
            $"{QuantizeCommand.AppliedValues(spec)}{(howChosen is null ? "" : $" ({howChosen})")}"));
        output.WriteLine(Row("", "count", "MSE", "MAE", "max error", "SQNR", "clipped", "levels", "scale", "zero", "range"));
        output.WriteLine(Row("tensor", report.Overall));
        foreach (var channel in report.Channels)
            output.WriteLine(Row($"ch {channel.Channel}", channel));
        if (plotPath is not null) output.WriteLine($"  plot: {plotPath}");
    }

    private static string Row(string label, ChannelMetrics m)
    {
        bool oneGrid = double.IsFinite(m.Scale);
        return Row(label,
            m.Count.ToString(CultureInfo.InvariantCulture),
            Metric(m.Mse), Metric(m.Mae), Metric(m.MaxError),
            QuantizeCommand.Decibels(m.SqnrDb).Replace(" (lossless)", "", StringComparison.Ordinal),
            (m.ClippedFraction * 100).ToString("F2", CultureInfo.InvariantCulture) + "%",
            $"{m.DistinctLevels}/{m.LevelsAvailable}",
            oneGrid ? QuantizeCommand.Number((float)m.Scale) : "per-channel",
            oneGrid ? m.ZeroPoint.ToString(CultureInfo.InvariantCulture) : "-",
            $"[{m.RangeMin.ToString("G7", CultureInfo.InvariantCulture)}, {m.RangeMax.ToString("G7", CultureInfo.InvariantCulture)}]");
    }

    private static string Row(string label, string count, string mse, string mae, string maxError, string sqnr, string clipped,
                              string levels, string scale, string zero, string range) =>
        $"  {label,-8} {count,10} {mse,11} {mae,11} {maxError,11} {sqnr,10} {clipped,8} {levels,11} {scale,13} {zero,5}  {range}";

    private static string Metric(double value) => value.ToString("G5", CultureInfo.InvariantCulture);

    private static string ToJson(MeasurementReport report, QuantizerChoice choice, string? plotPath) => ResultJson.Write(writer =>
    {
        var spec = report.Quantizer;
        writer.WriteStartObject();
        writer.WriteString("input", report.InputPath);
        writer.WriteStartArray("shape");
        foreach (long dimension in report.Shape) writer.WriteNumberValue(dimension);
        writer.WriteEndArray();
        writer.WriteString("target", ResultJson.Name(spec.Target));
        writer.WriteString("method", ResultJson.Name(spec.Method));
        writer.WriteNumber("numBits", spec.NumBits);
        writer.WriteBoolean("perChannel", spec.PerChannel);
        if (spec.PerChannel) writer.WriteNumber("channelAxis", spec.ResolveChannelAxis(report.Shape.Length));
        else writer.WriteNull("channelAxis");
        ResultJson.WriteAppliedValues(writer, spec);
        writer.WritePropertyName("overall");
        WriteMetrics(writer, report.Overall);
        writer.WriteStartArray("channels");
        foreach (var channel in report.Channels) WriteMetrics(writer, channel);
        writer.WriteEndArray();
        writer.WritePropertyName("quantizer");
        QuantizerFile.WriteTo(writer, spec);
        choice.WriteJson(writer);
        if (plotPath is null) writer.WriteNull("plot");
        else writer.WriteString("plot", plotPath);
        writer.WriteEndObject();
    });

    private static void WriteMetrics(Utf8JsonWriter writer, ChannelMetrics m)
    {
        writer.WriteStartObject();
        if (m.Channel is int channel) writer.WriteNumber("channel", channel);
        else writer.WriteNull("channel");
        writer.WriteNumber("count", m.Count);
        ResultJson.WriteNumber(writer, "mse", m.Mse);
        ResultJson.WriteNumber(writer, "mae", m.Mae);
        ResultJson.WriteNumber(writer, "maxError", m.MaxError);
        ResultJson.WriteNumber(writer, "sqnrDb", m.SqnrDb);
        ResultJson.WriteNumber(writer, "clippedFraction", m.ClippedFraction);
        writer.WriteNumber("distinctLevels", m.DistinctLevels);
        writer.WriteNumber("levelsAvailable", m.LevelsAvailable);
        // The whole tensor of a per-channel quantizer has no single grid: null scale and zero point.
        if (double.IsFinite(m.Scale))
        {
            writer.WritePropertyName("scale");
            ResultJson.WriteNumberValue(writer, (float)m.Scale);
            writer.WriteNumber("zeroPoint", m.ZeroPoint);
        }
        else
        {
            writer.WriteNull("scale");
            writer.WriteNull("zeroPoint");
        }
        ResultJson.WriteNumber(writer, "rangeMin", m.RangeMin);
        ResultJson.WriteNumber(writer, "rangeMax", m.RangeMax);
        writer.WriteEndObject();
    }
}
