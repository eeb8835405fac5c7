using System.CommandLine;
using System.Globalization;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Cli.Commands;

/// <summary>
/// The quantizer a command applies (shared by <c>quantize</c> and <c>measure</c>): a complete one (from <c>--quantizer</c>
/// or with an explicit threshold/range), or a request whose threshold/range is chosen from the data by the core's
/// <see cref="QuantizerResolver"/>, per input or, with <c>--calibrate</c>, once over all inputs pooled.
/// </summary>
internal sealed class QuantizerChoice
{
    public static readonly Option<ErrorMethod?> ErrorMethodOption = new("--error-method")
    {
        Description = "How a missing threshold or range is chosen from the data: noclipping (cover max|x|, or [min, max]), " +
                      "mse (least mean squared error, the default), mae (least mean absolute error) or lp (least mean |error|^p, see --p).",
        HelpName = "noclipping|mse|mae|lp",
        CustomParser = QuantizerOptions.ParseEnum<ErrorMethod>,
    };

    public static readonly Option<double?> P = new("--p")
    {
        Description = "The exponent p for --error-method lp (default 2).",
        HelpName = "P",
    };

    public static readonly Option<bool> Calibrate = new("--calibrate")
    {
        Description = "Choose one threshold/range from all inputs pooled (as calibration batches) and apply it to every input; " +
                      "without it each input gets its own.",
    };

    public static IEnumerable<Option> All => [ErrorMethodOption, P, Calibrate];

    private QuantizerChoice(QuantizerSpec spec, SelectionOptions? selection, bool calibrate)
    {
        Spec = spec;
        Selection = selection;
        IsCalibrated = calibrate;
    }

    /// <summary>The complete quantizer, or the request whose threshold/range is to be chosen.</summary>
    public QuantizerSpec Spec { get; }

    /// <summary>How values are chosen; null when the quantizer is complete.</summary>
    public SelectionOptions? Selection { get; }

    /// <summary>One quantizer chosen over all inputs pooled (--calibrate).</summary>
    public bool IsCalibrated { get; }

    public bool ChoosesFromData => Selection is not null;

    /// <summary>Reads the quantizer and selection options of a command line and checks how they combine (fails before reading any input).</summary>
    public static QuantizerChoice FromCommandLine(ParseResult parseResult, string? quantizerFile)
    {
        var spec = QuantizerOptions.Resolve(parseResult, quantizerFile);
        var given = All.Where(option => QuantizerOptions.IsGiven(parseResult, option)).Select(option => option.Name).ToArray();
        if (QuantizerResolver.IsComplete(spec))
        {
            if (given.Length > 0)
            {
                string source = quantizerFile is not null ? "--quantizer gives a complete quantizer"
                    : spec.Method == QuantizationMethod.Uniform ? "--min/--max are given" : "--threshold is given";
                throw CliErrors.Usage($"{string.Join(", ", given)} only apply when the threshold or range is chosen from the data, but {source}.", "SelectionOptionNotApplicable");
            }
            return new QuantizerChoice(spec, null, calibrate: false);
        }

        var method = parseResult.GetValue(ErrorMethodOption) ?? ErrorMethod.Mse;
        double? p = parseResult.GetValue(P);
        if (p is double exponent)
        {
            if (method != ErrorMethod.Lp)
                throw CliErrors.Usage($"--p applies to --error-method lp only, but the error method is {method.ToString().ToLowerInvariant()}.", "ParameterNotApplicable");
            // Checked here too (the core checks it when choosing) so that nothing is read before the error.
            if (!(double.IsFinite(exponent) && exponent > 0))
                throw CliErrors.Usage($"--p: P must be a finite number greater than 0 but is {exponent.ToString("R", CultureInfo.InvariantCulture)}.", "ErrorExponentInvalid");
        }
        var selection = new SelectionOptions { ErrorMethod = method, P = p ?? new SelectionOptions().P };
        return new QuantizerChoice(spec, selection, parseResult.GetValue(Calibrate));
    }

    /// <summary>
    /// The one quantizer for every input when there is one before looking at each input: the complete quantizer, or
    /// with --calibrate the one chosen over all <paramref name="inputs"/>. Null when each input gets its own.
    /// </summary>
    public QuantizerSpec? Shared(IReadOnlyList<string> inputs)
    {
        if (!ChoosesFromData) return Spec;
        if (!IsCalibrated) return null;
        if (inputs.Contains(QuantizeCommand.StandardStream))
            throw CliErrors.Usage("--calibrate reads its inputs twice and cannot read stdin ('-'); give files.", "CalibrateWithStdin");
        foreach (string input in inputs) QuantizeCommand.OpenInput(input).Dispose();
        return QuantizerResolver.Resolve(Spec, inputs, Selection);
    }

    /// <summary>The quantizer chosen from one file's data.</summary>
    public QuantizerSpec ForInput(string path)
    {
        if (!ChoosesFromData) return Spec;
        // Same checks and messages as quantizing a missing file, before the core reads it.
        QuantizeCommand.OpenInput(path).Dispose();
        return QuantizerResolver.Resolve(Spec, [path], Selection);
    }

    /// <summary>The quantizer chosen from an array already in memory; <paramref name="name"/> names it in errors.</summary>
    public QuantizerSpec ForArray(NpyArray array, string name) =>
        ChoosesFromData ? QuantizerResolver.Resolve(Spec, [array], name, Selection) : Spec;

    /// <summary>How the values were chosen, for the text output: "chosen from the data, mse", "calibrated over 2 inputs, lp p=3".</summary>
    public string? Describe(int inputCount)
    {
        if (Selection is null) return null;
        string method = Selection.ErrorMethod.ToString().ToLowerInvariant();
        if (Selection.ErrorMethod == ErrorMethod.Lp) method += " p=" + Selection.P.ToString("R", CultureInfo.InvariantCulture);
        return IsCalibrated ? $"calibrated over {inputCount} input{(inputCount == 1 ? "" : "s")}, {method}" : $"chosen from the data, {method}";
    }

    /// <summary>The <c>selection</c> member of --json output: null for a complete quantizer.</summary>
    public void WriteJson(System.Text.Json.Utf8JsonWriter writer)
    {
        writer.WritePropertyName("selection");
        if (Selection is null)
        {
            writer.WriteNullValue();
            return;
        }
        writer.WriteStartObject();
        writer.WriteString("errorMethod", Selection.ErrorMethod.ToString().ToLowerInvariant());
        if (Selection.ErrorMethod == ErrorMethod.Lp) ResultJson.WriteNumber(writer, "p", Selection.P);
        writer.WriteBoolean("calibrated", IsCalibrated);
        writer.WriteEndObject();
    }
}
