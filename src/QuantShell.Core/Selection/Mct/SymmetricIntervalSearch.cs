namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's threshold search for symmetric quantizers (<c>qparams_symmetric_iterative_minimization</c> with
/// <c>search_fixed_range_intervals</c>): from t₀ (the no-clipping threshold), each iteration scores
/// <see cref="Intervals"/> thresholds spread evenly (<c>np.linspace</c>) over [α·t, β·t] around the previous iteration's
/// winner t, starting from α = 0.7, β = 1.2; every <see cref="DecreaseEvery"/> iterations (the first included) α is
/// multiplied by 1.02 and β by 0.98, but α never exceeds 0.97 and β never falls below 1.03. The best threshold seen is
/// kept (an iteration's winner replaces it only when strictly better); the search stops early when the best error
/// improved, on average over the channels, by more than 0 and less than 1e-11. Per channel all channels step together
/// (the stop looks at their mean) and within an iteration a later candidate replaces an earlier only when strictly
/// better; per tensor the winner is <c>np.argmin</c>'s (NaN first).
/// </summary>
internal sealed class SymmetricIntervalSearch
{
    public const double BottomFactor = 0.7, UpperFactor = 1.2, BottomDecrease = 1.02, UpperDecrease = 0.98;
    public const double BottomLimit = 0.97, UpperLimit = 1.03, Tolerance = 1e-11;

    /// <summary>Candidates per iteration (MCT: 30).</summary>
    public int Intervals { get; init; } = 30;

    /// <summary>MCT: 40 per tensor, 15 per channel, 20 for activation histograms.</summary>
    public required int Iterations { get; init; }

    /// <summary>MCT: 5 per tensor, 3 per channel, 4 for activation histograms.</summary>
    public required int DecreaseEvery { get; init; }

    public required bool PerChannel { get; init; }

    /// <summary>
    /// The best threshold of each channel. <paramref name="start"/> holds t₀ per channel, in <paramref name="startPrecision"/>;
    /// <paramref name="candidate"/> makes the candidate for a threshold in a precision.
    /// </summary>
    public double[] Run(IMctErrors errors, double[] start, ParameterPrecision startPrecision, Func<double, ParameterPrecision, MctCandidate> candidate,
                        SearchRecord<double>? record = null)
    {
        int channels = start.Length;
        var current = (double[])start.Clone();
        var best = (double[])start.Clone();
        var bestLoss = new MctLoss[channels];
        PerChannelDo(channels, c =>
        {
            Span<MctLoss> one = stackalloc MctLoss[1];
            errors.Evaluate(c, [candidate(start[c], startPrecision)], one);
            bestLoss[c] = one[0];
        });
        bool bestSingle = MctLosses.AllSingle(bestLoss);
        record?.Begin(start, bestSingle);
        double bottom = BottomFactor, top = UpperFactor;
        var winners = new double[channels];
        var winnerLoss = new MctLoss[channels];
        var winnerSingle = new bool[channels];
        for (int n = 0; n < Iterations; n++)
        {
            var previous = (MctLoss[])bestLoss.Clone();
            bool previousSingle = bestSingle;
            var lows = new double[channels];
            var highs = new double[channels];
            bool anyZeroStep = false;
            for (int c = 0; c < channels; c++)
            {
                lows[c] = current[c] * bottom;
                highs[c] = current[c] * top;
                anyZeroStep |= (highs[c] - lows[c]) / (Intervals - 1) == 0;
            }
            if (record is not null) record.ZeroStep |= anyZeroStep;
            PerChannelDo(channels, c =>
            {
                var thresholds = Linspace(lows[c], highs[c], Intervals, anyZeroStep);
                var candidates = new MctCandidate[Intervals];
                for (int i = 0; i < Intervals; i++) candidates[i] = candidate(thresholds[i], ParameterPrecision.Double);
                var losses = new MctLoss[Intervals];
                errors.Evaluate(c, candidates, losses);
                winnerSingle[c] = MctLosses.AllSingle(losses);
                if (PerChannel)
                {
                    double param = thresholds[0];
                    var loss = losses[0];
                    for (int i = 1; i < Intervals; i++)
                    {
                        bool improved = losses[i].Value < loss.Value;
                        param = MctLosses.Blend(thresholds[i], param, improved);
                        loss = new MctLoss(MctLosses.Blend(losses[i].Value, loss.Value, improved), false);
                    }
                    winners[c] = param;
                    winnerLoss[c] = loss;
                }
                else
                {
                    winners[c] = thresholds[MctLosses.ArgMin(losses)];
                    winnerLoss[c] = MctLosses.Min(losses);
                }
            });
            // NumPy holds all channels' errors in one array: float32 only when every value is.
            bool currentSingle = true;
            foreach (bool s in winnerSingle) currentSingle &= s;
            for (int c = 0; c < channels; c++)
            {
                winnerLoss[c] = winnerLoss[c] with { Single = currentSingle };
                current[c] = winners[c];
                bool improved = winnerLoss[c].Value < previous[c].Value;
                best[c] = MctLosses.Blend(winners[c], best[c], improved);
                bestLoss[c] = MctLosses.Blend(winnerLoss[c], previous[c], improved, currentSingle && previousSingle);
            }
            bestSingle = currentSingle && previousSingle;
            if (record is not null)
            {
                // Recorded, every iteration run: whether to stop is decided over all blocks' channels (SearchRecord.Join).
                record.Add(currentSingle, previous, winnerLoss, best);
            }
            else
            {
                double improvement = MctLosses.MeanImprovement(previous, winnerLoss, currentSingle && previousSingle);
                if (0 < improvement && improvement < Tolerance) break;
            }
            if (n % DecreaseEvery == 0)
            {
                bottom *= BottomDecrease;
                top *= UpperDecrease;
                bottom = BottomLimit < bottom ? BottomLimit : bottom;
                top = UpperLimit > top ? UpperLimit : top;
            }
        }
        return best;
    }

    /// <summary>np.linspace over one channel; per channel NumPy switches every channel to i/div·Δ + start when any channel's step is 0.</summary>
    private static double[] Linspace(double low, double high, int count, bool anyZeroStep)
    {
        if (!anyZeroStep) return NumpyLinspace.Create(low, high, count);
        var values = new double[count];
        int div = count - 1;
        double delta = high - low;
        for (int i = 0; i < count; i++) values[i] = (double)i / div * delta + low;
        values[div] = high;
        return values;
    }

    private static void PerChannelDo(int channels, Action<int> body)
    {
        if (channels == 1) body(0);
        else Parallel.For(0, channels, body);
    }
}
