using QuantShell.Core.Quantization;

namespace QuantShell.Core.Processing;

/// <summary>What quantizing one file did: the shared result of the cmdlets and the CLI.</summary>
public sealed record QuantizationResult
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }
    public required long[] Shape { get; init; }

    /// <summary>The input's dtype name (float32, int16, ...).</summary>
    public required string DType { get; init; }

    /// <summary>The output's dtype name (float16, float32 or float64).</summary>
    public required string OutputDType { get; init; }
    public required bool FortranOrder { get; init; }
    public required QuantizationTarget Target { get; init; }
    public required QuantizationMethod Method { get; init; }
    public required int NumBits { get; init; }
    public required bool PerChannel { get; init; }

    /// <summary>The resolved channel axis for per-channel quantizers, else null.</summary>
    public int? ChannelAxis { get; init; }
    public required float[] Scale { get; init; }
    public required int[] ZeroPoint { get; init; }
    public required int QuantMin { get; init; }
    public required int QuantMax { get; init; }
    public required long ElementCount { get; init; }

    /// <summary>NaN/±inf inputs (only non-zero with AllowNonFinite).</summary>
    public required long NonFiniteCount { get; init; }

    /// <summary>Mean squared error between input and output over finite elements.</summary>
    public required double Mse { get; init; }

    /// <summary>Signal-to-quantization-noise ratio in dB (+∞ when lossless).</summary>
    public required double SqnrDb { get; init; }
    public required QuantizerSpec Quantizer { get; init; }
    public required TimeSpan Elapsed { get; init; }

    public string ShapeText => IO.NpyHeader.FormatShape(Shape);

    /// <summary>The thresholds applied (POT, symmetric), given or chosen from the data; null for uniform.</summary>
    public IReadOnlyList<double>? Threshold => Quantizer.Threshold;

    /// <summary>The ranges applied (uniform), given or chosen from the data; null otherwise.</summary>
    public IReadOnlyList<double>? MinRange => Quantizer.MinRange;
    public IReadOnlyList<double>? MaxRange => Quantizer.MaxRange;

    /// <summary>Signed integer range (POT, symmetric); null for uniform.</summary>
    public bool? Signed => Method == QuantizationMethod.Uniform ? null : Quantizer.IsSigned;
}
