using QuantShell.Core.Errors;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Quantization;

/// <summary>
/// For formats that store scales in the weight's own dtype (compressed-tensors keeps a bfloat16 weight's scales in
/// bfloat16): only scales that dtype holds exactly may be written, so that dequantizing the file gives the values the
/// quantizer gives. Values chosen from the data are moved to the nearest such scale (a POT scale already is one); values
/// given are refused when their scale is not one, with the nearest value that works. docs/model-folders.md, "Exactness".
/// </summary>
public static class ExactScales
{
    /// <summary>True when <paramref name="dtype"/> holds the float32 <paramref name="scale"/> exactly.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool Holds(DType dtype, float scale) => Nearest(dtype, scale) == scale;

    /// <summary>The value of <paramref name="dtype"/> nearest to <paramref name="scale"/> (ties to even), as float32.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static float Nearest(DType dtype, float scale) => dtype.Kind switch
    {
        DTypeKind.BFloat => BitConverter.UInt32BitsToSingle((uint)ElementConverter.ToBFloat16(scale) << 16),
        DTypeKind.Float when dtype.ItemSize == 2 => (float)(Half)scale,
        _ => scale,
    };

    /// <summary>
    /// <paramref name="spec"/> (complete; POT, symmetric or uniform) with every scale a value of <paramref name="dtype"/>:
    /// unchanged when they all are; with its values moved when they were <paramref name="chosen"/> from the data; else an
    /// error naming <paramref name="source"/>, the value and the one to give instead.
    /// </summary>
    public static QuantizerSpec For(QuantizerSpec spec, DType dtype, bool chosen, string source)
    {
        if (dtype.Kind != DTypeKind.BFloat && !(dtype.Kind == DTypeKind.Float && dtype.ItemSize == 2)) return spec;
        var parameters = QuantizationParameters.For(spec);
        if (parameters.Scales.All(s => Holds(dtype, s))) return spec;
        int n = spec.NumBits;
        if (spec.Method == QuantizationMethod.Uniform)
        {
            var min = spec.MinRange!.ToArray();
            var max = spec.MaxRange!.ToArray();
            for (int c = 0; c < min.Length; c++)
            {
                float s = parameters.Scales[c];
                if (Holds(dtype, s)) continue;
                float exact = Nearest(dtype, s);
                int z = parameters.ZeroPoints[c];
                // The range whose grid (MCT's arithmetic) has exactly this scale and the same zero point.
                float low = z == 0 ? 0f : -z * exact, high = ((1 << n) - 1 - z) * exact;
                if (!(exact > 0) || !float.IsFinite(exact) || !(low < high))
                    throw NotExact(source, dtype, $"MinRange{Index(c, min.Length)}/MaxRange{Index(c, min.Length)} give the scale {QuantizerSpec.FormatValue(s)}, and {dtype.Name} has no usable value near it", spec);
                if (!chosen)
                    throw NotExact(source, dtype, $"MinRange{Index(c, min.Length)}/MaxRange{Index(c, min.Length)} ({QuantizerSpec.FormatValue(min[c])}, {QuantizerSpec.FormatValue(max[c])}) give the scale {QuantizerSpec.FormatValue(s)}, which {dtype.Name} cannot hold; give ({QuantizerSpec.FormatValue(low)}, {QuantizerSpec.FormatValue(high)}) instead", spec);
                min[c] = low;
                max[c] = high;
            }
            var moved = spec with { MinRange = min, MaxRange = max };
            Check(moved, dtype, source);
            return moved;
        }
        var thresholds = spec.Threshold!.ToArray();
        double levels = spec.IsSigned ? Math.Pow(2, n - 1) : Math.Pow(2, n);
        for (int c = 0; c < thresholds.Length; c++)
        {
            float s = parameters.Scales[c];
            if (Holds(dtype, s)) continue;
            float exact = Nearest(dtype, s);
            double threshold = exact * levels;
            if (!(exact > 0) || !float.IsFinite(exact) || spec.Method == QuantizationMethod.Pot)
                throw NotExact(source, dtype, $"Threshold{Index(c, thresholds.Length)} {QuantizerSpec.FormatValue(thresholds[c])} gives the scale {QuantizerSpec.FormatValue(s)}, beyond what {dtype.Name} holds", spec);
            if (!chosen)
                throw NotExact(source, dtype, $"Threshold{Index(c, thresholds.Length)} {QuantizerSpec.FormatValue(thresholds[c])} gives the scale {QuantizerSpec.FormatValue(s)}, which {dtype.Name} cannot hold; give {QuantizerSpec.FormatValue(threshold)} instead", spec);
            thresholds[c] = threshold;
        }
        var result = spec with { Threshold = thresholds };
        Check(result, dtype, source);
        return result;
    }

    private static void Check(QuantizerSpec spec, DType dtype, string source)
    {
        spec.ValidateComplete();
        if (!QuantizationParameters.For(spec).Scales.All(s => Holds(dtype, s)))
            throw NotExact(source, dtype, "no scale near the chosen one survives MCT's grid arithmetic", spec);
    }

    private static string Index(int c, int count) => count > 1 ? $"[{c}]" : "";

    private static QuantShellException NotExact(string source, DType dtype, string problem, QuantizerSpec spec) =>
        new($"{source}: {problem} (the format stores a {dtype.Name} weight's scales as {dtype.Name}, and writes only scales it holds exactly).",
            ErrorIds.ScaleNotExactInDType, QuantShellErrorKind.InvalidArgument, spec.Method == QuantizationMethod.Uniform ? "MinRange" : "Threshold");
}
