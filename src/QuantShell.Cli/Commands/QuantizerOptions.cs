using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Cli.Commands;

/// <summary>
/// The options that build a quantizer on the command line (shared by <c>quantize</c> and <c>new</c>). Lists are
/// comma-separated; enum names are case-insensitive. Validation is the core's; errors name the option.
/// </summary>
internal static class QuantizerOptions
{
    public static readonly Option<QuantizationTarget?> Target = new("--target")
    {
        Description = "What the quantizer is for: weights (per-tensor or per-channel) or activation (per-tensor). Default: weights.",
        HelpName = "weights|activation",
        CustomParser = ParseEnum<QuantizationTarget>,
    };

    public static readonly Option<QuantizationMethod?> Method = new("--method")
    {
        Description = "Quantization method: pot (power-of-two thresholds), symmetric or uniform (min/max range). Required unless --quantizer FILE is given.",
        HelpName = "pot|symmetric|uniform",
        CustomParser = ParseEnum<QuantizationMethod>,
    };

    public static readonly Option<int?> Bits = new("--bits", "-b")
    {
        Description = $"Number of bits ({QuantizerSpec.MinBits}..{QuantizerSpec.MaxBits}; 2..8 and 16 are the usual ones). Default: {DefaultBits}.",
        HelpName = "N",
    };

