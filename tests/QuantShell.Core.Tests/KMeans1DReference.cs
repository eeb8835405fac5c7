namespace QuantShell.Core.Tests;

/// <summary>
/// The k-means of <see cref="QuantShell.Core.Selection.Mct.KMeans1D"/> as it was before its points were kept lean (main at
/// 8328949, unchanged but for its name and its sums being visible): the reference its tables must equal bit for bit.
/// k-means on weighted one-dimensional points as scikit-learn's KMeans runs it for MCT's LUT tables (k-means++ seeding
/// with 2 + ⌊ln k⌋ local trials per centre, Lloyd's iterations until the assignment stops changing, at most 300 (run to
/// convergence, where scikit-learn stops once the centres move less than 1e-4 of the variance), <see cref="Restarts"/>
/// seedings), with a seeded random
/// stream so the same points give the same centres on every run and machine. In one dimension a centre's cluster is the
/// run of sorted points between the midpoints to its neighbours, so every step works on prefix sums of the sorted points:
/// seeding samples a point with probability ∝ weight·D² by bisection and each iteration costs O(k log n), not O(k·n).
/// The seeding draws by weight (scikit-learn 1.3 and later; 1.2 seeds ignoring weights). The caller keeps the seeding
/// whose final table errs least (<see cref="TableError"/>), not the one with the least inertia before rounding.
/// </summary>
internal sealed class KMeans1DReference
{
    public const int Restarts = 10;
    public const int MaxIterations = 300;
    public const double Tolerance = 0;

    internal readonly double[] _points;
    internal readonly double[] _w0, _w1, _w2; // prefix sums of weight, weight·x, weight·x²
    internal readonly double[] _s0, _s1, _s2; // the same for the score weights
    private readonly double _tolerance;

    /// <summary>
    /// Points (any order, repeats allowed) with their weights (empty: 1 each; points of weight 0 are ignored) and, to
    /// score tables (<see cref="TableError"/>), score weights (empty: the weights).
    /// </summary>
    public KMeans1DReference(ReadOnlySpan<double> points, ReadOnlySpan<double> weights = default, ReadOnlySpan<double> scoreWeights = default)
    {
        var pairs = new (double X, double W, double S)[points.Length];
        int count = 0;
        for (int i = 0; i < points.Length; i++)
        {
            double w = weights.IsEmpty ? 1 : weights[i];
            if (w > 0 && double.IsFinite(points[i])) pairs[count++] = (points[i], w, scoreWeights.IsEmpty ? w : scoreWeights[i]);
        }
        Array.Sort(pairs, 0, count, Comparer<(double X, double W, double S)>.Create((a, b) => a.X.CompareTo(b.X)));
        // Equal points merged: one point with their total weight.
        var merged = new List<(double X, double W, double S)>(count);
        for (int i = 0; i < count; i++)
        {
            if (merged.Count > 0 && merged[^1].X == pairs[i].X) merged[^1] = (pairs[i].X, merged[^1].W + pairs[i].W, merged[^1].S + pairs[i].S);
            else merged.Add(pairs[i]);
        }
        _points = merged.Select(p => p.X).ToArray();
        int n = _points.Length;
        (_w0, _w1, _w2) = Prefix(merged.Select(p => (p.X, p.W)).ToList());
        (_s0, _s1, _s2) = Prefix(merged.Select(p => (p.X, p.S)).ToList());
        // A tolerance relative to the (unweighted) variance of the points, as scikit-learn's.
        double mean = 0, squares = 0;
        long all = 0;
        for (int i = 0; i < points.Length; i++)
        {
            if (!double.IsFinite(points[i])) continue;
            all++;
            double delta = points[i] - mean;
            mean += delta / all;
            squares += delta * (points[i] - mean);
        }
        _tolerance = all > 0 ? Tolerance * squares / all : 0;
    }

    private static (double[], double[], double[]) Prefix(List<(double X, double W)> points)
    {
        int n = points.Count;
        var w0 = new double[n + 1];
        var w1 = new double[n + 1];
        var w2 = new double[n + 1];
        for (int i = 0; i < n; i++)
        {
            var (x, w) = points[i];
            w0[i + 1] = w0[i] + w;
            w1[i + 1] = w1[i] + w * x;
            w2[i + 1] = w2[i] + w * x * x;
        }
        return (w0, w1, w2);
    }

