namespace QuantShell.Core.Quantization;

/// <summary>Activations, one uniform range (MCT's <c>ActivationUniformInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.</summary>
public sealed class ActivationUniformInferableQuantizer : GridQuantizer
{
    public ActivationUniformInferableQuantizer(int numBits, double minRange, double maxRange)
        : this(numBits, new[] { minRange }, new[] { maxRange }) { }

    public ActivationUniformInferableQuantizer(int numBits, double[] minRange, double[] maxRange)
        : base(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = numBits, MinRange = minRange, MaxRange = maxRange }) { }

    internal ActivationUniformInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
