using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>In which precision MCT's NumPy code computes a quantization grid's parameters from a threshold or range.</summary>
internal enum ParameterPrecision
{
    /// <summary>float64 scalars or arrays (candidates from <c>np.linspace</c>, products with float64 factors).</summary>
    Double,

    /// <summary>float32 arrays (per-channel maxima and the powers of two made from them): every step in float32.</summary>
    SingleArray,

    /// <summary>float32 scalars: NumPy takes their difference in float32 but divides it by a Python int in float64.</summary>
    SingleScalar,
}

/// <summary>
/// One grid of MCT's selection arithmetic (<c>quantizers_helpers.uniform_quantize_tensor</c>): the range moved so 0 is
/// on the grid (<c>fix_range_to_include_zero</c>), the step <c>(b - a) / (2^n - 1)</c>, and
/// <c>q = step · round((clip(x, a, b) - a) / step) + a</c>. A threshold t gives the range (-t·signed, t - t/2^(n - signed)).
/// The parameters are computed in the precision NumPy would use (<see cref="ParameterPrecision"/>); values are quantized
/// in float32 when <see cref="Single"/> (the parameters rounded to float32 first, as NumPy casts a float64 scalar for a
/// float32 array) and in float64 otherwise. This is MCT's search arithmetic, not the inferable quantizers' kernel.
/// </summary>
internal readonly struct MctGrid
{
    private MctGrid(double low, double high, double step, bool single)
    {
        Low = low;
        High = high;
        Step = step;
        Single = single;
    }

    public double Low { get; }
    public double High { get; }
    public double Step { get; }

    /// <summary>Quantize in float32 (else float64).</summary>
    public bool Single { get; }

    public static MctGrid FromThreshold(double threshold, int numBits, bool signed, ParameterPrecision precision, bool single)
    {
        if (precision == ParameterPrecision.Double)
        {
            double delta = threshold / Math.ScaleB(1.0, numBits - (signed ? 1 : 0));
            return FromRange(-threshold * (signed ? 1 : 0), threshold - delta, numBits, precision, single);
        }
        float t = (float)threshold;
        float step = t / MathF.ScaleB(1f, numBits - (signed ? 1 : 0));
        return FromRange(-t * (signed ? 1 : 0), t - step, numBits, precision, single);
    }

    public static MctGrid FromRange(double rangeMin, double rangeMax, int numBits, ParameterPrecision precision, bool single)
    {
        double levels = Math.ScaleB(1.0, numBits) - 1;
        bool minPositive = rangeMin > 0, maxNegative = rangeMax < 0, mid = !minPositive && !maxNegative;
        double low, high;
        switch (precision)
        {
            case ParameterPrecision.SingleArray:
            {
                float min = (float)rangeMin, max = (float)rangeMax;
                float scale = (max - min) / (float)levels;
                float minAdjusted = scale * MathF.Round(min / scale);
                float maxAdjusted = max - min + minAdjusted;
                float lowF = minAdjusted * Flag(mid) + Flag(maxNegative) * min;
                float highF = maxAdjusted * Flag(mid) + Flag(minPositive) * max;
                float stepF = (highF - lowF) / (float)levels;
                return new MctGrid(lowF, highF, stepF, single);
            }
            case ParameterPrecision.SingleScalar:
            {
                float min = (float)rangeMin, max = (float)rangeMax;
                double width = max - min;
                double scale = width / levels;
                double minAdjusted = scale * Math.Round(min / scale);
                double maxAdjusted = width + minAdjusted;
                low = minAdjusted * Flag(mid) + Flag(maxNegative) * (double)min;
                high = maxAdjusted * Flag(mid) + Flag(minPositive) * (double)max;
                break;
            }
            default:
            {
                double scale = (rangeMax - rangeMin) / levels;
                double minAdjusted = scale * Math.Round(rangeMin / scale);
                double maxAdjusted = rangeMax - rangeMin + minAdjusted;
                low = minAdjusted * Flag(mid) + Flag(maxNegative) * rangeMin;
                high = maxAdjusted * Flag(mid) + Flag(minPositive) * rangeMax;
                break;
            }
        }
        return new MctGrid(low, high, (high - low) / levels, single);
    }

    private static float Flag(bool value) => value ? 1f : 0f;

    public double Quantize(double x) => Single ? Quantize((float)x) : QuantizeDouble(x);

    public float Quantize(float x)
    {
        float a = (float)Low, b = (float)High, step = (float)Step;
        float clipped = float.IsNaN(x) ? x : x > a ? x : a;
        clipped = float.IsNaN(clipped) ? clipped : clipped < b ? clipped : b;
        return step * MathF.Round((clipped - a) / step) + a;
    }

    private double QuantizeDouble(double x)
    {
        double clipped = double.IsNaN(x) ? x : x > Low ? x : Low;
        clipped = double.IsNaN(clipped) ? clipped : clipped < High ? clipped : High;
        return Step * Math.Round((clipped - Low) / Step) + Low;
    }

    /// <summary>Quantizes every value (in float32 or float64 as <see cref="Single"/> says) into <paramref name="output"/> as float64.</summary>
    public void Quantize<T>(ReadOnlySpan<T> values, Span<double> output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Single)
        {
            for (int i = 0; i < values.Length; i++) output[i] = Quantize(float.CreateTruncating(values[i]));
        }
        else
        {
            for (int i = 0; i < values.Length; i++) output[i] = QuantizeDouble(double.CreateTruncating(values[i]));
        }
    }
}
