namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// The candidate (its grid, and its range for KL) of a threshold computed in <paramref name="precision"/>, written into
/// <paramref name="candidate"/> (where it goes: not returned and copied, a search builds thousands a tensor).
/// </summary>
internal delegate void CandidateOf(double threshold, ParameterPrecision precision, out MctCandidate candidate);

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
    /// Whether a per-tensor search on bounded errors (<see cref="IBoundedMctErrors"/>) runs ahead on its bounds and computes
    /// the exact errors it needs together (<see cref="RunDeferred"/>); false: one iteration after the other, as MCT does.
    /// The choice is the same bit for bit either way.
    /// </summary>
    public bool Deferred { get; init; } = true;

    /// <summary>Iterations the deferred search runs ahead of the last one whose winner is confirmed (at least 1).</summary>
    public int Ahead { get; init; } = 10;

    /// <summary>How many iterations the last <see cref="Run"/> took (fewer than <see cref="Iterations"/> when it stopped early).</summary>
    public int IterationsRun { get; private set; }

    /// <summary>
    /// The best threshold of each channel. <paramref name="start"/> holds t₀ per channel, in <paramref name="startPrecision"/>;
    /// <paramref name="candidate"/> makes the candidate for a threshold in a precision.
    /// </summary>
    public double[] Run(IMctErrors errors, double[] start, ParameterPrecision startPrecision, CandidateOf candidate,
                        SearchRecord<double>? record = null)
    {
        int channels = start.Length;
        if (Deferred && channels == 1 && record is null && Intervals > 1 && errors is IBoundedMctErrors bounded && bounded.Bounds(0)
            && RunDeferred(bounded, start[0], startPrecision, candidate) is { } threshold)
            return [threshold];
        var current = (double[])start.Clone();
        var best = (double[])start.Clone();
        var bestLoss = new MctLoss[channels];
        PerChannelDo(channels, c =>
        {
            Span<MctLoss> one = stackalloc MctLoss[1];
            candidate(start[c], startPrecision, out var first);
            errors.Evaluate(c, [first], one);
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
                // A channel's candidates and losses on the stack: a tensor of thousands of channels allocates none.
                Span<MctCandidate> candidates = stackalloc MctCandidate[Intervals];
                for (int i = 0; i < Intervals; i++) candidate(thresholds[i], ParameterPrecision.Double, out candidates[i]);
                Span<MctLoss> losses = stackalloc MctLoss[Intervals];
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
                if (0 < improvement && improvement < Tolerance)
                {
                    IterationsRun = n + 1;
                    return best;
                }
            }
            (bottom, top) = Narrowed(n, bottom, top);
        }
        IterationsRun = Iterations;
        return best;
    }

    /// <summary>One iteration of the deferred search: its candidates, their bounds, and its winner (guessed until confirmed).</summary>
    private sealed class Step
    {
        public required double Bottom, Top;
        public required double[] Thresholds;
        public required MctCandidate[] Candidates;
        public required double[] Lows;

        /// <summary>The candidates the bounds leave open (lower bound not above the least upper bound).</summary>
        public required int[] Open;

        /// <summary>The winner: the open candidate with the least upper bound until the exact errors confirm or replace it.</summary>
        public required int Winner;

        public MctLoss WinnerLoss;
    }

    /// <summary>
    /// The per-tensor search computing only what decides it, several iterations' exact errors in one pass. An iteration's
    /// candidates depend only on the one before's winner (and the iteration's number); exact errors matter only for which
    /// candidate wins where the bounds leave several open, and for the best-so-far and early stop, which need not be known
    /// before the end. So the search runs ahead on bounds: each iteration's winner is guessed (the open candidate with the
    /// least upper bound), up to <see cref="Ahead"/> iterations past the last confirmed one; then one pass computes every
    /// guess not yet computed and, where a guess is already computed, each other open candidate whose lower bound does not
    /// exceed the guess's error (the rest cannot win); iterations are confirmed in order with
    /// <see cref="MctLosses.ArgMin"/> over errors exactly as the sequential search holds them (exact where open, else the
    /// lower bound); a guess proven wrong replaces its iteration's winner and the iterations after it are dropped. The
    /// confirmed iterations are replayed in order with their exact errors (best so far, strict improvement, early stop)
    /// exactly as <see cref="Run"/> does one after the other, and the search returns where that stops.
    /// Exact errors are kept by grid (the same grid has the same error). Null when the bounds leave an iteration no
    /// candidate open (they would be wrong; the caller then searches one iteration after the other).
    /// </summary>
    private double? RunDeferred(IBoundedMctErrors errors, double start, ParameterPrecision startPrecision, CandidateOf candidate)
    {
        var known = new Dictionary<(long, long, long, bool), MctLoss>();
        static (long, long, long, bool) Key(in MctCandidate c) =>
            (BitConverter.DoubleToInt64Bits(c.Grid.Low), BitConverter.DoubleToInt64Bits(c.Grid.High), BitConverter.DoubleToInt64Bits(c.Grid.Step), c.Grid.Single);
        candidate(start, startPrecision, out var startCandidate);
        var steps = new List<Step>();
        int confirmed = 0, replayed = 0;
        double best = start;
        MctLoss bestLoss = default;
        bool bestSingle = false, begun = false;
        while (true)
        {
            // Run ahead on bounds from the last winner (guessed or confirmed).
            while (steps.Count < Iterations && steps.Count - confirmed < Math.Max(1, Ahead))
            {
                int n = steps.Count;
                double bottom = BottomFactor, top = UpperFactor, current = start;
                if (n > 0)
                {
                    var before = steps[n - 1];
                    (bottom, top) = Narrowed(n - 1, before.Bottom, before.Top);
                    current = before.Thresholds[before.Winner];
                }
                // (Bounds that leave no candidate open would be wrong: then the search runs one iteration after the other.)
                if (Bound(errors, current, bottom, top, candidate) is not { } next) return null;
                steps.Add(next);
            }

            // One pass: what the confirmation of the steps not yet confirmed needs next.
            var needed = new List<MctCandidate>();
            var asked = new HashSet<(long, long, long, bool)>();
            void Need(in MctCandidate c)
            {
                var key = Key(c);
                if (!known.ContainsKey(key) && asked.Add(key)) needed.Add(c);
            }
            if (!begun) Need(startCandidate);
            for (int k = confirmed; k < steps.Count; k++)
            {
                var step = steps[k];
                if (!known.TryGetValue(Key(step.Candidates[step.Winner]), out var guess))
                {
                    Need(step.Candidates[step.Winner]);
                    continue;
                }
                foreach (int o in step.Open)
                    if (o != step.Winner && !(step.Lows[o] > guess.Value)) Need(step.Candidates[o]);
            }
            if (needed.Count > 0)
            {
                var losses = new MctLoss[needed.Count];
                errors.EvaluateExact(0, needed.ToArray(), losses);
                for (int k = 0; k < needed.Count; k++) known[Key(needed[k])] = losses[k];
            }

            // Confirm in order: the errors as the sequential search holds them, where every one that can win is known.
            while (confirmed < steps.Count)
            {
                var step = steps[confirmed];
                if (!known.TryGetValue(Key(step.Candidates[step.Winner]), out var guess)) break;
                var losses = new MctLoss[Intervals];
                for (int i = 0; i < Intervals; i++) losses[i] = new MctLoss(step.Lows[i], step.Candidates[i].Grid.Single);
                bool all = true;
                foreach (int o in step.Open)
                {
                    if (o != step.Winner && step.Lows[o] > guess.Value) continue;
                    if (known.TryGetValue(Key(step.Candidates[o]), out var exact)) losses[o] = exact;
                    else all = false;
                }
                if (!all) break;
                int winner = MctLosses.ArgMin(losses);
                step.WinnerLoss = MctLosses.Min(losses);
                confirmed++;
                if (winner != step.Winner)
                {
                    step.Winner = winner;
                    steps.RemoveRange(confirmed, steps.Count - confirmed);
                    break;
                }
            }

            // Replay the confirmed iterations as the sequential search runs them.
            if (!begun)
            {
                bestLoss = known[Key(startCandidate)];
                bestSingle = bestLoss.Single;
                begun = true;
            }
            for (; replayed < confirmed; replayed++)
            {
                var step = steps[replayed];
                var previous = bestLoss;
                bool previousSingle = bestSingle, currentSingle = step.WinnerLoss.Single;
                var winnerLoss = step.WinnerLoss;
                bool improved = winnerLoss.Value < previous.Value;
                best = MctLosses.Blend(step.Thresholds[step.Winner], best, improved);
                bestLoss = MctLosses.Blend(winnerLoss, previous, improved, currentSingle && previousSingle);
                bestSingle = currentSingle && previousSingle;
                double improvement = MctLosses.MeanImprovement([previous], [winnerLoss], currentSingle && previousSingle);
                if (0 < improvement && improvement < Tolerance)
                {
                    IterationsRun = replayed + 1;
                    return best;
                }
            }
            if (confirmed == Iterations)
            {
                IterationsRun = Iterations;
                return best;
            }
        }
    }

    private Step? Bound(IBoundedMctErrors errors, double current, double bottom, double top, CandidateOf candidate)
    {
        double low = current * bottom, high = current * top;
        var thresholds = Linspace(low, high, Intervals, (high - low) / (Intervals - 1) == 0);
        var candidates = Candidates(thresholds, candidate);
        var lows = new double[Intervals];
        var highs = new double[Intervals];
        double leastHigh = errors.Bound(0, candidates, lows, highs);
        var open = new List<int>();
        int guess = -1;
        for (int i = 0; i < Intervals; i++)
        {
            if (lows[i] > leastHigh) continue;
            open.Add(i);
            if (guess < 0 || highs[i] < highs[guess]) guess = i;
        }
        if (guess < 0) return null;
        return new Step { Bottom = bottom, Top = top, Thresholds = thresholds, Candidates = candidates, Lows = lows, Open = open.ToArray(), Winner = guess };
    }

    /// <summary>The interval's factors after iteration <paramref name="n"/>: narrowed every <see cref="DecreaseEvery"/> iterations, within their limits.</summary>
    private (double Bottom, double Top) Narrowed(int n, double bottom, double top)
    {
        if (n % DecreaseEvery != 0) return (bottom, top);
        bottom *= BottomDecrease;
        top *= UpperDecrease;
        return (BottomLimit < bottom ? BottomLimit : bottom, UpperLimit > top ? UpperLimit : top);
    }

    /// <summary>An iteration's candidates: one for each threshold, in float64.</summary>
    private static MctCandidate[] Candidates(double[] thresholds, CandidateOf candidate)
    {
        var candidates = new MctCandidate[thresholds.Length];
        for (int i = 0; i < thresholds.Length; i++) candidate(thresholds[i], ParameterPrecision.Double, out candidates[i]);
        return candidates;
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
