using System.Diagnostics;
using System.Numerics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>Error metrics of a quantizer on tensor values, per tensor and per channel, with the kernel's exact arithmetic.</summary>
public static class QuantizationMetrics
{
    private const int Chunk = 1 << 16;

    /// <summary>
    /// Measures <paramref name="quantizer"/> on <paramref name="array"/> (non-finite values are skipped). The result and
    /// errors name <paramref name="sourceName"/> (a file) and <paramref name="tensorName"/> (a tensor of a model file).
    /// </summary>
    public static MeasurementResult Measure(NpyArray array, InferableQuantizer quantizer, string sourceName, SelectionInfo? selection = null, string? tensorName = null)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentNullException.ThrowIfNull(quantizer);
        var clock = Stopwatch.StartNew();
        QuantizationPlan plan;
        try
        {
            plan = quantizer.CreatePlan(array.Shape);
        }
        catch (QuantizerValidationException ex)
        {
            throw ex.WithSource(tensorName is null ? sourceName : $"{sourceName}: tensor '{tensorName}'");
        }
        var (overall, channels) = array.Data switch
        {
            double[] d => Measure<double>(d, plan),
            float[] f => Measure<float>(f, plan),
            Half[] h => Measure<float>(Array.ConvertAll(h, v => (float)v), plan),
            _ => throw new ArgumentException(array.Data.GetType().Name, nameof(array)),
        };
        var spec = quantizer.SpecFor(plan);
        return new MeasurementResult
        {
            InputPath = JobInput.ResultPathOf(sourceName),
            TensorName = tensorName,
            Shape = array.Shape,
            DType = array.SourceDType.Name,
            Target = spec.Target,
            Method = spec.Method,
            NumBits = spec.NumBits,
            Signed = spec.SignedOfMethod,
            PerChannel = spec.PerChannel,
            ChannelAxis = plan.ChannelAxis,
            Threshold = spec.ThresholdOfMethod,
            MinRange = spec.MinRangeOfMethod,
            MaxRange = spec.MaxRangeOfMethod,
            LutValues = spec.LutValuesOfMethod,
            Count = overall.Count,
            Mse = overall.Mse,
            Mae = overall.Mae,
            MaxError = overall.MaxError,
            SqnrDb = overall.SqnrDb,
            ClippedFraction = overall.ClippedFraction,
            DistinctLevels = overall.DistinctLevels,
            LevelsAvailable = overall.LevelsAvailable,
            Scale = overall.Scale,
            ZeroPoint = overall.ZeroPoint,
            RangeMin = overall.RangeMin,
            RangeMax = overall.RangeMax,
            Channels = channels,
            Quantizer = spec,
            Selection = selection,
            ElapsedMs = clock.Elapsed.TotalMilliseconds,
        };
    }

    private sealed class Accumulator(int levels)
    {
        public long Count, Clipped;
        public double SumSquared, SumAbsolute, Max, Signal;
        public readonly bool[] Used = new bool[levels];
    }

    private static (ChannelMetrics Overall, ChannelMetrics[] Channels) Measure<T>(T[] values, QuantizationPlan plan)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int levels = plan.LevelCount;
        var perChannel = Enumerable.Range(0, plan.Channels).Select(_ => new Accumulator(levels)).ToArray();
        var output = new T[Math.Min(Chunk, values.Length)];
        var level = new int[output.Length];
        var clipped = new bool[output.Length];
        for (int start = 0; start < values.Length; start += Chunk)
        {
            int n = Math.Min(Chunk, values.Length - start);
            plan.Classify<T>(values.AsSpan(start, n), start, output, level, clipped);
            for (int i = 0; i < n; i++)
            {
                if (level[i] < 0) continue; // NaN or ±infinity
                var acc = perChannel[plan.ChannelOf(start + i)];
                double xd = double.CreateTruncating(values[start + i]);
                double error = Math.Abs(xd - double.CreateTruncating(output[i]));
                acc.Count++;
                if (clipped[i]) acc.Clipped++;
                acc.SumSquared += error * error;
                acc.SumAbsolute += error;
                acc.Signal += xd * xd;
                if (error > acc.Max) acc.Max = error;
                acc.Used[level[i]] = true;
            }
        }
        ChannelMetrics Build(int? channel, IReadOnlyList<Accumulator> parts, int[] grids)
        {
            long count = parts.Sum(p => p.Count);
            double squared = parts.Sum(p => p.SumSquared), signal = parts.Sum(p => p.Signal);
            int distinct = Enumerable.Range(0, levels).Count(l => parts.Any(p => p.Used[l]));
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
                Scale = grids.Length == 1 ? plan.ScaleOf(grids[0]) : null,
                ZeroPoint = grids.Length == 1 ? plan.ZeroPointOf(grids[0]) : null,
                RangeMin = grids.Min(g => plan.RangeOf(g).Min),
                RangeMax = grids.Max(g => plan.RangeOf(g).Max),
            };
        }
        var channels = plan.ChannelAxis is null
            ? Array.Empty<ChannelMetrics>()
            : perChannel.Select((acc, c) => Build(c, [acc], [c])).ToArray();
        var all = plan.ChannelAxis is null ? [0] : Enumerable.Range(0, plan.Channels).ToArray();
        return (Build(null, perChannel, all), channels);
    }
}
