namespace QuantShell.Core.Rules;

/// <summary>
/// What a job does with one tensor of a model file: quantize it by a recipe (its values possibly chosen from the tensor),
/// or copy it, saying why (<see cref="SkipReason"/>, about this tensor) and under which heading a summary counts it
/// (<see cref="SkipCategory"/>, the same for every tensor skipped for that reason).
/// </summary>
internal sealed record TensorDecision(QuantizerRecipe? Recipe, string? SkipReason, string? SkipCategory = null)
{
    public static TensorDecision Skip(string reason, string category) => new(null, reason, category);

    public static TensorDecision Quantize(QuantizerRecipe recipe) => new(recipe, null);
}
