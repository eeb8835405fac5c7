namespace QuantShell.Core.Selection;

/// <summary>
/// Chooses a LUT's table as MCT does, by k-means on the values scaled into the LUT's integer range, but
/// deterministically: Lloyd's iterations from centres at the quantiles of the data, centres rounded to integers in
/// the range after every step, 0 always one of them (MCT replaces the centre nearest to 0 by 0; here it is kept from
/// the start so the others settle around it), empty clusters dropped, at most <see cref="MaxIterations"/> steps.
/// A table that ends with fewer than 2^n entries while the data has more distinct integers to offer (clusters emptied
/// by sparse or outlier-heavy data) is grown: the cluster with the largest error is split at the far side of its
/// values and Lloyd's iterations run again, as long as that lowers the error. Same histogram, same table, on every run
/// and machine (no random seeding, no parallel sums).
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

        var current = Lloyd(histogram, centers.ToArray());
        double error = Error(histogram, current);
        while (current.Length < entries)
        {
            var grown = Grow(histogram, current, error);
            if (grown is null) break;
            (current, error) = grown.Value;
        }
        return current;
    }

    private static double[] Lloyd(ScaledHistogram histogram, double[] current)
    {
        for (int iteration = 0; iteration < MaxIterations; iteration++)
        {
            var next = Step(histogram, current);
            if (next.AsSpan().SequenceEqual(current)) break;
            current = next;
        }
        return current;
    }

    /// <summary>
    /// One more entry: the clusters by descending error, each split once (a new centre at the rounded mean of its values
    /// on the side farther from the centre) and settled by Lloyd's iterations; the first split that lowers the error wins.
    /// </summary>
    private static (double[] Table, double Error)? Grow(ScaledHistogram histogram, double[] centers, double error)
    {
        var clusters = Clusters(histogram, centers);
        foreach (int c in Enumerable.Range(0, centers.Length).OrderByDescending(c => clusters[c].Error))
        {
            var (_, belowCount, belowSum, aboveCount, aboveSum) = clusters[c];
            // The side with more squared distance from the centre gets the new entry.
            double below = belowCount > 0 ? belowCount * Math.Pow(centers[c] - belowSum / belowCount, 2) : 0;
            double above = aboveCount > 0 ? aboveCount * Math.Pow(aboveSum / aboveCount - centers[c], 2) : 0;
            if (below == 0 && above == 0) continue;
            double split = above >= below ? Round(aboveSum / aboveCount, histogram) : Round(belowSum / belowCount, histogram);
            if (centers.Contains(split)) continue;
            var table = Lloyd(histogram, centers.Append(split).Order().ToArray());
            double grownError = Error(histogram, table);
            if (grownError < error) return (table, grownError);
        }
        return null;
    }

    /// <summary>Per centre: its bins' squared error, and the count and sum of its values below and above it.</summary>
    private static (double Error, double BelowCount, double BelowSum, double AboveCount, double AboveSum)[] Clusters(ScaledHistogram histogram, double[] centers)
    {
        var result = new (double, double, double, double, double)[centers.Length];
        for (int bin = 0; bin < histogram.Counts.Length; bin++)
        {
            double count = histogram.Counts[bin];
            if (count == 0) continue;
            int c = Nearest(centers, histogram.Start(bin));
            double mean = histogram.Sums[bin] / count;
            var (e, bc, bs, ac, asum) = result[c];
            e += count * (mean - centers[c]) * (mean - centers[c]);
            if (mean < centers[c]) { bc += count; bs += histogram.Sums[bin]; }
            else if (mean > centers[c]) { ac += count; asum += histogram.Sums[bin]; }
            result[c] = (e, bc, bs, ac, asum);
        }
        return result;
    }

    /// <summary>
    /// Σ count·(bin mean - its centre)² over the bins: the table's squared error on the scaled values up to a term the
    /// table does not change (the spread within each bin).
    /// </summary>
    private static double Error(ScaledHistogram histogram, double[] centers)
    {
        double error = 0;
        for (int bin = 0; bin < histogram.Counts.Length; bin++)
        {
            double count = histogram.Counts[bin];
            if (count == 0) continue;
            double d = histogram.Sums[bin] / count - centers[Nearest(centers, histogram.Start(bin))];
            error += count * d * d;
        }
        return error;
    }

    /// <summary>The centre whose cluster holds the bin starting at <paramref name="start"/> (boundaries halfway between centres).</summary>
    private static int Nearest(double[] centers, double start)
    {
        int c = 0;
        while (c + 1 < centers.Length && (centers[c] + centers[c + 1]) / 2 <= start) c++;
        return c;
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
