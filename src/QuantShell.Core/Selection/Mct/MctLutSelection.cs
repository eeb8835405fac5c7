using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's LUT choice (<c>lut_kmeans_tensor</c> for weights, <c>lut_kmeans_histogram</c> for activations): the threshold
/// by the no-clipping rule (weights: symmetric or power of two with the LUT's bit width in the expansion factor;
/// activations: the power of two above max|right edge| of the non-empty bins), the values scaled into the table's integer
/// range, <c>clip(x / (t + eps) · 2^(B - signed), lo, hi)</c>, and k-means (<see cref="KMeans1D"/>, seed
/// <see cref="Seed"/>) with min(2^n, distinct values) clusters, the centres rounded half to even (duplicates merged) and
/// nudged to neighbouring integers while that lowers the error; of the ten seedings the table kept is the one whose error
/// on the data is least (MCT keeps the least inertia before rounding). Weights: when there are
/// fewer distinct values than 2^n and no centre is 0, 0 is added; then the centre nearest to 0 becomes 0. Activations:
/// k-means over the 2049 edges weighted by the count of the bin each closes (the first edge weighs 0), no 0 forced.
/// </summary>
internal static class MctLutSelection
{
    /// <summary>The k-means seed: MCT's k-means is unseeded, QuantShell's gives the same table on every run.</summary>
    public const int Seed = 0;

    /// <summary>Thresholds (per channel or one) by MCT's rule for a weights LUT.</summary>
    public static double[] WeightsThresholds<T>(T[][] channels, int numBits, bool pot, bool perChannel)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        pot ? MctWeightsSelection.PotThresholds(channels, numBits, true, perChannel, ErrorMethod.NoClipping, 2)
            : MctWeightsSelection.SymmetricThresholds(channels, numBits, true, perChannel, ErrorMethod.NoClipping, 2);

    /// <summary>
    /// <see cref="WeightsThresholds{T}(T[][], int, bool, bool)"/> from each channel's least and greatest finite values (MCT's
    /// no-clipping rule depends on nothing else).
    /// </summary>
    public static double[] WeightsThresholds<T>(T[] mins, T[] maxs, int numBits, bool pot, bool perChannel)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        pot ? MctWeightsSelection.PotNoClipping(mins, maxs, numBits, perChannel)
            : MctWeightsSelection.SymmetricNoClipping(mins, maxs, numBits, perChannel);

    /// <summary>
    /// The table for weights (signed), on every channel's values scaled by its threshold and pooled. Where the points are
    /// aggregated, <c>aggregated</c> is told each bin's count, sum of scaled values and sum of score weights (for tests).
    /// </summary>
    public static double[] WeightsTable<T>(T[][] channels, double[] thresholds, int numBits, int lutBitwidth, double eps, bool perChannelThresholds,
                                          long aggregateFrom = AggregateFrom, Action<double[], double[], double[]>? aggregated = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        float k = MathF.ScaleB(1f, lutBitwidth - 1), low = -k, high = k - 1;
        long total = channels.Sum(c => (long)c.Length);
        // Up to AggregateFrom values each is a point; beyond, points in the same 1/AggregateResolution of an integer step
        // are one point at their weighted mean, with their total weight, so memory does not grow with the tensor.
        if (total < aggregateFrom)
        {
            // Each value a point, scaled as below; a channel's squared error in its values is (t/k)² times that of its
            // scaled values, so its points weigh t² (in k-means and in scoring tables).
            var kmeans = single ? ScaledPoints<T, float>(channels, thresholds, eps, perChannelThresholds, k, low, high, total)
                                : ScaledPoints<T, double>(channels, thresholds, eps, perChannelThresholds, k, low, high, total);
            var table = Table(kmeans, DistinctUpTo(channels, 1 << numBits), numBits, low, high);
            // The points (sorted in place of the scaled values) and k-means' sums are garbage now: counted like a tensor
            // read whole, so that a model's tensors do not pile them up before the collector runs.
            Processing.WholeTensorMemory.Release(kmeans.Bytes + kmeans.SortBytes);
            return table;
        }
        int bins = (int)((high - low) * AggregateResolution) + 1;
        var binWeight = new double[bins];
        var binSum = new double[bins];
        var binScore = new double[bins];
        void Add(double value, double score)
        {
            int bin = (int)((value - low) * AggregateResolution);
            binWeight[bin] += 1;
            binSum[bin] += value;
            binScore[bin] += score;
        }
        for (int c = 0; c < channels.Length; c++)
        {
            double t = thresholds[c];
            if (single)
            {
                // Per tensor the divisor is t + eps in float64, rounded for the float32 division; per channel the
                // thresholds are a float32 array and the sum is taken in float32.
                float divisor = perChannelThresholds ? (float)t + (float)eps : (float)(t + eps);
                foreach (T value in channels[c]) Add(Math.Clamp(float.CreateTruncating(value) / divisor * k, low, high), t * t);
            }
            else
            {
                double divisor = t + eps;
                foreach (T value in channels[c]) Add(Math.Clamp(double.CreateTruncating(value) / divisor * k, low, high), t * t);
            }
        }
        aggregated?.Invoke(binWeight, binSum, binScore);
        return TableFromBins(binWeight, binSum, binScore, DistinctUpTo(channels, 1 << numBits), numBits, lutBitwidth);
    }

