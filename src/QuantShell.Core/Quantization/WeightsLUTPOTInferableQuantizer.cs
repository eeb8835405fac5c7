namespace QuantShell.Core.Quantization;

/// <summary>
/// Weights, a look-up table with power-of-two thresholds; per-tensor or per-channel, always signed (MCT's
/// <c>WeightsLUTPOTInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments.
/// </summary>
public sealed class WeightsLUTPOTInferableQuantizer : LutQuantizer
{
    public WeightsLUTPOTInferableQuantizer(int numBits, double[] lutValues, double[] threshold, bool perChannel = false, int? channelAxis = null,
                                           int? inputRank = null, int lutValuesBitwidth = QuantizerSpec.DefaultLutValuesBitwidth, double eps = QuantizerSpec.DefaultEps)
        : base(new QuantizerSpec
        {
            Target = QuantizationTarget.Weights, Method = QuantizationMethod.LutPot, NumBits = numBits, LutValues = lutValues, Threshold = threshold,
            PerChannel = perChannel, ChannelAxis = channelAxis, InputRank = inputRank, LutValuesBitwidth = lutValuesBitwidth, Eps = eps,
        }) { }

    internal WeightsLUTPOTInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
