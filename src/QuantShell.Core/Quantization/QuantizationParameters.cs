namespace QuantShell.Core.Quantization;

/// <summary>
/// The integer grid a quantizer applies: one (scale, zero point) per tensor or per channel, and the integer range.
/// Scales are float32, as PyTorch's fake-quantize kernels use them.
/// </summary>
public sealed class QuantizationParameters
{
    internal QuantizationParameters(float[] scales, int[] zeroPoints, int quantMin, int quantMax)
    {
        Scales = scales;
        ZeroPoints = zeroPoints;
        QuantMin = quantMin;
        QuantMax = quantMax;
    }

    /// <summary>The grid of a POT, symmetric or uniform spec (docs/semantics.md), one entry per value given.</summary>
    internal static QuantizationParameters For(QuantizerSpec spec)
    {
        int count = spec.ValueCount;
        var scales = new float[count];
        var zeroPoints = new int[count];
        if (spec.Method == QuantizationMethod.Uniform)
        {
            for (int c = 0; c < count; c++)
            {
                var (min, max) = RangeMath.AdjustUniformRange((float)spec.MinRange![c], (float)spec.MaxRange![c], spec.NumBits);
                (scales[c], zeroPoints[c]) = spec.Target == QuantizationTarget.Weights
                    ? RangeMath.UniformWeightsGrid(min, max, spec.NumBits)
                    : RangeMath.UniformActivationGrid(min, max, spec.NumBits);
            }
            return new QuantizationParameters(scales, zeroPoints, 0, (1 << spec.NumBits) - 1);
        }
        // An array read as one (a weight's groups can be a million values; each through the list interface costs a call).
        if (spec.Threshold is double[] thresholds)
        {
            for (int c = 0; c < count; c++) scales[c] = RangeMath.SymmetricScale(thresholds[c], spec.NumBits, spec.IsSigned);
        }
        else
        {
            for (int c = 0; c < count; c++) scales[c] = RangeMath.SymmetricScale(spec.Threshold![c], spec.NumBits, spec.IsSigned);
        }
        var (qmin, qmax) = RangeMath.SymmetricRange(spec.NumBits, spec.IsSigned);
        return new QuantizationParameters(scales, zeroPoints, qmin, qmax);
    }

    public IReadOnlyList<float> Scales { get; }
    public IReadOnlyList<int> ZeroPoints { get; }
    public int QuantMin { get; }
    public int QuantMax { get; }
    public int Count => Scales.Count;

    /// <summary>
    /// "scale 0.0078125, zero point 0, codes -128..127", or per channel "3 scales 0.0039..0.0156, zero points 0..0, codes
    /// -8..7": how PowerShell shows the grid inside a quantizer (it showed the type's name).
    /// </summary>
    public override string ToString()
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        string codes = string.Create(culture, $"codes {QuantMin}..{QuantMax}");
        return Count == 1
            ? string.Create(culture, $"scale {Scales[0]}, zero point {ZeroPoints[0]}, {codes}")
            : string.Create(culture, $"{Count} scales {Scales.Min()}..{Scales.Max()}, zero points {ZeroPoints.Min()}..{ZeroPoints.Max()}, {codes}");
    }
}
