using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs;

/// <summary>
/// Inputs pooled as calibration batches: each is read once, in order, and its array serves both choosing the quantizer
/// and applying it; an input that cannot be read is reported and left out; the values not given are chosen from the
/// rest, all together.
/// </summary>
internal sealed class CalibrationPool
{
    private CalibrationPool(IReadOnlyList<(JobInput Input, NpyArray Array)> inputs, InferableQuantizer quantizer, SelectionInfo? selection)
    {
        Inputs = inputs;
        Quantizer = quantizer;
        Selection = selection;
    }

    /// <summary>The inputs read, in order, with their values.</summary>
    public IReadOnlyList<(JobInput Input, NpyArray Array)> Inputs { get; }

    /// <summary>The quantizer chosen from all of them.</summary>
    public InferableQuantizer Quantizer { get; }

    /// <summary>How its values were chosen.</summary>
    public SelectionInfo? Selection { get; }

    /// <summary>
    /// Reads <paramref name="inputs"/> and chooses <paramref name="recipe"/>'s values from them. A model file is refused,
    /// naming <paramref name="pooledBy"/> (the parameter that pools: its tensors' values are chosen per tensor instead). Each input
    /// that fails goes to <paramref name="fail"/>; when every one failed there is nothing to choose from and nothing more
    /// to say: null (the errors reported are the request's).
    /// </summary>
    public static CalibrationPool? Read(QuantizerRecipe recipe, IReadOnlyList<JobInput> inputs, Parameter pooledBy,
                                       Action<JobInput, QuantShellException> fail, CancellationToken cancellationToken)
    {
        var readable = new List<(JobInput Input, NpyArray Array)>(inputs.Count);
        foreach (var input in inputs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (input.FullPath is not null && ModelFolder.IsModelFolder(input.FullPath))
                    throw new QuantShellException($"{input.Name}: is a Hugging Face model folder; {pooledBy} pools .npy inputs (a model's tensors each get their own values when it is quantized).",
                        ErrorIds.ParameterNotApplicable, QuantShellErrorKind.InvalidArgument, pooledBy.Name);
                if (input.Kind() is var kind && kind != TensorFileKind.Npy)
                    throw new QuantShellException($"{input.Name}: is {TensorFiles.Describe(kind)}; {pooledBy} pools .npy inputs (a model file's tensors each get their own values when it is quantized).",
                        ErrorIds.ParameterNotApplicable, QuantShellErrorKind.InvalidArgument, pooledBy.Name);
                readable.Add((input, input.ReadArray()));
            }
            catch (QuantShellException ex)
            {
                fail(input, ex);
            }
        }
        if (readable.Count == 0) return null;
        var quantizer = recipe.ResolveFor(readable.Select(r => r.Array).ToList(), string.Join(", ", readable.Select(r => r.Input.Name)));
        return new CalibrationPool(readable, quantizer, recipe.Describe(readable.Count));
    }
}
