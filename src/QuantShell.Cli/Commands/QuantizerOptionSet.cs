using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Cli.Commands;

/// <summary>
/// The options that describe a quantizer (quantize, measure, new), translated one to one into the core's
/// <see cref="QuantizerArguments"/>. Names are the kebab-case of the PowerShell parameters (<c>--channel-axis</c> for
/// <c>-ChannelAxis</c>), with the short forms kept as aliases. Lists are comma-separated; enum values case-insensitive.
/// </summary>
internal static class QuantizerOptionSet
{
    public static readonly Option<string?> QuantizerPath = new("--quantizer", "-q")
    {
        Description = "The complete quantizer to apply, not together with the parameters that build one. A JSON quantizer file (as 'dotnet-quant new' writes; MCT's snake_case names are accepted).",
        HelpName = "FILE",
    };

    public static readonly Option<QuantizationTarget?> Target = new("--target")
    {
        Description = $"What the quantizer is for: weights (per-tensor or per-channel) or activations (per-tensor only). Default: {Kebab(QuantizerArguments.DefaultTarget)}.",
        HelpName = Choices<QuantizationTarget>(),
        CustomParser = ParseEnum<QuantizationTarget>,
    };

    public static readonly Option<QuantizationMethod?> Method = new("--method")
    {
        Description = "The quantization method: power-of-two thresholds, symmetric, uniform (a min/max range), or a look-up table of values (MCT's non-uniform quantizers, see --lut-values). " +
            $"One of pot, symmetric, uniform, lut-symmetric (weights only) or lut-pot. Default: {Kebab(QuantizerArguments.DefaultMethod)}.",
        HelpName = Choices<QuantizationMethod>(),
        CustomParser = ParseEnum<QuantizationMethod>,
    };

    public static readonly Option<int?> NumBits = new("--num-bits", "--bits", "-b")
    {
        Description = $"Number of bits, {QuantizerSpec.MinBits} to {QuantizerSpec.MaxBits}. 2..8 and 16 are the usual ones. Default: {QuantizerArguments.DefaultNumBits}.",
        HelpName = "N",
    };

