using QuantShell.Core.Jobs;

namespace QuantShell.Core.Processing;

/// <summary>What a job does with one tensor of a model file: quantize it with a (possibly data-chosen) quantizer, or copy it.</summary>
internal sealed record TensorDecision(QuantizerRequest? Quantizer, string? SkipReason)
{
    public static TensorDecision Skip(string reason) => new(null, reason);

    public static TensorDecision Quantize(QuantizerRequest quantizer) => new(quantizer, null);
}
