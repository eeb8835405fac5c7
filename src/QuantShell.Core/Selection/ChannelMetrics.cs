namespace QuantShell.Core.Selection;

/// <summary>How well one channel (or the whole tensor) survives quantization.</summary>
public sealed record ChannelMetrics
{
    /// <summary>Channel index, or null for the whole tensor.</summary>
    public int? Channel { get; init; }
    public long Count { get; init; }
    public double Mse { get; init; }
    public double Mae { get; init; }
    public double MaxError { get; init; }

    /// <summary>Signal-to-quantization-noise ratio in dB (+∞ when lossless, NaN for an all-zero input).</summary>
    public double SqnrDb { get; init; }

    /// <summary>Fraction of values outside the representable range (clamped to its ends).</summary>
    public double ClippedFraction { get; init; }

    /// <summary>Distinct levels (integer grid points, or table entries) the quantized values use, out of <see cref="LevelsAvailable"/>.</summary>
    public int DistinctLevels { get; init; }
    public int LevelsAvailable { get; init; }

    /// <summary>The step between levels; null for the whole tensor of a per-channel quantizer (no single grid).</summary>
    public double? Scale { get; init; }

    /// <summary>The zero point; null for the whole tensor of a per-channel quantizer.</summary>
    public int? ZeroPoint { get; init; }

    /// <summary>The representable range (for the whole tensor of a per-channel quantizer, the union of the channels').</summary>
    public double RangeMin { get; init; }
    public double RangeMax { get; init; }
}