    public static readonly Option<double[]?> Threshold = new("--threshold")
    {
        Description = "Thresholds for Pot, Symmetric and LUT quantizers: one value, or one per channel with --per-channel. Comma-separated; chosen from the data when omitted (see --error-method).",
        HelpName = "T[,T...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<double[]?> MinRange = new("--min-range", "--min")
    {
        Description = "Range minimums for Uniform quantizers: one value, or one per channel. Comma-separated; --min-range and --max-range are chosen from the data when both are omitted.",
        HelpName = "MIN[,MIN...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<double[]?> MaxRange = new("--max-range", "--max")
    {
        Description = "Range maximums for Uniform quantizers: one value, or one per channel. Comma-separated.",
        HelpName = "MAX[,MAX...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<bool> Signed = new("--signed")
    {
        Description = "Signed integer range for Pot, Symmetric and LutPot activations. The default for weights; for activations chosen from the data, signed iff the data has negative values.",
    };

    public static readonly Option<bool> Unsigned = new("--unsigned")
    {
        Description = "Unsigned integer range for pot/symmetric/lut-pot activations (for non-negative inputs such as ReLU activations).",
    };

    public static readonly Option<double[]?> LutValues = new("--lut-values")
    {
        Description = "The table of a LutSymmetric or LutPot quantizer: integers in the LUT's range, in any order. Comma-separated; at most 2^num-bits distinct. Chosen from the data by k-means when omitted.",
        HelpName = "V[,V...]",
        Arity = ArgumentArity.ExactlyOne,
        CustomParser = ParseNumbers,
    };

    public static readonly Option<int?> LutValuesBitwidth = new("--lut-values-bitwidth")
    {
        Description = $"The bit width B of a LUT's integer range, at least --num-bits. Signed [-2^(B-1), 2^(B-1)-1], unsigned [0, 2^B]. Default: {QuantizerSpec.DefaultLutValuesBitwidth}.",
        HelpName = "B",
    };

    public static readonly Option<double?> Eps = new("--eps")
    {
        Description = $"Added to a LUT's threshold before dividing by it, as MCT does. Default: {QuantizerSpec.DefaultEps:0e0}.",
        HelpName = "EPS",
    };

    public static readonly Option<bool> PerChannel = new("--per-channel")
    {
        Description = "One threshold or range per channel (weights only). Default: one per tensor for .npy files; per channel on axis 0 for the weights of model files whose values are chosen from the data (--per-channel false: one per tensor).",
    };

    public static readonly Option<int?> ChannelAxis = new("--channel-axis", "--axis")
    {
        Description = $"Channel axis for --per-channel; negative values count from the end. Default: auto. Without it, values chosen from the data are chosen along axis {QuantizerSpec.DefaultChannelAxis} (PyTorch's output channels) and values given apply along the first axis whose length is their count; results say which axis was used.",
        HelpName = "N",
    };

    public static readonly Option<int?> GroupSize = new("--group-size")
    {
        Description = "Group-wise scales (QuantShell's; MCT has none): one threshold (or range) per channel and per group of this many consecutive elements of the last axis (the input features of a Linear weight), the last group ragged when the size does not divide. Implies --per-channel, on axis 0 unless --channel-axis says otherwise; POT, symmetric and uniform weights.",
        HelpName = "N",
    };

    public static readonly Option<ErrorMethod?> ErrorMethod = new("--error-method")
    {
        Description = $"How a threshold, range or LUT table that is not given is chosen from the data. One of no-clipping (cover the data), mse (least mean squared error), mae, lp (see --p), kl (MCT's KL divergence of the histogram) or percentile (cover --percentile of the values). Default: {EnumNames.Kebab(SelectionOptions.DefaultErrorMethod)}; {EnumNames.Kebab(SelectionOptions.DefaultFolderErrorMethod)} for the Linear weights of a model folder.",
        HelpName = Choices<ErrorMethod>(),
        CustomParser = ParseEnum<ErrorMethod>,
    };

    public static readonly Option<SelectionSearch?> Search = new("--search")
    {
        Description = $"How the values not given are searched for. One of mct (as MCT chooses them, the float32 values MCT would hand its quantizers; the default) or optimal (QuantShell's search for the least error on the values themselves). --error-method percentile is QuantShell's own either way.",
        HelpName = Choices<SelectionSearch>(),
        CustomParser = ParseEnum<SelectionSearch>,
    };

    public static readonly Option<double?> P = new("--p")
    {
        Description = $"The exponent p of the Lp error method. --error-method lp only; default {SelectionOptions.DefaultP}.",
        HelpName = "P",
    };

    public static readonly Option<double?> Percentile = new("--percentile")
    {
        Description = $"The share of the values the Percentile error method covers, in percent (greater than 0, at most 100). --error-method percentile only; default {SelectionOptions.DefaultPercentile}: the threshold is that percentile of |x|; a uniform range leaves half the rest out on each side.",
        HelpName = "PERCENT",
    };

    public static readonly Option<bool> Calibrate = new("--calibrate")
    {
        Description = "Choose one quantizer for every input from all inputs pooled as calibration batches; without it each input gets its own.",
    };

    /// <summary>The options that build a quantizer (new takes these only).</summary>
    public static IReadOnlyList<Option> Building { get; } =
        [Target, Method, NumBits, Threshold, MinRange, MaxRange, Signed, Unsigned, PerChannel, ChannelAxis, GroupSize, LutValues, LutValuesBitwidth, Eps];

    /// <summary>The options of commands that apply a quantizer to data: a file or the building options, and selection.</summary>
    public static IReadOnlyList<Option> All { get; } = [QuantizerPath, .. Building, ErrorMethod, Search, P, Percentile, Calibrate];

    /// <summary>The options as the core's <see cref="QuantizerArguments"/>: null for each option not on the command line.</summary>
    public static QuantizerArguments Read(ParseResult parseResult) => new()
    {
        QuantizerPath = parseResult.GetValue(QuantizerPath),
        Target = parseResult.GetValue(Target),
        Method = parseResult.GetValue(Method),
        NumBits = parseResult.GetValue(NumBits),
        Threshold = Given(parseResult, Threshold),
        MinRange = Given(parseResult, MinRange),
        MaxRange = Given(parseResult, MaxRange),
        Signed = QuantizerArguments.Signedness(Given(parseResult, Signed), Given(parseResult, Unsigned)),
        PerChannel = Given(parseResult, PerChannel),
        ChannelAxis = parseResult.GetValue(ChannelAxis),
        GroupSize = parseResult.GetValue(GroupSize),
        LutValues = Given(parseResult, LutValues),
        LutValuesBitwidth = parseResult.GetValue(LutValuesBitwidth),
        Eps = parseResult.GetValue(Eps),
        ErrorMethod = parseResult.GetValue(ErrorMethod),
        Search = parseResult.GetValue(Search),
        P = parseResult.GetValue(P),
        Percentile = parseResult.GetValue(Percentile),
        Calibrate = Given(parseResult, Calibrate),
    };

    // An absent list option must stay null (the core tells "not given" from "given"); System.CommandLine would give [].
    private static double[]? Given(ParseResult parseResult, Option<double[]?> option) =>
        parseResult.GetResult(option) is { Implicit: false } ? parseResult.GetValue(option) : null;

    /// <summary>A switch as written: true for '--x' or '--x true', false for '--x false', null when absent (the default decides).</summary>
    private static bool? Given(ParseResult parseResult, Option<bool> option) =>
        parseResult.GetResult(option) is { Implicit: false } ? parseResult.GetValue(option) : null;

    private static string Kebab<T>(T value) where T : struct, Enum => EnumNames.Kebab(value);

    internal static string Choices<T>() where T : struct, Enum => string.Join('|', EnumNames.All<T>(EnumNames.Kebab));

    internal static T? ParseEnum<T>(ArgumentResult result) where T : struct, Enum
    {
        if (result.Tokens.Count == 0) return null;
        string text = result.Tokens[0].Value;
        if (EnumNames.TryParse<T>(text) is T value) return value;
        string option = result.Parent is OptionResult optionResult ? optionResult.Option.Name : result.Argument.Name.ToUpperInvariant();
        result.AddError($"{option} must be one of {Choices<T>().Replace("|", ", ", StringComparison.Ordinal)} but is '{text}'.");
        return null;
    }

    internal static double[]? ParseNumbers(ArgumentResult result)
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
