namespace QuantShell.Core.Selection;

/// <summary>
/// Chooses a LUT's table as MCT does, by k-means on the values scaled into the LUT's integer range, but
/// deterministically: Lloyd's iterations from centres at the quantiles of the data, centres rounded to integers in
/// the range after every step, 0 always one of them (MCT replaces the centre nearest to 0 by 0; here it is kept from
/// the start so the others settle around it), empty clusters dropped, at most <see cref="MaxIterations"/> steps.
/// Same histogram, same table, on every run and machine (no random seeding, no parallel sums).
/// </summary>
internal static class LutTableFit
{
    public const int MaxIterations = 100;

    /// <summary>At most <paramref name="entries"/> distinct integer entries, ascending, 0 among them.</summary>
    public static double[] Fit(ScaledHistogram histogram, int entries)
    {
        double total = histogram.Counts.Sum();
        if (total == 0 || entries <= 1) return [0];

        // Initial centres: the means of the bins at the quantiles (i + 1/2) / entries, the one nearest to 0 replaced by 0.
        var quantiles = new List<double>(entries);
        double cumulative = 0;
        int bin = 0;
        for (int i = 0; i < entries; i++)
        {
            double target = (i + 0.5) / entries * total;
            while (bin < histogram.Counts.Length - 1 && cumulative + histogram.Counts[bin] < target)
                cumulative += histogram.Counts[bin++];
            int at = bin;
            while (at < histogram.Counts.Length - 1 && histogram.Counts[at] == 0) at++;
            if (histogram.Counts[at] > 0) quantiles.Add(Round(histogram.Sums[at] / histogram.Counts[at], histogram));
        }
        var centers = new SortedSet<double>(quantiles.Distinct());
        if (!centers.Contains(0))
        {
            if (centers.Count >= entries) centers.Remove(centers.MinBy(Math.Abs));
            centers.Add(0);
        }

        var current = centers.ToArray();
        for (int iteration = 0; iteration < MaxIterations; iteration++)
        {
            var next = Step(histogram, current);
            if (next.AsSpan().SequenceEqual(current)) break;
            current = next;
        }
        return current;
    }

    /// <summary>One Lloyd step: each bin to its nearest centre (boundaries at half units), each centre to its cluster's rounded mean.</summary>
    private static double[] Step(ScaledHistogram histogram, double[] centers)
    {
        var counts = new double[centers.Length];
        var sums = new double[centers.Length];
        int cluster = 0;
        double boundary = centers.Length > 1 ? (centers[0] + centers[1]) / 2 : double.PositiveInfinity;
        for (int bin = 0; bin < histogram.Counts.Length; bin++)
        {
            double count = histogram.Counts[bin];
            if (count == 0) continue;
            double start = histogram.Start(bin);
            while (boundary <= start)
            {
                cluster++;
                boundary = cluster + 1 < centers.Length ? (centers[cluster] + centers[cluster + 1]) / 2 : double.PositiveInfinity;
            }
            counts[cluster] += count;
            sums[cluster] += histogram.Sums[bin];
        }
        // New centres ascending (rounded means keep the clusters' order), 0 kept, empty clusters and repeats dropped.
        var next = new List<double>(centers.Length);
        for (int c = 0; c < centers.Length; c++)
        {
            double center = centers[c] == 0 ? 0 : counts[c] == 0 ? double.NaN : Round(sums[c] / counts[c], histogram);
            if (double.IsNaN(center)) continue;
            if (next.Count > 0 && next[^1] >= center)
            {
                if (center == 0) next[^1] = 0; // a neighbour rounded onto or past the pinned 0
                continue;
            }
            next.Add(center);
        }
        return next.ToArray();
    }

    private static double Round(double mean, ScaledHistogram histogram) =>
        Math.Clamp(Math.Round(mean, MidpointRounding.ToEven), histogram.Low, histogram.High);
}
