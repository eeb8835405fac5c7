using System.Numerics;
using QuantShell.Core.IO;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

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

    /// <summary>Distinct integer levels the quantized values use, out of <see cref="LevelsAvailable"/>.</summary>
    public int DistinctLevels { get; init; }
    public int LevelsAvailable { get; init; }
    public double Scale { get; init; }
    public int ZeroPoint { get; init; }

    /// <summary>The representable range [(qmin - z) * s, (qmax - z) * s].</summary>
    public double RangeMin { get; init; }
    public double RangeMax { get; init; }
}

/// <summary>Metrics of a quantizer on a tensor, per tensor and per channel.</summary>
public sealed record MeasurementReport(ChannelMetrics Overall, IReadOnlyList<ChannelMetrics> Channels, QuantizerSpec Quantizer, long[] Shape)
{
    /// <summary>The measured file, when the report comes from <see cref="QuantizationMetrics.MeasureFile"/>.</summary>
    public string? InputPath { get; init; }
}

public static class QuantizationMetrics
{
    /// <summary>Reads a whole .npy file and measures <paramref name="quantizer"/> on it; errors name the file.</summary>
    public static MeasurementReport MeasureFile(string path, IInferableQuantizer quantizer) =>
        Measure(NpyArray.Read(path), quantizer, Path.GetFullPath(path));

    /// <summary>Measures an array read from <paramref name="sourceName"/>, which names it in errors and in the report.</summary>
    public static MeasurementReport Measure(NpyArray array, IInferableQuantizer quantizer, string sourceName)
    {
        try
        {
            return Measure(array, quantizer) with { InputPath = sourceName };
        }
        catch (QuantShell.Core.Errors.QuantizerValidationException ex)
        {
            throw new QuantShell.Core.Errors.QuantShellException($"{sourceName}: {ex.Message}", ex.ErrorId, QuantShell.Core.Errors.QuantShellErrorKind.InvalidArgument, sourceName, ex);
        }
    }

    /// <summary>Measures <paramref name="quantizer"/> on <paramref name="array"/> (non-finite values are skipped).</summary>
    public static MeasurementReport Measure(NpyArray array, IInferableQuantizer quantizer)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentNullException.ThrowIfNull(quantizer);
        var plan = quantizer.CreatePlan(array.Shape);
        return array.Data switch
        {
            double[] d => Measure<double>(d, plan, quantizer, array.Shape),
            float[] f => Measure<float>(f, plan, quantizer, array.Shape),
            Half[] h => Measure<float>(h.Select(v => (float)v).ToArray(), plan, quantizer, array.Shape),
            _ => throw new ArgumentException(array.Data.GetType().Name),
        };
    }

    private sealed class Accumulator(int levels)
    {
        public long Count, Clipped;
        public double SumSquared, SumAbsolute, Max, Signal;
        public readonly bool[] Used = new bool[levels];
    }

    private static MeasurementReport Measure<T>(T[] values, QuantizationPlan plan, IInferableQuantizer quantizer, long[] shape)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var parameters = quantizer.Parameters;
        int levels = parameters.QuantMax - parameters.QuantMin + 1;
        var grids = plan.Grids<T>();
        var perChannel = Enumerable.Range(0, plan.Channels).Select(_ => new Accumulator(levels)).ToArray();
        for (long i = 0; i < values.LongLength; i++)
        {
            T x = values[i];
            if (!T.IsFinite(x)) continue;
            int c = plan.ChannelOf(i);
            var g = grids[c];
            T unclamped = T.Round(x * g.Inverse, MidpointRounding.ToEven) + g.ZeroPoint;
            T q = T.Clamp(unclamped, g.QuantMin, g.QuantMax);
            double y = double.CreateTruncating((q - g.ZeroPoint) * g.Scale);
            double xd = double.CreateTruncating(x);
            double error = Math.Abs(xd - y);
            var acc = perChannel[c];
            acc.Count++;
            if (unclamped != q) acc.Clipped++;
            acc.SumSquared += error * error;
            acc.SumAbsolute += error;
            acc.Signal += xd * xd;
            if (error > acc.Max) acc.Max = error;
            acc.Used[int.CreateTruncating(q) - parameters.QuantMin] = true;
        }
        ChannelMetrics Build(int? channel, IReadOnlyList<Accumulator> parts, int grid)
        {
            long count = parts.Sum(p => p.Count);
            double squared = parts.Sum(p => p.SumSquared), signal = parts.Sum(p => p.Signal);
            int distinct = Enumerable.Range(0, levels).Count(l => parts.Any(p => p.Used[l]));
            // The whole tensor of a per-channel quantizer has no single grid: NaN scale, union of the ranges.
            var grids = grid >= 0 ? new[] { grid } : Enumerable.Range(0, parameters.Count).ToArray();
            double Low(int g) => (parameters.QuantMin - parameters.ZeroPoints[g]) * (double)parameters.Scales[g];
            double High(int g) => (parameters.QuantMax - parameters.ZeroPoints[g]) * (double)parameters.Scales[g];
            return new ChannelMetrics
            {
                Channel = channel,
                Count = count,
                Mse = count == 0 ? 0 : squared / count,
                Mae = count == 0 ? 0 : parts.Sum(p => p.SumAbsolute) / count,
                MaxError = parts.Count == 0 ? 0 : parts.Max(p => p.Max),
                SqnrDb = squared == 0 ? (signal == 0 ? double.NaN : double.PositiveInfinity) : 10 * Math.Log10(signal / squared),
                ClippedFraction = count == 0 ? 0 : (double)parts.Sum(p => p.Clipped) / count,
                DistinctLevels = distinct,
                LevelsAvailable = levels,
                Scale = grids.Length == 1 ? parameters.Scales[grids[0]] : double.NaN,
                ZeroPoint = grids.Length == 1 ? parameters.ZeroPoints[grids[0]] : 0,
                RangeMin = grids.Min(Low),
                RangeMax = grids.Max(High),
            };
        }
        var channels = plan.Channels == 1 && plan.ChannelAxis is null
            ? Array.Empty<ChannelMetrics>()
            : perChannel.Select((acc, c) => Build(c, new[] { acc }, c)).ToArray();
        return new MeasurementReport(Build(null, perChannel, channels.Length == 0 ? 0 : -1), channels, quantizer.Spec, shape);
    }
}
