namespace QuantShell.Core.Quantization;

/// <summary>Activations, one symmetric threshold (MCT's <c>ActivationSymmetricInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.</summary>
public sealed class ActivationSymmetricInferableQuantizer : GridQuantizer
{
    public ActivationSymmetricInferableQuantizer(int numBits, double threshold, bool signed = true)
        : this(numBits, new[] { threshold }, signed) { }

    public ActivationSymmetricInferableQuantizer(int numBits, double[] threshold, bool signed = true)
        : base(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Symmetric, NumBits = numBits, Threshold = threshold, Signed = signed }) { }

    internal ActivationSymmetricInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
