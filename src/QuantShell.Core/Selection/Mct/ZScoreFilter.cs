namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's outlier filter for activation histograms (<c>z_score_filter</c>): with the bins' left edges as values and the
/// counts as weights, μ = Σ e·c / Σ c and σ = √(Σ (e - μ)²·c / Σ c); every bin whose |e - μ| / σ exceeds the threshold
/// gets count 0 (its edges stay). MCT's default threshold is infinity, which zeroes nothing.
/// </summary>
internal static class ZScoreFilter
{
    public static double[] Apply(double threshold, ReadOnlySpan<double> edges, ReadOnlySpan<double> counts)
    {
        var filtered = counts.ToArray();
        if (double.IsPositiveInfinity(threshold)) return filtered; // no z-score exceeds it, not even NaN's
        int n = counts.Length;
        var buffer = new double[n];
        for (int i = 0; i < n; i++) buffer[i] = edges[i] * counts[i];
        double total = NumpySum.Sum(counts);
        double mean = NumpySum.Sum(buffer) / total;
        for (int i = 0; i < n; i++) buffer[i] = Math.Pow(edges[i] - mean, 2.0) * counts[i];
        double sigma = Math.Sqrt(NumpySum.Sum(buffer) / total);
        for (int i = 0; i < n; i++)
        {
            if (Math.Abs(edges[i] - mean) / sigma > threshold) filtered[i] = 0;
        }
        return filtered;
    }
}
