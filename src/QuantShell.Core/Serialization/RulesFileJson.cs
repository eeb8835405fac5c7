using System.Text.Json.Serialization;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Serialization;

/// <summary>
/// A rules file as written (MODEL-FILES.md, "Rules"): the rules for a model file's tensors and, for an ONNX model, the
/// quantizers of activations by value name. Reading goes through <see cref="Rules.QuantizationRules"/>.
/// </summary>
public sealed class RulesFileJson
{
    public required IReadOnlyList<RuleJson> Rules { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ActivationRuleJson>? Activations { get; init; }
}

/// <summary>One rule: a glob on tensor names (and ranks) and what matching tensors get.</summary>
public sealed class RuleJson
{
    public required string Match { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MinRank { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? MaxRank { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Skip { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public QuantizerSpec? Quantizer { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ErrorMethod? ErrorMethod { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? P { get; init; }
}

/// <summary>One activation: a value of the model's graph and its complete activation quantizer.</summary>
public sealed class ActivationRuleJson
{
    public required string Tensor { get; init; }

    public required QuantizerSpec Quantizer { get; init; }
}
