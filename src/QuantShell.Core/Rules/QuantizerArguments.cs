using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Rules;

/// <summary>
/// The quantizer as given, before any rule is applied: a complete quantizer (an object, or a quantizer file), or the
/// parameters that build one, plus how missing values are chosen from the data. Both faces fill this from their
/// parameters (null = not given); <see cref="Check"/> applies the defaults and every rule of how the arguments combine
/// and gives the <see cref="QuantizerRecipe"/> (docs/semantics.md, validation). Errors name the parameter as C# and PowerShell spell it (<c>ChannelAxis</c>).
/// </summary>
public sealed record QuantizerArguments
{
    /// <summary>The target when none is given.</summary>
    public const QuantizationTarget DefaultTarget = QuantizationTarget.Weights;

    /// <summary>The method when none is given: symmetric, what deployment runtimes expect of weights.</summary>
    public const QuantizationMethod DefaultMethod = QuantizationMethod.Symmetric;

    /// <summary>The bit width when none is given.</summary>
    public const int DefaultNumBits = 8;

    /// <summary>A complete quantizer given as an object (PowerShell's -Quantizer).</summary>
    public QuantizerSpec? Quantizer { get; init; }

    /// <summary>A quantizer file to read (the command line's --quantizer FILE).</summary>
    public string? QuantizerPath { get; init; }

    public QuantizationTarget? Target { get; init; }
    public QuantizationMethod? Method { get; init; }
    public int? NumBits { get; init; }
    public IReadOnlyList<double>? Threshold { get; init; }
    public IReadOnlyList<double>? MinRange { get; init; }
    public IReadOnlyList<double>? MaxRange { get; init; }
    public bool? Signed { get; init; }
    public bool? PerChannel { get; init; }
    public int? ChannelAxis { get; init; }

    /// <summary>Group-wise scales: one value per channel and group of this many elements of the last axis (implies PerChannel).</summary>
    public int? GroupSize { get; init; }
    public IReadOnlyList<double>? LutValues { get; init; }
    public int? LutValuesBitwidth { get; init; }
    public double? Eps { get; init; }

    /// <summary>How missing values are chosen; default <see cref="ErrorMethod.Mse"/>.</summary>
    public ErrorMethod? ErrorMethod { get; init; }

    /// <summary>As MCT does or the least error; default <see cref="SelectionOptions.DefaultSearch"/>.</summary>
    public SelectionSearch? Search { get; init; }

    /// <summary>The exponent of <see cref="ErrorMethod.Lp"/>.</summary>
    public double? P { get; init; }

    /// <summary>The share of the data <see cref="ErrorMethod.Percentile"/> covers, in percent (default 99.99).</summary>
    public double? Percentile { get; init; }

    /// <summary>Choose one quantizer from all inputs pooled.</summary>
    public bool? Calibrate { get; init; }

    /// <summary>The names of the quantizer-building parameters that were given, in their C#/PowerShell spelling.</summary>
    public IEnumerable<Parameter> BuildingParametersGiven()
    {
        if (Target is not null) yield return Parameter.Target;
        if (Method is not null) yield return Parameter.Method;
        if (NumBits is not null) yield return Parameter.NumBits;
        if (Threshold is not null) yield return Parameter.Threshold;
        if (MinRange is not null) yield return Parameter.MinRange;
        if (MaxRange is not null) yield return Parameter.MaxRange;
        if (Signed is not null) yield return Parameter.Signed;
        if (PerChannel is not null) yield return Parameter.PerChannel;
        if (ChannelAxis is not null) yield return Parameter.ChannelAxis;
        if (GroupSize is not null) yield return Parameter.GroupSize;
        if (LutValues is not null) yield return Parameter.LutValues;
        if (LutValuesBitwidth is not null) yield return Parameter.LutValuesBitwidth;
        if (Eps is not null) yield return Parameter.Eps;
    }

    /// <summary>The names of the selection parameters that were given.</summary>
    public IEnumerable<Parameter> SelectionParametersGiven()
    {
        if (ErrorMethod is not null) yield return Parameter.ErrorMethod;
        if (Search is not null) yield return Parameter.Search;
        if (P is not null) yield return Parameter.P;
        if (Percentile is not null) yield return Parameter.Percentile;
        if (Calibrate is not null) yield return Parameter.Calibrate;
    }

