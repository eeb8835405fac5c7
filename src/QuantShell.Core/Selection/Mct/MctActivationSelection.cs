namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's choice of activation thresholds and ranges (<c>get_activations_qparams</c> with
/// <c>power_of_two_selection_histogram</c>, <c>symmetric_selection_histogram</c>, <c>uniform_selection_histogram</c>) from
/// the histogram of <see cref="ActivationHistogram"/> after the z-score filter. Every rule is in docs/selection.md.
/// </summary>
internal static class MctActivationSelection
{
    /// <summary>MCT's candidates of the power-of-two histogram search (halvings from twice the power of two above max|edge|).</summary>
    public const int PotCandidates = 20;

    /// <summary>Signed as MCT decides when nothing forces it: some non-empty bin's left edge is negative.</summary>
    public static bool Signed(ActivationHistogram histogram)
    {
        for (int i = 0; i < histogram.Counts.Length; i++)
            if (histogram.Counts[i] > 0 && histogram.Edges[i] < 0) return true;
        return false;
    }

    /// <summary>max|right edge| over the non-empty bins (MCT's no-clipping maximum of a histogram).</summary>
    public static double MaxAbsRightEdge(ActivationHistogram histogram)
    {
        double max = double.NegativeInfinity;
        for (int i = 0; i < histogram.Counts.Length; i++)
            if (histogram.Counts[i] > 0) max = Math.Max(max, Math.Abs(histogram.Edges[i + 1]));
        return max;
    }

    public static double PotThreshold(ActivationHistogram histogram, int numBits, bool signed, ErrorMethod method, double p)
    {
        if (method == ErrorMethod.NoClipping)
            return MctWeightsSelection.MaxPowerOfTwo(MaxAbsRightEdge(histogram), ParameterPrecision.Double);
        // The search starts from max|edge| over every edge, empty bins and bins the z-score filter zeroed included.
        double maxAbs = 0;
        foreach (double e in histogram.Edges) maxAbs = Math.Max(maxAbs, Math.Abs(e));
        double first = 2 * MctWeightsSelection.MaxPowerOfTwo(maxAbs, ParameterPrecision.Double);
        var candidates = new MctCandidate[PotCandidates];
        var thresholds = new double[PotCandidates];
        var exponents = NumpyLinspace.Create(0, PotCandidates - 1, PotCandidates);
        for (int k = 0; k < PotCandidates; k++)
        {
            double t = thresholds[k] = first / Math.Pow(2, exponents[k]);
            // MCT measures KL over [-t, t] for a power of two, signed or not.
            candidates[k] = new MctCandidate(MctGrid.FromThreshold(t, numBits, signed, ParameterPrecision.Double, false), -t, t, ParameterPrecision.Double, false);
        }
        var losses = new MctLoss[PotCandidates];
        new HistogramErrors(histogram.Edges, histogram.Counts, method, p).Evaluate(0, candidates, losses);
        return MctWeightsSelection.NumpyMaximum(thresholds[MctLosses.ArgMin(losses)], MctWeightsSelection.MinThreshold);
    }

    public static double SymmetricThreshold(ActivationHistogram histogram, int numBits, bool signed, ErrorMethod method, double p)
    {
        double start = MctWeightsSelection.PythonMax(MctWeightsSelection.MinThreshold, MaxAbsRightEdge(histogram));
        if (method == ErrorMethod.NoClipping) return start;
        var search = new SymmetricIntervalSearch { Iterations = 20, DecreaseEvery = 4, PerChannel = false };
        var best = search.Run(new HistogramErrors(histogram.Edges, histogram.Counts, method, p), [start], ParameterPrecision.Double,
            (double t, ParameterPrecision prec, out MctCandidate candidate) => candidate = new MctCandidate(MctGrid.FromThreshold(t, numBits, signed, prec, false), signed ? -t : 0, t, prec, false));
        return MctWeightsSelection.PythonMax(MctWeightsSelection.MinThreshold, best[0]);
    }

    public static (double Min, double Max) UniformRange(ActivationHistogram histogram, int numBits, ErrorMethod method, double p)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        for (int i = 0; i < histogram.Counts.Length; i++)
        {
            if (!(histogram.Counts[i] > 0)) continue;
            min = Math.Min(min, histogram.Edges[i]);
            max = Math.Max(max, histogram.Edges[i + 1]);
        }
        if (method == ErrorMethod.NoClipping) return (min, max);
        var search = new UniformRangeSearch { Factors = 12, Iterations = 30, PerChannel = false };
        var best = search.Run(new HistogramErrors(histogram.Edges, histogram.Counts, method, p), [(min, max)], ParameterPrecision.Double,
            (double a, double b, ParameterPrecision prec, out MctCandidate candidate) => candidate = new MctCandidate(MctGrid.FromRange(a, b, numBits, prec, false), a, b, prec, false));
        return best[0];
    }
}