    /// <summary>
    /// k-means on every value of <see cref="WeightsTable{T}"/>'s channels scaled as there, clip(x / divisor · k, low, high)
    /// (float32 values in float32, <typeparamref name="TKey"/>; NaN, from a zero divisor, left out), each of weight t² (its
    /// channel's threshold squared, in scoring too): the scaled values are the only copy, sorted in place.
    /// </summary>
    private static KMeans1D ScaledPoints<T, TKey>(T[][] channels, double[] thresholds, double eps, bool perChannelThresholds, float k, float low, float high, long total)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKey : unmanaged, IFloatingPointIeee754<TKey>
    {
        var keys = new TKey[total];
        var counts = new int[channels.Length];
        var weights = new double[channels.Length];
        int at = 0;
        for (int c = 0; c < channels.Length; c++)
        {
            double t = thresholds[c];
            weights[c] = t * t;
            int from = at;
            if (typeof(TKey) == typeof(float))
            {
                // Per tensor the divisor is t + eps in float64, rounded for the float32 division; per channel the
                // thresholds are a float32 array and the sum is taken in float32.
                var into = (float[])(object)keys;
                float divisor = perChannelThresholds ? (float)t + (float)eps : (float)(t + eps);
                foreach (T value in channels[c])
                {
                    float v = Math.Clamp(float.CreateTruncating(value) / divisor * k, low, high);
                    if (!float.IsNaN(v)) into[at++] = v;
                }
            }
            else
            {
                var into = (double[])(object)keys;
                double divisor = t + eps;
                foreach (T value in channels[c])
                {
                    double v = Math.Clamp(double.CreateTruncating(value) / divisor * k, low, high);
                    if (!double.IsNaN(v)) into[at++] = v;
                }
            }
            counts[c] = at - from;
        }
        return KMeans1D.OfChannels(keys, at, counts, weights);
    }

    /// <summary>
    /// The table from the aggregated points of <see cref="WeightsTable{T}"/> (each bin's count, sum of scaled values and
    /// sum of score weights) and the count of distinct values up to one more than 2^n.
    /// </summary>
    public static double[] TableFromBins(double[] binWeight, double[] binSum, double[] binScore, int distinct, int numBits, int lutBitwidth)
    {
        float k = MathF.ScaleB(1f, lutBitwidth - 1), low = -k, high = k - 1;
        var used = Enumerable.Range(0, binWeight.Length).Where(i => binWeight[i] > 0).ToArray();
        var scaled = used.Select(i => binSum[i] / binWeight[i]).ToArray();
        var scoreWeights = used.Select(i => binScore[i]).ToArray();
        var weights = used.Select(i => binWeight[i]).ToArray();
        return Table(new KMeans1D(scaled, weights, scoreWeights), distinct, numBits, low, high);
    }