    /// <summary>The distinct points.</summary>
    public int DistinctPoints => _points.Length;

    /// <summary>The centres of each of the <see cref="Restarts"/> seedings (each ascending; fewer distinct points than k repeat a centre).</summary>
    public IEnumerable<double[]> Fit(int k, int seed)
    {
        if (_points.Length == 0 || k <= 0)
        {
            yield return new double[Math.Max(k, 0)];
            yield break;
        }
        var random = new Random(seed);
        for (int run = 0; run < Restarts; run++) yield return Lloyd(Seed(k, random));
    }

    /// <summary>
    /// Integer entries nudged by ±1 while that lowers <see cref="TableError"/> (entries stay distinct, within
    /// [<paramref name="low"/>, <paramref name="high"/>]; an entry 0 stays when <paramref name="keepZero"/>): rounding the
    /// centres moves them off the best integers; this moves them back.
    /// </summary>
    public double[] Polish(double[] sortedTable, double low, double high, bool keepZero)
    {
        var table = (double[])sortedTable.Clone();
        double error = TableError(table);
        for (int pass = 0; pass < 100; pass++)
        {
            bool improved = false;
            for (int j = 0; j < table.Length; j++)
            {
                if (keepZero && table[j] == 0) continue;
                foreach (double step in new[] { -1.0, 1.0 })
                {
                    double moved = table[j] + step;
                    if (moved < low || moved > high || (j > 0 && moved <= table[j - 1]) || (j + 1 < table.Length && moved >= table[j + 1])) continue;
                    double original = table[j];
                    table[j] = moved;
                    double e = TableError(table);
                    if (e < error) { error = e; improved = true; break; }
                    table[j] = original;
                }
            }
            if (!improved) break;
        }
        return table;
    }

    /// <summary>Σ score weight · (x - nearest entry)² of a table (ascending; ties to the lower entry, as the LUT kernel's first index).</summary>
    public double TableError(double[] sortedTable)
    {
        double total = 0;
        for (int c = 0; c < sortedTable.Length; c++)
        {
            var (start, end) = Cluster(sortedTable, c);
            double w = _s0[end] - _s0[start], wx = _s1[end] - _s1[start], wxx = _s2[end] - _s2[start];
            double center = sortedTable[c];
            total += Math.Max(0, wxx - 2 * center * wx + center * center * w);
        }
        return total;
    }

    // ---- k-means++ ----

    private double[] Seed(int k, Random random)
    {
        var centers = new List<double>(k) { _points[SampleByWeight(random.NextDouble() * _w0[^1])] };
        int trials = 2 + (int)Math.Log(k);
        while (centers.Count < k)
        {
            var sorted = centers.Order().ToArray();
            double potential = Potential(sorted);
            if (!(potential > 0))
            {
                // Every point is a centre already: repeat one.
                centers.Add(centers[0]);
                continue;
            }
            double bestCandidate = double.NaN, bestPotential = double.PositiveInfinity;
            for (int t = 0; t < trials; t++)
            {
                double candidate = _points[SampleByPotential(sorted, random.NextDouble() * potential)];
                var with = sorted.Append(candidate).Order().ToArray();
                double p = Potential(with);
                if (double.IsNaN(bestCandidate) || p < bestPotential)
                {
                    bestCandidate = candidate;
                    bestPotential = p;
                }
            }
            centers.Add(bestCandidate);
        }
        return centers.Order().ToArray();
    }

