using System.Numerics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>
/// Chooses thresholds (POT, symmetric) or ranges (uniform) from data, per tensor or per channel, as MCT does before
/// it builds an inferable quantizer. Several arrays (calibration batches) are pooled before choosing. Every candidate is
/// scored with the exact arithmetic the quantizer will use, so the chosen parameters behave as they were scored.
/// </summary>
public static class ParameterSelector
{
    /// <summary>
    /// Completes <paramref name="request"/> (a spec whose Threshold, or MinRange/MaxRange, is left null) from
    /// <paramref name="data"/>. Signed, when null, stays signed for weights and is chosen for activations: signed iff
    /// the data has negative values.
    /// </summary>
    public static QuantizerSpec Select(QuantizerSpec request, IReadOnlyList<NpyArray> data, SelectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new SelectionOptions();
        if (data.Count == 0)
            throw new QuantShellException("Choosing quantization parameters needs at least one input array.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidArgument, "Path");
        if (options.ErrorMethod == ErrorMethod.Lp && !(double.IsFinite(options.P) && options.P > 0))
            throw new QuantizerValidationException($"P must be a finite number greater than 0 but is {QuantizerSpec.FormatValue(options.P)}.", "P", ErrorIds.ErrorExponentInvalid);
        bool allDouble = data.All(a => a.Data is double[]);
        return allDouble ? Select<double>(request, data, options) : Select<float>(request, data, options);
    }

    private static QuantizerSpec Select<T>(QuantizerSpec request, IReadOnlyList<NpyArray> data, SelectionOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var channels = SplitChannels<T>(request, data);
        var measure = new ErrorMeasure(options.ErrorMethod, options.P);
        bool signed = request.Signed ?? (request.Target == QuantizationTarget.Weights || channels.Any(c => c.Any(x => x < T.Zero)));
        var spec = request with { Signed = request.Method == QuantizationMethod.Uniform ? null : signed };
        if (request.Method == QuantizationMethod.Uniform)
        {
            var ranges = channels.Select(c => UniformRange(c, request, options, measure)).ToArray();
            spec = spec with { Threshold = null, MinRange = ranges.Select(r => r.Min).ToArray(), MaxRange = ranges.Select(r => r.Max).ToArray() };
        }
        else
        {
            var thresholds = channels.Select(c => request.Method == QuantizationMethod.Pot
                ? PotThreshold(c, request.NumBits, signed, options, measure)
                : SymmetricThreshold(c, request.NumBits, signed, options, measure)).ToArray();
            spec = spec with { Threshold = thresholds, MinRange = null, MaxRange = null };
        }
        spec.Validate();
        return spec;
    }

    /// <summary>The values of each channel (one channel for per-tensor), pooled over all arrays.</summary>
    private static T[][] SplitChannels<T>(QuantizerSpec request, IReadOnlyList<NpyArray> data)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var arrays = data.Select(ToValues<T>).ToArray();
        if (!request.PerChannel)
            return new[] { arrays.SelectMany(a => a).ToArray() };
        int rank = data[0].Shape.Length;
        if (data.Any(a => a.Shape.Length != rank))
            throw new QuantShellException("Calibration arrays for per-channel selection must have the same rank.", ErrorIds.CalibrationShapeMismatch, QuantShellErrorKind.InvalidData);
        int axis = request.ResolveChannelAxis(rank);
        long channelCount = data[0].Shape[axis];
        if (data.Any(a => a.Shape[axis] != channelCount))
            throw new QuantShellException($"Calibration arrays have different lengths on channel axis {axis}.", ErrorIds.CalibrationShapeMismatch, QuantShellErrorKind.InvalidData);
        if (channelCount == 0)
            throw new QuantShellException($"channel axis {axis} has length 0: there is no channel to choose values for.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidData);
        long perChannel = data.Sum(a => a.ElementCount) / channelCount;
        var channels = new T[channelCount][];
        var filled = new int[channelCount];
        for (int c = 0; c < channelCount; c++) channels[c] = new T[perChannel];
        for (int a = 0; a < arrays.Length; a++)
        {
            long inner = data[a].Shape.Skip(axis + 1).Aggregate(1L, (x, y) => x * y);
            var values = arrays[a];
            for (long i = 0; i < values.LongLength; i++)
            {
                int c = (int)(i / inner % channelCount);
                channels[c][filled[c]++] = values[i];
            }
        }
        return channels;
    }

    private static T[] ToValues<T>(NpyArray array) where T : unmanaged, IFloatingPointIeee754<T> => array.Data switch
    {
        T[] same => same,
        Half[] h => h.Select(v => T.CreateChecked((float)v)).ToArray(),
        float[] f => f.Select(v => T.CreateChecked(v)).ToArray(),
        double[] d => d.Select(v => T.CreateChecked(v)).ToArray(),
        _ => throw new ArgumentException(array.Data.GetType().Name),
    };

    // ---- POT: the exact optimum among powers of two ----

    /// <summary>
    /// Smallest power of two ≥ max|x| for NoClipping; else the power of two in [2^(e-n-16), 2^(e+2)] with the lowest
    /// error, where 2^e is the smallest power of two ≥ max|x| (beyond 2^(e+1) grids only coarsen without clipping less).
    /// Ties go to the larger threshold. Scored on every value.
    /// </summary>
    internal static double PotThreshold<T>(T[] values, int numBits, bool signed, SelectionOptions options, ErrorMeasure measure)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        double maxAbs = MaxAbs(values);
        if (maxAbs == 0) return 1.0;
        int e = CeilLog2(maxAbs);
        if (options.ErrorMethod == ErrorMethod.NoClipping) return Math.ScaleB(1.0, e);
        var (qmin, qmax) = RangeMath.SymmetricRange(numBits, signed);
        double best = double.PositiveInfinity, bestThreshold = Math.ScaleB(1.0, e);
        for (int k = e + 2; k >= Math.Max(e - numBits - 16, -100); k--)
        {
            double t = Math.ScaleB(1.0, k);
            double error = measure.Mean<T>(values, new Grid<T>(RangeMath.SymmetricScale(t, numBits, signed), 0, qmin, qmax));
            if (error < best) { best = error; bestThreshold = t; }
        }
        return bestThreshold;
    }

