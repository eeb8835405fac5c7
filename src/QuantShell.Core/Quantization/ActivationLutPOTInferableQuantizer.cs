namespace QuantShell.Core.Quantization;

/// <summary>
/// Activations, a look-up table with one power-of-two threshold, signed or unsigned (MCT's
/// <c>ActivationLutPOTInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.
/// </summary>
public sealed class ActivationLutPOTInferableQuantizer : LutQuantizer
{
    public ActivationLutPOTInferableQuantizer(int numBits, double[] lutValues, double threshold, bool signed,
                                              int lutValuesBitwidth = QuantizerSpec.DefaultLutValuesBitwidth, double eps = QuantizerSpec.DefaultEps)
        : this(numBits, lutValues, new[] { threshold }, signed, lutValuesBitwidth, eps) { }

    public ActivationLutPOTInferableQuantizer(int numBits, double[] lutValues, double[] threshold, bool signed,
                                              int lutValuesBitwidth = QuantizerSpec.DefaultLutValuesBitwidth, double eps = QuantizerSpec.DefaultEps)
        : base(new QuantizerSpec
        {
            Target = QuantizationTarget.Activation, Method = QuantizationMethod.LutPot, NumBits = numBits, LutValues = lutValues, Threshold = threshold,
            Signed = signed, LutValuesBitwidth = lutValuesBitwidth, Eps = eps,
        }) { }

    internal ActivationLutPOTInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
