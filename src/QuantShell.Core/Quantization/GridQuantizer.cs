using QuantShell.Core.Kernels;

namespace QuantShell.Core.Quantization;

/// <summary>
/// The six quantizers on an integer grid (POT, symmetric, uniform; weights and activations): one (scale, zero point)
/// per tensor or per channel, applied with PyTorch's CPU fake-quantize arithmetic.
/// </summary>
public abstract class GridQuantizer : InferableQuantizer
{
    private protected GridQuantizer(QuantizerSpec spec) : base(spec)
    {
        Parameters = QuantizationParameters.For(spec);
    }

    /// <summary>With the grid already computed (by <see cref="QuantizationParameters.For"/>'s arithmetic) alongside the values chosen.</summary>
    private protected GridQuantizer(QuantizerSpec spec, QuantizationParameters parameters) : base(spec)
    {
        if (parameters.Count != spec.ValueCount) throw new ArgumentException("One scale per value of the spec.", nameof(parameters));
        Parameters = parameters;
    }

    /// <summary>The integer grid: scales, zero points and the integer range.</summary>
    public QuantizationParameters Parameters { get; }

    public override QuantizationPlan CreatePlan(IReadOnlyList<long> shape) => GridPlan.Create(Spec, Parameters, shape);
}
