using System.Text.Json.Serialization;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs.Measure;

/// <summary>
/// How well one tensor survives a quantizer (given, or chosen as Invoke-Quantize chooses it): the result object of
/// Measure-Quantization and, serialized, the <c>--json</c> line of <c>dotnet quant measure</c>.
/// </summary>
public sealed record MeasurementResult
{
    public required string InputPath { get; init; }

    /// <summary>The tensor's name in a model file; null for an .npy file.</summary>
    public string? TensorName { get; init; }
    public required long[] Shape { get; init; }
    [JsonPropertyName("dtype")]
    public required string DType { get; init; }
    public required QuantizationTarget Target { get; init; }
    public required QuantizationMethod Method { get; init; }
    public required int NumBits { get; init; }

    /// <summary>Signed integer range; null for uniform.</summary>
    public bool? Signed { get; init; }
    public required bool PerChannel { get; init; }

    /// <summary>The resolved channel axis for per-channel quantizers, else null.</summary>
    public int? ChannelAxis { get; init; }
    public IReadOnlyList<double>? Threshold { get; init; }
    public IReadOnlyList<double>? MinRange { get; init; }
    public IReadOnlyList<double>? MaxRange { get; init; }
    public IReadOnlyList<double>? LutValues { get; init; }

    /// <summary>Finite values measured (NaN and ±infinity are skipped).</summary>
    public required long Count { get; init; }
    public required double Mse { get; init; }
    public required double Mae { get; init; }
    public required double MaxError { get; init; }

    /// <summary>Signal-to-quantization-noise ratio in dB (+∞ when lossless, NaN for an all-zero input).</summary>
    public required double SqnrDb { get; init; }

    /// <summary>Fraction of values outside the representable range.</summary>
    public required double ClippedFraction { get; init; }
    public required int DistinctLevels { get; init; }
    public required int LevelsAvailable { get; init; }

    /// <summary>The scale of a per-tensor quantizer; null for per-channel ones (see <see cref="Channels"/>).</summary>
    public double? Scale { get; init; }
    public int? ZeroPoint { get; init; }

    /// <summary>The representable range (for per-channel quantizers, the union of the channels' ranges).</summary>
    public required double RangeMin { get; init; }
    public required double RangeMax { get; init; }

    /// <summary>One row per channel for per-channel quantizers; empty for per-tensor ones.</summary>
    public required IReadOnlyList<ChannelMetrics> Channels { get; init; }

    /// <summary>The quantizer measured, as a quantizer file holds it.</summary>
    public required QuantizerSpec Quantizer { get; init; }

    /// <summary>How the quantizer's values were chosen from data; null when they were given.</summary>
    public SelectionInfo? Selection { get; init; }

    /// <summary>The plot written (PlotPath), else null.</summary>
    public string? PlotPath { get; init; }

    public required double ElapsedMs { get; init; }

    [JsonIgnore]
    public string ShapeText => NpyHeader.FormatShape(Shape);

    /// <summary>Each of <see cref="Channels"/> with this tensor's file and name (none for a per-tensor quantizer).</summary>
    public IReadOnlyList<ChannelMeasurement> ChannelRows() => Channels.Select(c => new ChannelMeasurement
    {
        InputPath = InputPath, TensorName = TensorName, Channel = c.Channel ?? 0, Count = c.Count, Mse = c.Mse, Mae = c.Mae,
        MaxError = c.MaxError, SqnrDb = c.SqnrDb, ClippedFraction = c.ClippedFraction, DistinctLevels = c.DistinctLevels,
        LevelsAvailable = c.LevelsAvailable, Scale = c.Scale, ZeroPoint = c.ZeroPoint, RangeMin = c.RangeMin, RangeMax = c.RangeMax,
    }).ToList();
}

/// <summary>
/// One channel of a measured tensor, with the file and tensor it belongs to: what Measure-Quantization -PerChannelDetail
/// writes (one object per channel, to sort and filter across tensors), and the rows <c>--per-channel-detail</c> prints.
/// </summary>
public sealed record ChannelMeasurement
{
    public required string InputPath { get; init; }

    /// <summary>The tensor's name in a model file; null for an .npy file.</summary>
    public string? TensorName { get; init; }

    public required int Channel { get; init; }
    public required long Count { get; init; }
    public required double Mse { get; init; }
    public required double Mae { get; init; }
    public required double MaxError { get; init; }

    /// <summary>Signal-to-quantization-noise ratio in dB (+∞ when lossless, NaN for an all-zero channel).</summary>
    public required double SqnrDb { get; init; }
    public required double ClippedFraction { get; init; }
    public required int DistinctLevels { get; init; }
    public required int LevelsAvailable { get; init; }
    public double? Scale { get; init; }
    public int? ZeroPoint { get; init; }
    public required double RangeMin { get; init; }
    public required double RangeMax { get; init; }
}