    /// <summary>Values from which the points of a weights table are aggregated (see <see cref="WeightsTable{T}"/>).</summary>
    public const long AggregateFrom = 1L << 22;

    /// <summary>Aggregation bins per integer step of the scaled values.</summary>
    public const int AggregateResolution = 256;

    /// <summary>The number of distinct values, counted up to one more than <paramref name="limit"/>.</summary>
    private static int DistinctUpTo<T>(T[][] channels, int limit) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var seen = new HashSet<T>();
        foreach (var channel in channels)
            foreach (T value in channel)
                if (seen.Add(value) && seen.Count > limit) return seen.Count;
        return seen.Count;
    }

    private static double[] Table(KMeans1D kmeans, int distinct, int numBits, float low, float high)
    {
        int clusters = Math.Min(1 << numBits, distinct);
        return Best(kmeans, kmeans.Fit(clusters, Seed).Select(run =>
            kmeans.Polish(RoundedCenters(run, distinct, numBits), low, high, keepZero: true)));
    }

    /// <summary>
    /// One k-means run's centres as MCT keeps them: rounded; a 0 added when the data has fewer distinct values than
    /// entries and no centre is 0; the centre nearest 0 made 0; ascending, without repeats.
    /// </summary>
    internal static double[] RoundedCenters(IEnumerable<double> run, int distinct, int numBits)
    {
        var centers = run.Select(v => Math.Round(v)).ToList();
        if (distinct < 1 << numBits && centers.All(v => v != 0)) centers.Insert(0, 0);
        int nearest = 0;
        for (int i = 1; i < centers.Count; i++)
            if (Math.Abs(centers[i]) < Math.Abs(centers[nearest])) nearest = i;
        centers[nearest] = 0;
        return centers.Order().Distinct().ToArray();
    }

    /// <summary>Of the seedings' final tables, the one that errs least on the points (the first on a tie).</summary>
    private static double[] Best(KMeans1D kmeans, IEnumerable<double[]> tables)
    {
        double[]? best = null;
        double bestError = double.PositiveInfinity;
        foreach (var table in tables)
        {
            double error = kmeans.TableError(table);
            if (best is null || error < bestError) (best, bestError) = (table, error);
        }
        return best!;
    }

    /// <summary>The threshold for an activation LUT: the power of two above max|right edge| of the non-empty bins.</summary>
    public static double ActivationThreshold(ActivationHistogram histogram) =>
        MctWeightsSelection.MaxPowerOfTwo(MctActivationSelection.MaxAbsRightEdge(histogram), ParameterPrecision.Double);

    public static double[] ActivationTable(ActivationHistogram histogram, double threshold, bool signed, int numBits, int lutBitwidth, double eps)
    {
        double k = Math.ScaleB(1.0, lutBitwidth - (signed ? 1 : 0));
        double low = signed ? -Math.ScaleB(1.0, lutBitwidth - 1) : 0, high = signed ? Math.ScaleB(1.0, lutBitwidth - 1) - 1 : Math.ScaleB(1.0, lutBitwidth) - 1;
        var edges = histogram.Edges;
        var scaled = new double[edges.Length];
        var weights = new double[edges.Length];
        for (int i = 0; i < edges.Length; i++)
        {
            scaled[i] = Math.Clamp(edges[i] / (threshold + eps) * k, low, high);
            weights[i] = i == 0 ? 0 : histogram.Counts[i - 1];
        }
        // The clusters: as many as distinct |right edges| of non-empty bins, at most 2^n.
        var distinct = new HashSet<double>();
        for (int i = 0; i < histogram.Counts.Length; i++)
            if (histogram.Counts[i] > 0) distinct.Add(Math.Abs(edges[i + 1]));
        int clusters = Math.Min(1 << numBits, distinct.Count);
        var kmeans = new KMeans1D(scaled, weights);
        return Best(kmeans, kmeans.Fit(clusters, Seed).Select(run =>
            kmeans.Polish(run.Select(v => (double)(float)Math.Round(v)).Order().Distinct().ToArray(), low, high, keepZero: false)));
    }
}
