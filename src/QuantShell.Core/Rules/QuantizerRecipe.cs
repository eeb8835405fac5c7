using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Rules;

/// <summary>
/// The quantizer checked (from <see cref="QuantizerArguments.Check"/>): a spec, complete or with values to choose from
/// the data, and how to choose them. The one place where data turns a recipe into a quantizer (<see cref="ResolveFor"/>).
/// </summary>
public sealed class QuantizerRecipe
{
    private InferableQuantizer? _complete;

    internal QuantizerRecipe(QuantizerSpec spec, SelectionOptions? selection, string? source, InferableQuantizer? complete = null)
    {
        Spec = spec;
        Selection = selection;
        Source = source;
        _complete = complete;
    }

    /// <summary>Creates a recipe for a spec that is complete, or whose missing values are chosen as <paramref name="selection"/> says.</summary>
    public static QuantizerRecipe For(QuantizerSpec spec, SelectionOptions? selection = null)
    {
        spec.Validate();
        return new QuantizerRecipe(spec, spec.IsComplete ? null : selection ?? new SelectionOptions(), null);
    }

    /// <summary>The spec; its threshold, range or table may be missing (see <see cref="ChoosesFromData"/>).</summary>
    public QuantizerSpec Spec { get; }

    /// <summary>How missing values are chosen; null when the spec is complete.</summary>
    public SelectionOptions? Selection { get; }

    /// <summary>The quantizer file the spec came from, if any.</summary>
    public string? Source { get; }

    public bool ChoosesFromData => Selection is not null;

    /// <summary>One quantizer for all inputs, chosen from all of them pooled.</summary>
    public bool Calibrates => Selection?.Calibrate == true;

    /// <summary>The quantizer of a complete recipe (created once).</summary>
    public InferableQuantizer Complete =>
        _complete ??= ChoosesFromData ? throw new InvalidOperationException("The recipe chooses its values from data.") : InferableQuantizer.Create(Spec);

    /// <summary>
    /// The quantizer for <paramref name="arrays"/> (pooled when several): the complete one, or one whose missing values are
    /// chosen from them. <paramref name="sourceName"/> names the data in errors.
    /// </summary>
    public InferableQuantizer ResolveFor(IReadOnlyList<NpyArray> arrays, string sourceName)
    {
        if (!ChoosesFromData) return Complete;
        try
        {
            return InferableQuantizer.Create(ParameterSelector.Select(Spec, arrays, Selection));
        }
        catch (QuantShellException ex) when (ex is QuantizerValidationException || ex.Target is null)
        {
            throw ex.WithSource(sourceName);
        }
    }

    /// <summary>
    /// The quantizer for a tensor of <paramref name="shape"/> whose channels along <paramref name="axis"/> were read into
    /// <paramref name="channels"/> (a per-channel weights recipe): the same as <see cref="ResolveFor"/> of the whole array.
    /// </summary>
    internal InferableQuantizer ResolveForChannels<T>(T[][] channels, int axis, IReadOnlyList<long> shape, string sourceName)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
    {
        if (!ChoosesFromData) return Complete;
        try
        {
            return InferableQuantizer.Create(ParameterSelector.SelectWeightChannels(Spec, channels, axis, shape, Selection!));
        }
        catch (QuantShellException ex) when (ex is QuantizerValidationException || ex.Target is null)
        {
            throw ex.WithSource(sourceName);
        }
    }

    /// <summary>
    /// The axis a per-channel weights recipe (not group-wise) chooses its values along in a C-order tensor of
    /// <paramref name="shape"/>, where each channel is one run of the data (every axis before it has length 1) that one
    /// array holds: the channels can then be read straight into their own arrays for <see cref="ResolveForChannels"/>,
    /// never the whole tensor as well. Null otherwise, and for an axis out of range (the whole tensor's path then gives
    /// the error, naming the data).
    /// </summary>
    internal int? ChannelRunAxis(IReadOnlyList<long> shape)
    {
        if (Spec is not { Target: QuantizationTarget.Weights, PerChannel: true, GroupSize: null } || shape.Count == 0) return null;
        int axis;
        try
        {
            axis = Spec.ResolveSelectionAxis(shape);
        }
        catch (QuantShellException)
        {
            return null;
        }
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        if (elements == 0 || shape.Take(axis).Any(d => d != 1) || elements / shape[axis] > Array.MaxLength) return null;
        return axis;
    }

    /// <summary>
    /// Whether the values are chosen from the data by MCT's no-clipping rule for a per-channel POT, symmetric or uniform
    /// weights quantizer: each channel's value a function of its minimum and maximum
    /// (<see cref="ParameterSelector.SelectNoClipping{T}"/>).
    /// </summary>
    internal bool ChoosesFromExtremes =>
        Selection is { ErrorMethod: ErrorMethod.NoClipping, Search: SelectionSearch.Mct }
        && Spec is { Target: QuantizationTarget.Weights, PerChannel: true, IsLut: false };

    /// <summary>How the values were chosen, for results: null for a complete quantizer.</summary>
    public SelectionInfo? Describe(int inputCount) => Selection is null ? null : new SelectionInfo
    {
        ErrorMethod = Selection.ErrorMethod,
        Search = Selection.Search,
        P = Selection.ErrorMethod == ErrorMethod.Lp ? Selection.P : null,
        Percentile = Selection.ErrorMethod == ErrorMethod.Percentile ? Selection.Percentile : null,
        Calibrated = Selection.Calibrate,
        InputCount = Selection.Calibrate ? inputCount : 1,
    };
}
