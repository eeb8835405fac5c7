namespace QuantShell.Core.Selection.Mct;

/// <summary>The candidate of the range (min, max) computed in <paramref name="precision"/>, written into <paramref name="candidate"/> (see <see cref="CandidateOf"/>).</summary>
internal delegate void RangeCandidateOf(double min, double max, ParameterPrecision precision, out MctCandidate candidate);

/// <summary>
/// MCT's range search for uniform quantizers (<c>iterative_uniform_dynamic_range_search</c> with
/// <c>search_dynamic_range</c>): from the no-clipping range (min, max), each iteration scores every range
/// (α·min, β·max) with α and β each from <c>np.linspace(0.7, 1.2, k)</c> (k = 8 for tensors, 12 for activation
/// histograms; α the outer loop), around the previous iteration's winner. The best range seen is kept (replaced only when
/// strictly better) and the search stops early on an average improvement in (0, 1e-11), as
/// <see cref="SymmetricIntervalSearch"/> does; there is no narrowing.
/// </summary>
internal sealed class UniformRangeSearch
{
    /// <summary>k: factors per side (MCT: 8 for tensors, 12 for histograms).</summary>
    public required int Factors { get; init; }

    /// <summary>MCT: 30 per tensor and for histograms, 10 per channel.</summary>
    public required int Iterations { get; init; }

    public required bool PerChannel { get; init; }

    /// <summary>The best (min, max) of each channel, from <paramref name="start"/> in <paramref name="startPrecision"/>.</summary>
    public (double Min, double Max)[] Run(IMctErrors errors, (double Min, double Max)[] start, ParameterPrecision startPrecision,
                                          RangeCandidateOf candidate, SearchRecord<(double Min, double Max)>? record = null)
    {
        var alphas = NumpyLinspace.Create(SymmetricIntervalSearch.BottomFactor, SymmetricIntervalSearch.UpperFactor, Factors);
        int channels = start.Length, count = Factors * Factors;
        var current = ((double Min, double Max)[])start.Clone();
        var best = ((double Min, double Max)[])start.Clone();
        var bestLoss = new MctLoss[channels];
        PerChannelDo(channels, c =>
        {
            Span<MctLoss> one = stackalloc MctLoss[1];
            candidate(start[c].Min, start[c].Max, startPrecision, out var first);
            errors.Evaluate(c, [first], one);
            bestLoss[c] = one[0];
        });
        bool bestSingle = MctLosses.AllSingle(bestLoss);
        record?.Begin(start, bestSingle);
        var winners = new (double Min, double Max)[channels];
        var winnerLoss = new MctLoss[channels];
        var winnerSingle = new bool[channels];
        for (int n = 0; n < Iterations; n++)
        {
            var previous = (MctLoss[])bestLoss.Clone();
            bool previousSingle = bestSingle;
            PerChannelDo(channels, c =>
            {
                // A channel's set on the stack (64 or 144 candidates): a tensor of thousands of channels allocates none.
                Span<(double Min, double Max)> ranges = stackalloc (double Min, double Max)[count];
                Span<MctCandidate> candidates = stackalloc MctCandidate[count];
                for (int i = 0; i < Factors; i++)
                    for (int j = 0; j < Factors; j++)
                    {
                        var range = (current[c].Min * alphas[i], current[c].Max * alphas[j]);
                        ranges[i * Factors + j] = range;
                        candidate(range.Item1, range.Item2, ParameterPrecision.Double, out candidates[i * Factors + j]);
                    }
                Span<MctLoss> losses = stackalloc MctLoss[count];
                errors.Evaluate(c, candidates, losses);
                winnerSingle[c] = MctLosses.AllSingle(losses);
                if (PerChannel)
                {
                    var param = ranges[0];
                    var loss = losses[0];
                    for (int k = 1; k < count; k++)
                    {
                        bool improved = losses[k].Value < loss.Value;
                        param = (MctLosses.Blend(ranges[k].Min, param.Min, improved), MctLosses.Blend(ranges[k].Max, param.Max, improved));
                        loss = new MctLoss(MctLosses.Blend(losses[k].Value, loss.Value, improved), false);
                    }
                    winners[c] = param;
                    winnerLoss[c] = loss;
                }
                else
                {
                    winners[c] = ranges[MctLosses.ArgMin(losses)];
                    winnerLoss[c] = MctLosses.Min(losses);
                }
            });
            bool currentSingle = true;
            foreach (bool s in winnerSingle) currentSingle &= s;
            for (int c = 0; c < channels; c++)
            {
                winnerLoss[c] = winnerLoss[c] with { Single = currentSingle };
                current[c] = winners[c];
                bool improved = winnerLoss[c].Value < previous[c].Value;
                best[c] = (MctLosses.Blend(winners[c].Min, best[c].Min, improved), MctLosses.Blend(winners[c].Max, best[c].Max, improved));
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
                if (0 < improvement && improvement < SymmetricIntervalSearch.Tolerance) break;
            }
        }
        return best;
    }

    private static void PerChannelDo(int channels, Action<int> body)
    {
        if (channels == 1) body(0);
        else Parallel.For(0, channels, body);
    }
}
