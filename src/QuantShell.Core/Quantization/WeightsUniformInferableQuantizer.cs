namespace QuantShell.Core.Quantization;

/// <summary>Weights, uniform (asymmetric) ranges; per-tensor or per-channel (MCT's <c>WeightsUniformInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.</summary>
public sealed class WeightsUniformInferableQuantizer : GridQuantizer
{
    public WeightsUniformInferableQuantizer(int numBits, double[] minRange, double[] maxRange, bool perChannel = false, int? channelAxis = null)
        : base(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Uniform, NumBits = numBits, MinRange = minRange, MaxRange = maxRange, PerChannel = perChannel, ChannelAxis = channelAxis }) { }

    internal WeightsUniformInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
