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

    /// <summary>The integer grid: scales, zero points and the integer range.</summary>
    public QuantizationParameters Parameters { get; }

    public override QuantizationPlan CreatePlan(IReadOnlyList<long> shape) => GridPlan.Create(Spec, Parameters, shape);
}
