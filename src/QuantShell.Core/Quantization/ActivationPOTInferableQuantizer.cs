namespace QuantShell.Core.Quantization;

/// <summary>Activations, one power-of-two threshold (MCT's <c>ActivationPOTInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.</summary>
public sealed class ActivationPOTInferableQuantizer : GridQuantizer
{
    public ActivationPOTInferableQuantizer(int numBits, double threshold, bool signed = true)
        : this(numBits, new[] { threshold }, signed) { }

    public ActivationPOTInferableQuantizer(int numBits, double[] threshold, bool signed = true)
        : base(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Pot, NumBits = numBits, Threshold = threshold, Signed = signed }) { }

    internal ActivationPOTInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
