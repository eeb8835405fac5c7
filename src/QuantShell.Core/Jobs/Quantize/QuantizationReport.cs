using System.Text.Json.Serialization;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// What quantizing one input reports: an .npy file's <see cref="QuantizationResult"/> (one tensor), or a model file's
/// <see cref="ModelQuantizationSummary"/> (its tensors' results inside). Serialized, the <c>--json</c> lines of
/// <c>dotnet quant quantize</c> say which with <c>"kind"</c>: <c>"tensor"</c> or <c>"model"</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(QuantizationResult), "tensor")]
[JsonDerivedType(typeof(ModelQuantizationSummary), "model")]
public abstract record QuantizationReport
{
    /// <summary>The result of every tensor this report covers, in the file's order (activations last).</summary>
    public abstract IReadOnlyList<QuantizationResult> TensorResults();
}