    /// <summary>The point at which the cumulative weight (points ascending) passes <paramref name="target"/>.</summary>
    private int SampleByWeight(double target)
    {
        int low = 0, high = _points.Length - 1;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (_w0[mid + 1] > target) high = mid;
            else low = mid + 1;
        }
        return low;
    }

    /// <summary>The point at which the cumulative weight·D² (points ascending) passes <paramref name="target"/>.</summary>
    private int SampleByPotential(double[] centers, double target)
    {
        double cumulative = 0;
        int lastNonEmpty = _points.Length - 1;
        for (int c = 0; c < centers.Length; c++)
        {
            var (start, end) = Cluster(centers, c);
            if (start == end) continue;
            lastNonEmpty = end - 1;
            double segment = SegmentPotential(start, end, centers[c]);
            if (cumulative + segment > target)
            {
                int low = start, high = end - 1;
                while (low < high)
                {
                    int mid = (low + high) >>> 1;
                    if (cumulative + SegmentPotential(start, mid + 1, centers[c]) > target) high = mid;
                    else low = mid + 1;
                }
                return low;
            }
            cumulative += segment;
        }
        return lastNonEmpty; // rounding left the target just past the total
    }

    // ---- Lloyd ----

    private double[] Lloyd(double[] centers)
    {
        var bounds = new int[centers.Length + 1];
        for (int iteration = 0; iteration < MaxIterations; iteration++)
        {
            var next = new double[centers.Length];
            bool sameAssignment = true;
            for (int c = 0; c < centers.Length; c++)
            {
                var (start, end) = Cluster(centers, c);
                sameAssignment &= bounds[c] == start && bounds[c + 1] == end;
                bounds[c] = start;
                bounds[c + 1] = end;
                double weight = _w0[end] - _w0[start];
                next[c] = weight > 0 ? (_w1[end] - _w1[start]) / weight : double.NaN;
            }
            Relocate(centers, next);
            Array.Sort(next);
            double shift = 0;
            for (int c = 0; c < centers.Length; c++) shift += (next[c] - centers[c]) * (next[c] - centers[c]);
            centers = next;
            if ((iteration > 0 && sameAssignment) || shift <= _tolerance) break;
        }
        return centers;
    }

    /// <summary>
    /// Empty clusters (NaN in <paramref name="next"/>) move to the points farthest from their centres, as scikit-learn
    /// relocates them; with too few distinct points left they keep their centre.
    /// </summary>
    private void Relocate(double[] centers, double[] next)
    {
        int empty = next.Count(double.IsNaN);
        if (empty == 0) return;
        // A cluster's farthest points are its run's ends.
        var ends = new List<(double Distance, double Point)>();
        for (int c = 0; c < centers.Length; c++)
        {
            var (start, end) = Cluster(centers, c);
            if (start == end) continue;
            ends.Add((Math.Abs(_points[start] - centers[c]), _points[start]));
            if (end - 1 > start) ends.Add((Math.Abs(_points[end - 1] - centers[c]), _points[end - 1]));
        }
        var farthest = ends.Where(e => e.Distance > 0 && !next.Contains(e.Point)).OrderByDescending(e => e.Distance).Select(e => e.Point).Distinct().ToList();
        int used = 0;
        for (int c = 0; c < next.Length; c++)
        {
            if (!double.IsNaN(next[c])) continue;
            next[c] = used < farthest.Count ? farthest[used++] : centers[c];
        }
    }

    // ---- sums over runs of sorted points ----

    /// <summary>The run of points [start, end) nearest to centre <paramref name="c"/> of the ascending <paramref name="centers"/> (ties to the lower centre).</summary>
    private (int Start, int End) Cluster(double[] centers, int c)
    {
        int start = c == 0 ? 0 : FirstAbove((centers[c - 1] + centers[c]) / 2);
        int end = c == centers.Length - 1 ? _points.Length : FirstAbove((centers[c] + centers[c + 1]) / 2);
        return (start, Math.Max(start, end));
    }

    /// <summary>The first point index whose value is greater than <paramref name="value"/>.</summary>
    private int FirstAbove(double value)
    {
        int low = 0, high = _points.Length;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (_points[mid] > value) high = mid;
            else low = mid + 1;
        }
        return low;
    }

    private double SegmentPotential(int start, int end, double center)
    {
        double w = _w0[end] - _w0[start], wx = _w1[end] - _w1[start], wxx = _w2[end] - _w2[start];
        return Math.Max(0, wxx - 2 * center * wx + center * center * w);
    }

    private double Potential(double[] sortedCenters)
    {
        double total = 0;
        for (int c = 0; c < sortedCenters.Length; c++)
        {
            var (start, end) = Cluster(sortedCenters, c);
            total += SegmentPotential(start, end, sortedCenters[c]);
        }
        return total;
    }
}
