namespace QuantShell.Core.Quantization;

/// <summary>
/// Weights, a look-up table with symmetric thresholds; per-tensor or per-channel, always signed (MCT's
/// <c>WeightsLUTSymmetricInferableQuantizer</c>). Constructor parameters mirror MCT's keyword arguments; where MCT requires
/// <c>channel_axis</c> and <c>input_rank</c> per channel, the axis defaults to the last one and the rank is checked only when given.
/// </summary>
public sealed class WeightsLUTSymmetricInferableQuantizer : LutQuantizer
{
    public WeightsLUTSymmetricInferableQuantizer(int numBits, double[] lutValues, double[] threshold, bool perChannel = false, int? channelAxis = null,
                                                 int? inputRank = null, int lutValuesBitwidth = QuantizerSpec.DefaultLutValuesBitwidth, double eps = QuantizerSpec.DefaultEps)
        : base(new QuantizerSpec
        {
            Target = QuantizationTarget.Weights, Method = QuantizationMethod.LutSymmetric, NumBits = numBits, LutValues = lutValues, Threshold = threshold,
            PerChannel = perChannel, ChannelAxis = channelAxis, InputRank = inputRank, LutValuesBitwidth = lutValuesBitwidth, Eps = eps,
        }) { }

    internal WeightsLUTSymmetricInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