    public static readonly Option<double[]?> Threshold = new("--threshold")
    {
        Description = "Threshold(s) for pot/symmetric, comma-separated: one value, or one per channel with --per-channel. quantize and measure choose it from the data when omitted (see --error-method).",
        HelpName = "T[,T...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<double[]?> Min = new("--min")
    {
        Description = "Range minimum(s) for uniform, comma-separated (one, or one per channel). quantize and measure choose --min and --max from the data when both are omitted.",
        HelpName = "MIN[,MIN...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<double[]?> Max = new("--max")
    {
        Description = "Range maximum(s) for uniform, comma-separated (one, or one per channel).",
        HelpName = "MAX[,MAX...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<bool> Signed = new("--signed")
    {
        Description = "Signed integer range for pot/symmetric (the default for weights; for activations whose threshold is chosen from the data, the default is signed iff the data has negative values).",
    };

    public static readonly Option<bool> Unsigned = new("--unsigned")
    {
        Description = "Unsigned integer range for pot/symmetric (for non-negative inputs such as ReLU activations).",
    };

    public static readonly Option<bool> PerChannel = new("--per-channel")
    {
        Description = "One threshold or range per channel (weights only).",
    };

    public static readonly Option<int?> Axis = new("--axis")
    {
        Description = $"Channel axis for --per-channel; negative counts from the end (default {QuantizerSpec.DefaultChannelAxis}, the last axis).",
        HelpName = "N",
    };

    /// <summary>The number of bits when --bits is not given.</summary>
    public const int DefaultBits = 8;

    /// <summary>The target when --target is not given.</summary>
    public const QuantizationTarget DefaultTarget = QuantizationTarget.Weights;

    public static IEnumerable<Option> All => [Target, Method, Bits, Threshold, Min, Max, Signed, Unsigned, PerChannel, Axis];

    /// <summary>True when any quantizer-building option appears on the command line.</summary>
    public static bool AnyGiven(ParseResult parseResult) => All.Any(option => IsGiven(parseResult, option));

    // Options with defaults get an implicit result even when absent from the command line.
    internal static bool IsGiven(ParseResult parseResult, Option option) => parseResult.GetResult(option) is { Implicit: false };

    /// <summary>
    /// Builds and validates a spec from the options; errors name the option that is wrong. With
    /// <paramref name="allowIncomplete"/> the threshold (or range) may be left out, to be chosen from the data
    /// (every other rule is still checked, see <see cref="QuantizerResolver.ValidateRequest"/>).
    /// </summary>
    public static QuantizerSpec BuildSpec(ParseResult parseResult, bool allowIncomplete = false)
    {
        var target = parseResult.GetValue(Target) ?? DefaultTarget;
        var method = parseResult.GetValue(Method) ?? throw Missing("--method", "pot, symmetric or uniform");
        int bits = parseResult.GetValue(Bits) ?? DefaultBits;
        bool signed = parseResult.GetValue(Signed), unsigned = parseResult.GetValue(Unsigned);
        if (signed && unsigned)
            throw CliErrors.Usage("--signed and --unsigned cannot be used together.", "OptionConflict");
        if ((signed || unsigned) && method == QuantizationMethod.Uniform)
            throw CliErrors.Usage($"{(signed ? "--signed" : "--unsigned")} applies to pot and symmetric quantizers only; a uniform quantizer's range is given by --min and --max.", "ParameterNotApplicable");
        bool perChannel = parseResult.GetValue(PerChannel);
        int? axis = parseResult.GetValue(Axis);
        if (axis is not null && !perChannel)
            throw CliErrors.Usage($"--axis {axis} needs --per-channel.", "ParameterNotApplicable");

        var spec = new QuantizerSpec
        {
            Target = target,
            Method = method,
            NumBits = bits,
            Threshold = Numbers(parseResult, Threshold),
            MinRange = Numbers(parseResult, Min),
            MaxRange = Numbers(parseResult, Max),
            Signed = signed ? true : unsigned ? false : null,
            PerChannel = perChannel,
            ChannelAxis = axis,
        };
        try
        {
            if (allowIncomplete) QuantizerResolver.ValidateRequest(spec);
            else spec.Validate();
        }
        catch (QuantizerValidationException ex)
        {
            throw new QuantShellException($"{OptionFor(ex.ParameterName)}: {ex.Message}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, OptionFor(ex.ParameterName), ex);
        }
        return spec;
    }

    /// <summary>
    /// The quantizer of a command: from <paramref name="quantizerFile"/> (always complete) or from the building options,
    /// never both. From the options, the threshold or range may be missing: the result is then a request to complete from data.
    /// </summary>
    public static QuantizerSpec Resolve(ParseResult parseResult, string? quantizerFile)
    {
        if (quantizerFile is null) return BuildSpec(parseResult, allowIncomplete: true);
        if (AnyGiven(parseResult))
        {
            var given = All.Where(option => IsGiven(parseResult, option)).Select(option => option.Name);
            throw CliErrors.Usage($"--quantizer cannot be combined with options that build a quantizer ({string.Join(", ", given)}); use one or the other.", "OptionConflict");
        }
        return QuantizerFile.Read(quantizerFile);
    }

    private static string OptionFor(string parameterName) => parameterName switch
    {
        "Target" => "--target",
        "Method" => "--method",
        "NumBits" => "--bits",
        "Threshold" => "--threshold",
        "MinRange" => "--min",
        "MaxRange" => "--max",
        "Signed" => "--signed",
        "PerChannel" => "--per-channel",
        "ChannelAxis" => "--axis",
        _ => parameterName,
    };

    // An absent list option must stay null (the core tells "not given" from "given"); System.CommandLine would give [].
    private static double[]? Numbers(ParseResult parseResult, Option<double[]?> option) =>
        IsGiven(parseResult, option) ? parseResult.GetValue(option) : null;

    private static QuantShellException Missing(string option, string what) =>
        CliErrors.Usage($"{option} is required ({what}) unless --quantizer FILE is given.", "QuantizerOptionMissing");

    internal static T? ParseEnum<T>(ArgumentResult result) where T : struct, Enum
    {
        if (result.Tokens.Count == 0) return null;
        string text = result.Tokens[0].Value;
        // Names only: Enum.TryParse alone would also accept numbers such as "1".
        foreach (var name in Enum.GetNames<T>())
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
                return Enum.Parse<T>(name);
        }
        string option = result.Parent is OptionResult optionResult ? optionResult.Option.Name : "value";
        result.AddError($"{option} must be one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))} but is '{text}'.");
        return null;
    }

    private static double[]? ParseNumbers(ArgumentResult result)
    {
        if (result.Tokens.Count == 0) return null;
        string option = result.Parent is OptionResult optionResult ? optionResult.Option.Name : "value";
        var values = new List<double>();
        foreach (var token in result.Tokens)
        {
            foreach (var part in token.Value.Split(','))
            {
                string text = part.Trim();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                {
                    result.AddError($"{option} takes comma-separated numbers but '{text}' in '{token.Value}' is not a number.");
                    return null;
                }
                values.Add(value);
            }
        }
        return values.ToArray();
    }
}