    /// <summary>
    /// Applies the defaults (weights, symmetric, 8 bits) and the rules: a complete quantizer excludes the building
    /// parameters and the selection ones; -P belongs to -ErrorMethod Lp, -Percentile to -ErrorMethod Percentile; every quantizer rule of
    /// <see cref="QuantizerSpec.Validate"/>. Reads the quantizer file when one is named. Nothing is read from the inputs.
    /// </summary>
    public QuantizerRecipe Check()
    {
        var building = BuildingParametersGiven().ToArray();
        if (Quantizer is not null && QuantizerPath is not null)
            throw Conflict(Parameter.Quantizer, "a quantizer object and a quantizer file cannot both be given.");
        QuantizerSpec spec;
        string? source = null;
        if (Quantizer is not null || QuantizerPath is not null)
        {
            if (building.Length > 0)
                throw Conflict(building[0], $"a complete quantizer ({Parameter.Quantizer}) cannot be combined with parameters that build one ({string.Join(", ", building)}); give one or the other.");
            spec = Quantizer ?? QuantizerFile.Read(QuantizerPath!);
            source = QuantizerPath;
        }
        else
        {
            spec = new QuantizerSpec
            {
                Target = Target ?? DefaultTarget,
                Method = Method ?? DefaultMethod,
                NumBits = NumBits ?? DefaultNumBits,
                Threshold = Threshold,
                MinRange = MinRange,
                MaxRange = MaxRange,
                Signed = Signed,
                PerChannel = PerChannel ?? (GroupSize is not null && (Target ?? DefaultTarget) == QuantizationTarget.Weights),
                ChannelAxis = ChannelAxis,
                GroupSize = GroupSize,
                LutValues = LutValues,
                LutValuesBitwidth = LutValuesBitwidth,
                Eps = Eps,
            };
        }
        // Validated once: a complete spec by creating its quantizer, an incomplete one by the rules that need no values.
        var complete = spec.IsComplete ? InferableQuantizer.Create(spec) : null;
        if (complete is null) spec.Validate();

        var selectionGiven = SelectionParametersGiven().ToArray();
        if (spec.IsComplete)
        {
            if (selectionGiven.Length > 0)
            {
                string why = source is not null || Quantizer is not null ? "the quantizer given is complete"
                    : spec.Method == QuantizationMethod.Uniform ? $"{Parameter.MinRange} and {Parameter.MaxRange} are given" : "its values are given";
                throw new QuantizerValidationException(
                    $"{string.Join(", ", selectionGiven)} choose the threshold, range or table from the data, but {why}; leave them out or leave the values out.",
                    selectionGiven[0], ErrorIds.SelectionOptionNotApplicable);
            }
            return new QuantizerRecipe(spec, null, source, complete);
        }

        var method = ErrorMethod ?? SelectionOptions.DefaultErrorMethod;
        if (P is double p)
        {
            if (method != Selection.ErrorMethod.Lp)
                throw new QuantizerValidationException($"{Parameter.P} is the exponent of {Parameter.ErrorMethod.With(Selection.ErrorMethod.Lp)}; it does not apply to {Parameter.ErrorMethod.With(method)}.", Parameter.P, ErrorIds.ParameterNotApplicable);
            if (!(double.IsFinite(p) && p > 0))
                throw new QuantizerValidationException($"{Parameter.P} must be a finite number greater than 0 but is {QuantizerSpec.FormatValue(p)}.", Parameter.P, ErrorIds.ErrorExponentInvalid);
        }
        if (Percentile is double percentile)
        {
            if (method != Selection.ErrorMethod.Percentile)
                throw new QuantizerValidationException($"{Parameter.Percentile} is the share {Parameter.ErrorMethod.With(Selection.ErrorMethod.Percentile)} covers; it does not apply to {Parameter.ErrorMethod.With(method)}.", Parameter.Percentile, ErrorIds.ParameterNotApplicable);
            ParameterSelector.CheckPercentile(percentile);
        }
        var selection = new SelectionOptions
        {
            ErrorMethod = method, Search = Search ?? SelectionOptions.DefaultSearch, P = P ?? SelectionOptions.DefaultP, Percentile = Percentile ?? SelectionOptions.DefaultPercentile, Calibrate = Calibrate ?? false,
        };
        return new QuantizerRecipe(spec, selection, source);
    }

    /// <summary>The signedness two opposite switches give (the command line's --signed and --unsigned).</summary>
    public static bool? Signedness(bool? signed, bool? unsigned) =>
        signed is not null && unsigned is not null ? throw Conflict(Parameter.Signed, $"{Parameter.Signed} and {Parameter.Unsigned} cannot both be given.")
        : signed ?? !unsigned;

    private static QuantizerValidationException Conflict(Parameter parameter, string message) =>
        new(message, parameter, ErrorIds.OptionConflict);
}
