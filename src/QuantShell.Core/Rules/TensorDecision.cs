namespace QuantShell.Core.Rules;

/// <summary>What a job does with one tensor of a model file: quantize it by a recipe (its values possibly chosen from the tensor), or copy it.</summary>
internal sealed record TensorDecision(QuantizerRecipe? Recipe, string? SkipReason)
{
    public static TensorDecision Skip(string reason) => new(null, reason);

    public static TensorDecision Quantize(QuantizerRecipe recipe) => new(recipe, null);
}
