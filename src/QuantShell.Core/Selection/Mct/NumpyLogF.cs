namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// The natural logarithm of float32 values as NumPy (1.20 and later, x86-64 with AVX2 and FMA3, or AVX-512F) computes
/// <c>np.log</c> of a float32 array: x = m·2^e with m in [0.5, 1) (m doubled and e lowered when m ≤ √½), then
/// log(1 + (m - 1)) as the ratio of two degree-5 polynomials (NumPy's published minimax coefficients) evaluated with
/// fused multiply-adds, plus e·ln 2 in one more fused multiply-add. It differs from the C library's <c>logf</c> in the
/// last bit for about one value in five, enough to change which candidate of MCT's KL search wins a close call.
/// </summary>
internal static class NumpyLogF
{
    private const float P0 = 0.000000000000000000000e+00f;
    private const float P1 = 9.999999999999998702752e-01f;
    private const float P2 = 2.112677543073053063722e+00f;
    private const float P3 = 1.480000633576506585156e+00f;
    private const float P4 = 3.808837741388407920751e-01f;
    private const float P5 = 2.589979117907922693523e-02f;
    private const float Q0 = 1.000000000000000000000e+00f;
    private const float Q1 = 2.612677543073109236779e+00f;
    private const float Q2 = 2.453006071784736363091e+00f;
    private const float Q3 = 9.864942958519418960339e-01f;
    private const float Q4 = 1.546476374983906719538e-01f;
    private const float Q5 = 5.875095403124574342950e-03f;
    private const float Ln2 = 0.693147180559945309417f;
    private const float SqrtHalf = 0.707106781186547524401f;
    private const float SmallestNormal = 1.17549435e-38f;

    public static float Log(float x)
    {
        if (float.IsNaN(x)) return float.NaN;
        if (x < 0) return -float.NaN;
        if (x == 0) return float.NegativeInfinity;
        if (float.IsPositiveInfinity(x)) return float.PositiveInfinity;

        // Denormals are scaled by 2^100 first so that their exponent and mantissa can be read from the bits.
        float exponent;
        uint bits;
        if (x < SmallestNormal)
        {
            bits = BitConverter.SingleToUInt32Bits(x * BitConverter.UInt32BitsToSingle(0x71800000));
            exponent = (int)(bits >> 23) - 126 - 100f;
        }
        else
        {
            bits = BitConverter.SingleToUInt32Bits(x);
            exponent = (int)(bits >> 23) - 126;
        }
        float m = BitConverter.UInt32BitsToSingle((bits & 0x7fffff) | (126u << 23));
        if (m <= SqrtHalf)
        {
            m += m;
            exponent -= 1f;
        }
        m -= 1f;
        float numerator = MathF.FusedMultiplyAdd(P5, m, P4);
        numerator = MathF.FusedMultiplyAdd(numerator, m, P3);
        numerator = MathF.FusedMultiplyAdd(numerator, m, P2);
        numerator = MathF.FusedMultiplyAdd(numerator, m, P1);
        numerator = MathF.FusedMultiplyAdd(numerator, m, P0);
        float denominator = MathF.FusedMultiplyAdd(Q5, m, Q4);
        denominator = MathF.FusedMultiplyAdd(denominator, m, Q3);
        denominator = MathF.FusedMultiplyAdd(denominator, m, Q2);
        denominator = MathF.FusedMultiplyAdd(denominator, m, Q1);
        denominator = MathF.FusedMultiplyAdd(denominator, m, Q0);
        return MathF.FusedMultiplyAdd(exponent, Ln2, numerator / denominator);
    }
}
