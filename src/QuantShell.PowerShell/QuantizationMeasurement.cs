using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell;

/// <summary>
/// What Measure-Quantization emits for one file: the quantizer measured (with the values given or chosen) and how well
/// the data survives it, for the whole tensor and, for per-channel quantizers, per channel.
/// </summary>
public sealed class QuantizationMeasurement
{
    internal QuantizationMeasurement(MeasurementReport report, string? plotPath)
    {
        var spec = report.Quantizer;
        var overall = report.Overall;
        InputPath = report.InputPath ?? "";
        Shape = report.Shape;
        Target = spec.Target;
        Method = spec.Method;
        NumBits = spec.NumBits;
        Signed = spec.Method == QuantizationMethod.Uniform ? null : spec.IsSigned;
        PerChannel = spec.PerChannel;
        ChannelAxis = spec.PerChannel ? spec.ResolveChannelAxis(report.Shape.Length) : null;
        Threshold = spec.Threshold;
        MinRange = spec.MinRange;
        MaxRange = spec.MaxRange;
        Count = overall.Count;
        Mse = overall.Mse;
        Mae = overall.Mae;
        MaxError = overall.MaxError;
        SqnrDb = overall.SqnrDb;
        ClippedFraction = overall.ClippedFraction;
        DistinctLevels = overall.DistinctLevels;
        LevelsAvailable = overall.LevelsAvailable;
        Scale = overall.Scale;
        ZeroPoint = overall.ZeroPoint;
        RangeMin = overall.RangeMin;
        RangeMax = overall.RangeMax;
        Channels = report.Channels;
        Quantizer = spec;
        PlotPath = plotPath;
    }

    public string InputPath { get; }
    public long[] Shape { get; }
    public string ShapeText => Core.IO.NpyHeader.FormatShape(Shape);
    public QuantizationTarget Target { get; }
    public QuantizationMethod Method { get; }
    public int NumBits { get; }

    /// <summary>Signed integer range (POT, symmetric); null for uniform.</summary>
    public bool? Signed { get; }
    public bool PerChannel { get; }

    /// <summary>The resolved channel axis for per-channel quantizers, else null.</summary>
    public int? ChannelAxis { get; }

    /// <summary>The thresholds measured (POT, symmetric), given or chosen; null for uniform.</summary>
    public IReadOnlyList<double>? Threshold { get; }
    public IReadOnlyList<double>? MinRange { get; }
    public IReadOnlyList<double>? MaxRange { get; }

    /// <summary>Finite values measured (NaN and ±infinity are skipped).</summary>
    public long Count { get; }
    public double Mse { get; }
    public double Mae { get; }
    public double MaxError { get; }

    /// <summary>Signal-to-quantization-noise ratio in dB (+∞ when lossless, NaN for an all-zero input).</summary>
    public double SqnrDb { get; }

    /// <summary>Fraction of values outside the representable range.</summary>
    public double ClippedFraction { get; }
    public int DistinctLevels { get; }
    public int LevelsAvailable { get; }

    /// <summary>The scale of a per-tensor quantizer; NaN for per-channel ones (see <see cref="Channels"/>).</summary>
    public double Scale { get; }
    public int ZeroPoint { get; }

    /// <summary>The representable range (for per-channel quantizers, the union of the channels' ranges).</summary>
    public double RangeMin { get; }
    public double RangeMax { get; }

    /// <summary>One row per channel for per-channel quantizers; empty for per-tensor ones.</summary>
    public IReadOnlyList<ChannelMetrics> Channels { get; }
    public QuantizerSpec Quantizer { get; }

    /// <summary>The histogram written with -PlotPath, else null.</summary>
    public string? PlotPath { get; }
}