    // ---- Symmetric: coarse scan, then a finer scan around the best ----

    internal static double SymmetricThreshold<T>(T[] values, int numBits, bool signed, SelectionOptions options, ErrorMeasure measure)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        double maxAbs = MaxAbs(values);
        if (maxAbs == 0) return 1.0;
        if (options.ErrorMethod == ErrorMethod.NoClipping) return AsFloat(maxAbs);
        var (qmin, qmax) = RangeMath.SymmetricRange(numBits, signed);
        var coarseSample = Sample(values, Math.Min(options.MaxSearchValues, 1 << 16));
        var sample = Sample(values, options.MaxSearchValues);
        double Score(T[] set, double t) => measure.Mean<T>(set, new Grid<T>(RangeMath.SymmetricScale(t, numBits, signed), 0, qmin, qmax));

        // Up to a little beyond max|x|: the top of a signed grid is t - s, so covering max exactly needs t slightly above it.
        double upper = maxAbs * (1 + 2.0 / (qmax + 1));
        const int coarse = 256;
        double step = upper / coarse;
        double bestT = upper, best = double.PositiveInfinity;
        for (int k = 1; k <= coarse; k++)
        {
            double t = AsFloat(step * k);
            if (t <= 0) continue;
            double error = Score(coarseSample, t);
            if (error < best) { best = error; bestT = t; }
        }
        for (int round = 0; round < 2; round++)
        {
            double low = Math.Max(bestT - 2 * step, step / 8), high = bestT + 2 * step;
            const int fine = 64;
            step = (high - low) / fine;
            best = Score(sample, bestT);
            for (int k = 0; k <= fine; k++)
            {
                double t = AsFloat(low + step * k);
                if (t <= 0) continue;
                double error = Score(sample, t);
                if (error < best) { best = error; bestT = t; }
            }
        }
        return bestT;
    }

    // ---- Uniform: coarse 2-D scan of (min, max) scale factors, then two finer scans around the best ----

    internal static (double Min, double Max) UniformRange<T>(T[] values, QuantizerSpec request, SelectionOptions options, ErrorMeasure measure)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var (lo, hi) = MinMax(values);
        if (options.ErrorMethod == ErrorMethod.NoClipping || lo == hi)
            return NonDegenerate(lo, hi);
        double low = Math.Min(lo, 0), high = Math.Max(hi, 0);
        int numBits = request.NumBits;
        bool weights = request.Target == QuantizationTarget.Weights;
        var coarseSample = Sample(values, Math.Min(options.MaxSearchValues, 1 << 14));
        var sample = Sample(values, options.MaxSearchValues);
        double Score(T[] set, double a, double b)
        {
            float min = (float)(low * a), max = (float)(high * b);
            if (!(min < max)) return double.PositiveInfinity;
            var (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(min, max, numBits);
            var (scale, zero) = weights ? RangeMath.UniformWeightsGrid(adjustedMin, adjustedMax, numBits) : RangeMath.UniformActivationGrid(adjustedMin, adjustedMax, numBits);
            if (!(scale > 0) || !float.IsFinite(scale)) return double.PositiveInfinity;
            return measure.Mean<T>(set, new Grid<T>(scale, zero, 0, (1 << numBits) - 1));
        }
        // Factors of 0 are pointless where that side is 0 anyway; scan only the sides that exist.
        var aValues = low < 0 ? Enumerable.Range(1, 34).Select(k => k / 32.0).ToArray() : new[] { 1.0 };
        var bValues = high > 0 ? Enumerable.Range(1, 34).Select(k => k / 32.0).ToArray() : new[] { 1.0 };
        double bestA = 1, bestB = 1, best = double.PositiveInfinity;
        foreach (double a in aValues)
            foreach (double b in bValues)
            {
                double error = Score(coarseSample, a, b);
                if (error < best) { best = error; bestA = a; bestB = b; }
            }
        double step = 1.0 / 32;
        for (int round = 0; round < 2; round++)
        {
            best = Score(sample, bestA, bestB);
            double centerA = bestA, centerB = bestB;
            step /= 4;
            for (int i = -8; i <= 8; i++)
                for (int j = -8; j <= 8; j++)
                {
                    double a = low < 0 ? centerA + i * step : 1, b = high > 0 ? centerB + j * step : 1;
                    if (a <= 0 || b <= 0) continue;
                    double error = Score(sample, a, b);
                    if (error < best) { best = error; bestA = a; bestB = b; }
                }
        }
        return NonDegenerate(AsFloat(low * bestA), AsFloat(high * bestB));
    }

    private static (double Min, double Max) NonDegenerate(double min, double max)
    {
        if ((float)min < (float)max) return (AsFloat(min), AsFloat(max));
        // A constant channel: a range that holds the value and zero.
        return min > 0 ? (0, AsFloat(min)) : min < 0 ? (AsFloat(min), 0) : (0, 1);
    }

    // ---- helpers ----

    private static double AsFloat(double value) => (float)value;

    private static int CeilLog2(double value)
    {
        int e = Math.ILogB(value);
        return Math.ScaleB(1.0, e) < value ? e + 1 : e;
    }

    private static double MaxAbs<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double max = 0;
        foreach (T x in values)
            if (T.IsFinite(x)) max = Math.Max(max, Math.Abs(double.CreateTruncating(x)));
        return max;
    }

    private static (double Min, double Max) MinMax<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double v = double.CreateTruncating(x);
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return double.IsInfinity(min) ? (0, 0) : (min, max);
    }

    /// <summary>An evenly strided sample of at most <paramref name="limit"/> values (all of them when there are fewer).</summary>
    private static T[] Sample<T>(T[] values, int limit)
    {
        if (values.Length <= limit) return values;
        var sample = new T[limit];
        double stride = (double)values.Length / limit;
        for (int i = 0; i < limit; i++) sample[i] = values[(long)(i * stride)];
        return sample;
    }
}
