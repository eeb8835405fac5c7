namespace QuantShell.Core.Quantization;

/// <summary>Weights, power-of-two thresholds; per-tensor or per-channel (MCT's <c>WeightsPOTInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.</summary>
public sealed class WeightsPOTInferableQuantizer : GridQuantizer
{
    public WeightsPOTInferableQuantizer(int numBits, double[] threshold, bool perChannel = false, bool signed = true, int? channelAxis = null)
        : base(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = numBits, Threshold = threshold, PerChannel = perChannel, Signed = signed, ChannelAxis = channelAxis }) { }

    internal WeightsPOTInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
