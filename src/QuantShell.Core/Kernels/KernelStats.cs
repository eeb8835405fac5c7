namespace QuantShell.Core.Kernels;

/// <summary>What one pass of the fake-quantize kernel saw: non-finite inputs and the error of the finite ones.</summary>
public struct KernelStats
{
    /// <summary>Elements that are NaN or ±infinity (they are excluded from the sums below).</summary>
    public long NonFinite;

    /// <summary>Finite elements seen.</summary>
    public long Finite;

    /// <summary>Sum over finite elements of (x - y)^2, in float64.</summary>
    public double SumSquaredError;

    /// <summary>Sum over finite elements of x^2, in float64.</summary>
    public double SumSquaredSignal;

    public readonly double MeanSquaredError => Finite == 0 ? 0 : SumSquaredError / Finite;

    /// <summary>Signal-to-quantization-noise ratio in dB; +∞ when the quantization is lossless, NaN for an all-zero or empty input.</summary>
    public readonly double SqnrDecibels =>
        SumSquaredError == 0 ? (SumSquaredSignal == 0 ? double.NaN : double.PositiveInfinity)
                             : 10 * Math.Log10(SumSquaredSignal / SumSquaredError);
}
