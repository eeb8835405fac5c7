using System.Numerics;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>
/// Chooses what an incomplete LUT spec leaves out: the threshold(s), the table, or both.
/// <list type="bullet">
/// <item>Thresholds as for the grid quantizers: NoClipping covers max|x| (LutPot: the next power of two), Percentile that
/// percentile of |x|; Mse, Mae, Lp and Kl try candidates (LutPot: 2^(e+1) down to 2^(e-8); LutSymmetric: a coarse scan
/// of max|x| · i/32, then two finer ones) and keep the one whose quantizer, with its own k-means table, errs least.</item>
/// <item>The table by <see cref="LutTableFit"/> on the values scaled by their thresholds; per channel, one table for all
/// channels, fitted on every channel's scaled values pooled. When the thresholds are chosen too, each channel's is then
/// chosen again with that shared table, so every threshold is the best one for the table the quantizer holds.</item>
/// </list>
/// </summary>
internal static class LutSelection
{
    private const int CoarseValues = 1 << 14;

    public static QuantizerSpec Select<T>(QuantizerSpec incomplete, T[][] channels, SelectionOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var scorers = channels.Select(c => new ChannelScorer<T>(c, options)).ToArray();
        double[]? table = incomplete.LutValues?.ToArray();
        double[] thresholds;
        if (incomplete.Threshold is not null)
        {
            thresholds = incomplete.Threshold.ToArray();
        }
        else
        {
            // Per channel, a first coarse choice (each channel with its own k-means table) only places the channels'
            // values for the shared table; the thresholds are then chosen properly for that table.
            bool shared = table is null && channels.Length > 1 && Searches(options.ErrorMethod);
            thresholds = EachChannel(scorers, s => ChooseThreshold(incomplete, s, table, coarseOnly: shared));
            if (shared)
            {
                table = SharedTable(incomplete, scorers, thresholds);
                thresholds = EachChannel(scorers, s => ChooseThreshold(incomplete, s, table, coarseOnly: false));
            }
        }
        table ??= SharedTable(incomplete, scorers, thresholds);
        return incomplete with { Threshold = thresholds, LutValues = table };
    }

    /// <summary>Each channel's threshold, the channels spread over the cores (each choice is its own channel's alone).</summary>
    private static double[] EachChannel<T>(ChannelScorer<T>[] scorers, Func<ChannelScorer<T>, double> choose)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var thresholds = new double[scorers.Length];
        if (scorers.Length == 1) thresholds[0] = choose(scorers[0]);
        else Parallel.For(0, scorers.Length, c => thresholds[c] = choose(scorers[c]));
        return thresholds;
    }

    private static bool Searches(ErrorMethod method) => method is not (ErrorMethod.NoClipping or ErrorMethod.Percentile);

    /// <summary>One table for every channel: k-means on all channels' values, each scaled by its own threshold.</summary>
    private static double[] SharedTable<T>(QuantizerSpec incomplete, ChannelScorer<T>[] scorers, double[] thresholds)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var range = new LutLevels([0], incomplete.IsSigned, incomplete.EffectiveLutValuesBitwidth);
        var pooled = new ScaledHistogram(range.Low, range.High);
        for (int c = 0; c < scorers.Length; c++)
            pooled.Add<T>(scorers[c].Values, Divisor(incomplete, thresholds[c]), range.Scale);
        return LutTableFit.Fit(pooled, 1 << incomplete.NumBits);
    }

    private static double ChooseThreshold<T>(QuantizerSpec incomplete, ChannelScorer<T> scorer, double[]? table, bool coarseOnly)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        bool pot = incomplete.Method == QuantizationMethod.LutPot;
        double maxAbs = scorer.MaxAbs;
        if (maxAbs == 0) return 1.0;
        switch (scorer.Method)
        {
            case ErrorMethod.NoClipping:
                return pot ? NextPowerOfTwo(maxAbs) : (float)maxAbs;
            case ErrorMethod.Percentile:
                double cover = Percentiles.OfMagnitude<T>(scorer.Values, scorer.Options.Percentile);
                if (!((float)cover > 0)) cover = maxAbs; // mostly zeros: cover the rest
                return pot ? NextPowerOfTwo(cover) : (float)cover;
        }

        var coarse = scorer.Sample(CoarseValues);
        var sample = scorer.Sample(scorer.Options.MaxSearchValues);
        double Score(double t, T[] set) => Error(incomplete, scorer, t, table, set);
        if (pot)
        {
            // Beyond 2^(e+1) a LUT only coarsens; below 2^(e-8) it clips almost everything. Ties go to the larger threshold.
            int e = Math.ILogB(NextPowerOfTwo(maxAbs));
            double bestT = Math.ScaleB(1.0, e), best = double.PositiveInfinity;
            for (int k = e + 1; k >= e - 8; k--)
            {
                double t = Math.ScaleB(1.0, k);
                double error = Score(t, coarseOnly ? coarse : sample);
                if (error < best) { best = error; bestT = t; }
            }
            return bestT;
        }

        const int coarseSteps = 32;
        double step = maxAbs / coarseSteps;
        double bestThreshold = (float)maxAbs, bestError = double.PositiveInfinity;
        for (int i = coarseSteps + 1; i >= 1; i--)
        {
            double t = (float)(step * i);
            double error = Score(t, coarse);
            if (error < bestError) { bestError = error; bestThreshold = t; }
        }
        for (int round = 0; round < (coarseOnly ? 0 : 2); round++)
        {
            double low = Math.Max(bestThreshold - step, step / 8), high = bestThreshold + step;
            const int fine = 16;
            step = (high - low) / fine;
            bestError = Score(bestThreshold, sample);
            for (int i = fine; i >= 0; i--)
            {
                double t = (float)(low + step * i);
                if (!(t > 0)) continue;
                double error = Score(t, sample);
                if (error < bestError) { bestError = error; bestThreshold = t; }
            }
        }
        return bestThreshold;
    }

    /// <summary>The error of a one-channel LUT quantizer with threshold <paramref name="threshold"/> and the given table, or its own k-means one.</summary>
    private static double Error<T>(QuantizerSpec incomplete, ChannelScorer<T> scorer, double threshold, double[]? table, T[] set)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (table is null)
        {
            var range = new LutLevels([0], incomplete.IsSigned, incomplete.EffectiveLutValuesBitwidth);
            var histogram = new ScaledHistogram(range.Low, range.High);
            histogram.Add<T>(set, Divisor(incomplete, threshold), range.Scale);
            table = LutTableFit.Fit(histogram, 1 << incomplete.NumBits);
        }
        var quantizer = InferableQuantizer.Create(incomplete with { Threshold = [threshold], LutValues = table, PerChannel = false, ChannelAxis = null, InputRank = null });
        return scorer.Score(quantizer, incomplete.IsSigned ? -threshold : 0, threshold, set);
    }

    /// <summary>t + eps as the quantizer divides by it (float32 for weights), to scale values for k-means.</summary>
    private static double Divisor(QuantizerSpec incomplete, double threshold) =>
        incomplete.Target == QuantizationTarget.Weights ? (float)threshold + (float)incomplete.EffectiveEps : threshold + incomplete.EffectiveEps;

    private static double NextPowerOfTwo(double value)
    {
        int e = Math.ILogB(value);
        return Math.ScaleB(1.0, Math.ScaleB(1.0, e) < value ? e + 1 : e);
    }
}
