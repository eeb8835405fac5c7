namespace QuantShell.Core.Quantization;

/// <summary>The grid arithmetic of docs/semantics.md (scales, zero points, ranges), kept in one place for the six grid quantizers.</summary>
public static class RangeMath
{
    /// <summary>Integer range of a symmetric/POT quantizer: signed [-2^(n-1), 2^(n-1)-1], unsigned [0, 2^n-1].</summary>
    public static (int QuantMin, int QuantMax) SymmetricRange(int numBits, bool signed) =>
        signed ? (-(1 << (numBits - 1)), (1 << (numBits - 1)) - 1) : (0, (1 << numBits) - 1);

    /// <summary>s = t / 2^(n-1) (signed) or t / 2^n (unsigned), in float64, stored as float32.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static float SymmetricScale(double threshold, int numBits, bool signed) =>
        (float)(threshold / Math.ScaleB(1.0, signed ? numBits - 1 : numBits)); // 2^k, exactly as Math.Pow gives it

    /// <summary>
    /// Moves a range so that 0.0 lies exactly on its grid, in float32 arithmetic: [0, max] when min &gt; 0,
    /// [min, 0] when max &lt; 0, else min' = d * round(min / d) and max' = max - min + min' with d = (max - min) / (2^n - 1).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static (float Min, float Max) AdjustUniformRange(float min, float max, int numBits)
    {
        if (min > 0f) return (0f, max);
        if (max < 0f) return (min, 0f);
        float levels = (1 << numBits) - 1;
        float step = (max - min) / levels;
        float adjustedMin = step * MathF.Round(min / step, MidpointRounding.ToEven);
        float adjustedMax = max - min + adjustedMin;
        return (adjustedMin, adjustedMax);
    }

    /// <summary>Weights: s = (max' - min') / (2^n - 1) in float32; z = -trunc(min' / s) in float32.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static (float Scale, int ZeroPoint) UniformWeightsGrid(float adjustedMin, float adjustedMax, int numBits)
    {
        float levels = (1 << numBits) - 1;
        float scale = (adjustedMax - adjustedMin) / levels;
        int zeroPoint = (int)-MathF.Truncate(adjustedMin / scale);
        return (scale, zeroPoint);
    }

    /// <summary>Activations: the adjusted range widened to float64; s and z = -round(min' / s) in float64; s used as float32.</summary>
    public static (float Scale, int ZeroPoint) UniformActivationGrid(float adjustedMin, float adjustedMax, int numBits)
    {
        double levels = (1 << numBits) - 1;
        double scale = ((double)adjustedMax - adjustedMin) / levels;
        int zeroPoint = (int)-Math.Round(adjustedMin / scale, MidpointRounding.ToEven);
        return ((float)scale, zeroPoint);
    }
}
