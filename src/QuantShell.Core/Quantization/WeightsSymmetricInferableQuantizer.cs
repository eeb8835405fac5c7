namespace QuantShell.Core.Quantization;

/// <summary>Weights, symmetric thresholds; per-tensor or per-channel (MCT's <c>WeightsSymmetricInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.</summary>
public sealed class WeightsSymmetricInferableQuantizer : GridQuantizer
{
    public WeightsSymmetricInferableQuantizer(int numBits, double[] threshold, bool perChannel = false, bool signed = true, int? channelAxis = null)
        : base(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = numBits, Threshold = threshold, PerChannel = perChannel, Signed = signed, ChannelAxis = channelAxis }) { }

    internal WeightsSymmetricInferableQuantizer(QuantizerSpec spec) : base(spec) { }

    internal WeightsSymmetricInferableQuantizer(QuantizerSpec spec, QuantizationParameters parameters) : base(spec, parameters) { }
}
