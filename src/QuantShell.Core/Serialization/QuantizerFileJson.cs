using System.Text.Json.Serialization;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Serialization;

/// <summary>
/// The quantizer file as written (docs/semantics.md, "The quantizer file"): camelCase names, values that do not apply to the
/// method left out. Reading goes through <see cref="QuantizerFile"/>, which also accepts MCT's snake_case names.
/// </summary>
public sealed class QuantizerFileJson
{
    public required QuantizationTarget Target { get; init; }
    public required QuantizationMethod Method { get; init; }
    public required int NumBits { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? Threshold { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? MinRange { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? MaxRange { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Signed { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? PerChannel { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ChannelAxis { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? GroupSize { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? LutValues { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? LutValuesBitwidth { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? Eps { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? InputRank { get; init; }

    /// <summary>
    /// The written form of a spec: signedness for the methods that have one, per-channel and its effective axis for
    /// weights, the LUT's bit width and eps for LUT methods (defaults written out), values still to be chosen left out.
    /// </summary>
    public static QuantizerFileJson From(QuantizerSpec spec) => new()
    {
        Target = spec.Target,
        Method = spec.Method,
        NumBits = spec.NumBits,
        Threshold = spec.ThresholdOfMethod,
        MinRange = spec.MinRangeOfMethod,
        MaxRange = spec.MaxRangeOfMethod,
        Signed = spec.SignedOfMethod,
        PerChannel = spec.Target == QuantizationTarget.Weights ? spec.PerChannel : null,
        ChannelAxis = spec.PerChannel ? spec.ChannelAxis : null,
        GroupSize = spec.GroupSize,
        LutValues = spec.LutValuesOfMethod,
        LutValuesBitwidth = spec.IsLut ? spec.EffectiveLutValuesBitwidth : null,
        Eps = spec.IsLut ? spec.EffectiveEps : null,
        InputRank = spec.IsLut ? spec.InputRank : null,
    };
}
