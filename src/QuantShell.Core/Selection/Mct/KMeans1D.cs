using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// k-means on weighted one-dimensional points as scikit-learn's KMeans runs it for MCT's LUT tables (k-means++ seeding
/// with 2 + ⌊ln k⌋ local trials per centre, Lloyd's iterations until the assignment stops changing, at most 300 (run to
/// convergence, where scikit-learn stops once the centres move less than 1e-4 of the variance), <see cref="Restarts"/>
/// seedings), with a seeded random
/// stream so the same points give the same centres on every run and machine. In one dimension a centre's cluster is the
/// run of sorted points between the midpoints to its neighbours, so every step works on prefix sums of the sorted points:
/// seeding samples a point with probability ∝ weight·D² by bisection and each iteration costs O(k log n), not O(k·n).
/// The seeding draws by weight (scikit-learn 1.3 and later; 1.2 seeds ignoring weights). The caller keeps the seeding
/// whose final table errs least (<see cref="TableError"/>), not the one with the least inertia before rounding.
/// Equal points are one point whose weight is theirs summed in sorted order; a tensor's points
/// (<see cref="OfChannels{TKey}"/>) are its scaled values sorted in place, with one int per distinct point, and the
/// running sums are stored at every point up to 2^16 distinct points and at every 32nd beyond, the points between added
/// again in the same order when a sum is needed (the same doubles).
/// </summary>
internal sealed class KMeans1D
{
    public const int Restarts = 10;
    public const int MaxIterations = 300;
    public const double Tolerance = 0;

    // The distinct points, ascending: float32 (a float32 tensor's scaled values, kept in the array they were sorted in) or float64.
    private readonly float[]? _single;
    private readonly double[]? _double;
    private readonly int _count;
    // Each distinct point's weight, the sum of its points' weights in sorted order: _weight[i] (the constructor's points),
    // _channelWeights[i] (a tensor's points where its channels weigh differently); or, where every point has
    // the same weight, _repeated[m] (or _repeatedLarge[m]: that weight added m times) for its m points, _end[i] being the
    // number of points up to and including distinct point i.
    private readonly double[]? _weight;
    private readonly ChannelWeights? _channelWeights;
    private readonly int[]? _end;
    private readonly double[]? _repeated;
    private readonly Dictionary<int, double>? _repeatedLarge;
    // Each distinct point's score weight, summed alike: _score[i], or (none) its weight.
    private readonly double[]? _score;
    // The running sums weight, weight·x, weight·x² (_weightSums) and the same for the score weights (_scoreSums) over the
    // distinct points before every 2^_shift-th: a sum before any point is the stored one plus the points after it, added
    // one by one as a running sum over every point adds them, so the sums are those of the running sums over every point.
    private readonly int _shift;
    private readonly double[] _weightSums, _scoreSums;
    private readonly double _tolerance;

    /// <summary>Distinct points from which running sums are stored at every point (fewer) or every 32nd (more).</summary>
    private const int EveryPointUpTo = 1 << 16;

    /// <summary>
    /// Points (any order, repeats allowed) with their weights (empty: 1 each; points of weight 0 are ignored) and, to
    /// score tables (<see cref="TableError"/>), score weights (empty: the weights).
    /// </summary>
    public KMeans1D(ReadOnlySpan<double> points, ReadOnlySpan<double> weights = default, ReadOnlySpan<double> scoreWeights = default)
    {
        var pairs = new (double X, double W, double S)[points.Length];
        int count = 0;
        for (int i = 0; i < points.Length; i++)
        {
            double w = weights.IsEmpty ? 1 : weights[i];
            if (w > 0 && double.IsFinite(points[i])) pairs[count++] = (points[i], w, scoreWeights.IsEmpty ? w : scoreWeights[i]);
        }
        Array.Sort(pairs, 0, count, Comparer<(double X, double W, double S)>.Create((a, b) => a.X.CompareTo(b.X)));
        // Equal points merged: one point (the last of them) with their total weight and score weight, summed in sorted order.
        int distinct = 0;
        for (int i = 0; i < count; i++)
            if (i == 0 || pairs[i].X != pairs[i - 1].X) distinct++;
        var x = new double[distinct];
        var weight = new double[distinct];
        var score = scoreWeights.IsEmpty ? null : new double[distinct];
        int at = -1;
        for (int i = 0; i < count; i++)
        {
            var (px, pw, ps) = pairs[i];
            if (i == 0 || px != pairs[i - 1].X)
            {
                at++;
                weight[at] = pw;
                if (score is not null) score[at] = ps;
            }
            else
            {
                weight[at] += pw;
                if (score is not null) score[at] += ps;
            }
            x[at] = px;
        }
        _double = x;
        _count = distinct;
        _weight = weight;
        _score = score;
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
        (_shift, _weightSums, _scoreSums) = StoreSums();
    }

    private KMeans1D(float[]? single, double[]? @double, int count, ChannelWeights? weights, int[]? end, double sameWeight, long sortBytes)
    {
        SortBytes = sortBytes;
        _single = single;
        _double = @double;
        _count = count;
        _channelWeights = weights;
        _end = end;
        if (end is not null) (_repeated, _repeatedLarge) = Repeated(end, count, sameWeight);
        // Tolerance is 0, so scikit-learn's tolerance (0 times the points' variance) is 0 or -0, which compare alike.
        _tolerance = Tolerance == 0 ? 0 : throw new NotSupportedException("a nonzero tolerance needs the points' variance");
        (_shift, _weightSums, _scoreSums) = StoreSums();
    }

    /// <summary>
    /// The points <paramref name="keys"/>[0, <paramref name="count"/>) (float32 or float64, finite), channel c's being
    /// the next <paramref name="channelCounts"/>[c] of them, each of weight <paramref name="channelWeights"/>[c] (and
    /// score weight the same): the same distinct points, with the same weights summed in the same order, as the
    /// constructor on them (in this order, with these weights). <paramref name="keys"/> is sorted in place and may be kept
    /// as the points' storage. Where the weights differ, or zeros of both signs are there (the merged zero takes the sign
    /// of the last in sorted order), the points are sorted as the constructor sorts them (the same comparisons, so equal
    /// points end in the same order); otherwise by the faster sort of the values alone, and each distinct point's weight is
    /// the one weight added once per point, as the merge adds it.
    /// </summary>
    public static KMeans1D OfChannels<TKey>(TKey[] keys, int count, int[] channelCounts, double[] channelWeights)
        where TKey : unmanaged, IFloatingPointIeee754<TKey>
    {
        if (typeof(TKey) != typeof(float) && typeof(TKey) != typeof(double)) throw new NotSupportedException($"points of {typeof(TKey).Name}");
        double sameWeight = double.NaN;
        bool uniform = true, first = true;
        for (int c = 0; c < channelCounts.Length; c++)
        {
            if (channelCounts[c] == 0) continue;
            if (first) (sameWeight, first) = (channelWeights[c], false);
            else uniform &= channelWeights[c] == sameWeight;
        }
        // Points of weight 0 (or NaN) are left out as the constructor leaves them out: weights that are not all alike and
        // positive take the general way.
        uniform &= sameWeight > 0;
        int[]? end = null, channel = null;
        double[]? merged = null;
        int distinct;
        long sortBytes = 0;
        if (uniform)
        {
            bool negativeZero = false, positiveZero = false;
            for (int i = 0; i < count; i++)
                if (TKey.IsZero(keys[i]))
                {
                    if (TKey.IsNegative(keys[i])) negativeZero = true;
                    else positiveZero = true;
                }
            if (negativeZero && positiveZero) Array.Sort(keys, 0, count, Comparer<TKey>.Create((a, b) => a.CompareTo(b)));
            else Array.Sort(keys, 0, count);
            distinct = Distinct(keys, count);
            end = new int[distinct];
            int at = -1;
            for (int i = 0; i < count; i++)
            {
                if (i == 0 || keys[i] != keys[i - 1]) at++;
                keys[at] = keys[i];
                end[at] = i + 1;
            }
        }
        else
        {
            // The points sorted together with their channels (an int a point beside the keys) by the same comparisons as
            // the constructor's sort of (point, weight) pairs, so equal points end in the same order. Then each distinct
            // point's int says its weight: its channel where it is one point, else the complement of its place among the
            // merged weights (its points' weights summed in sorted order).
            channel = new int[count];
            int kept = 0;
            for (int c = 0, i = 0; c < channelCounts.Length; c++)
                for (int j = 0; j < channelCounts[c]; j++, i++)
                    if (channelWeights[c] > 0)
                    {
                        keys[kept] = keys[i];
                        channel[kept++] = c;
                    }
            Array.Sort(keys, channel, 0, kept, Comparer<TKey>.Create((a, b) => a.CompareTo(b)));
            int runs = 0;
            distinct = 0;
            for (int i = 0; i < kept; i++)
                if (i == 0 || keys[i] != keys[i - 1]) distinct++;
                else if (i == 1 || keys[i - 1] != keys[i - 2]) runs++;
            merged = new double[runs];
            int at = -1, run = 0;
            for (int i = 0; i < kept; i++)
            {
                int c = channel[i];
                if (i == 0 || keys[i] != keys[i - 1]) channel[++at] = c;
                else if (channel[at] >= 0)
                {
                    merged[run] = channelWeights[channel[at]] + channelWeights[c];
                    channel[at] = ~run++;
                }
                else merged[~channel[at]] += channelWeights[c];
                keys[at] = keys[i];
            }
        }
        // Fewer distinct points than half the array: the points in an array of their own, the large one let go.
        var points = distinct < keys.Length / 2 ? keys[..distinct] : keys;
        if (!ReferenceEquals(points, keys)) sortBytes += keys.LongLength * System.Runtime.CompilerServices.Unsafe.SizeOf<TKey>();
        var tags = channel is not null && distinct < channel.Length / 2 ? channel[..distinct] : channel;
        if (!ReferenceEquals(tags, channel)) sortBytes += channel!.LongLength * sizeof(int);
        var weights = tags is null ? null : new ChannelWeights(tags, channelWeights, merged!);
        return typeof(TKey) == typeof(float)
            ? new KMeans1D((float[])(object)points, null, distinct, weights, end, sameWeight, sortBytes)
            : new KMeans1D(null, (double[])(object)points, distinct, weights, end, sameWeight, sortBytes);
    }

    /// <summary>
    /// Distinct points' weights where the channels weigh differently: point i's is <c>Channel[Tag[i]]</c> where it is one
    /// point, else <c>Merged[~Tag[i]]</c>.
    /// </summary>
    private sealed record ChannelWeights(int[] Tag, double[] Channel, double[] Merged)
    {
        public double this[int i]
        {
            get
            {
                int tag = Tag[i];
                return tag >= 0 ? Channel[tag] : Merged[~tag];
            }
        }

        public long Bytes => Tag.LongLength * sizeof(int) + (Channel.LongLength + Merged.LongLength) * sizeof(double);
    }

    private static int Distinct<TKey>(TKey[] sorted, int count) where TKey : IFloatingPointIeee754<TKey>
    {
        int distinct = 0;
        for (int i = 0; i < count; i++)
            if (i == 0 || sorted[i] != sorted[i - 1]) distinct++;
        return distinct;
    }

    /// <summary>
    /// <paramref name="value"/> added m times (as a running sum, m - 1 additions to it) for every count m of points at a
    /// distinct point: a table up to the largest count or <see cref="EveryPointUpTo"/>, the larger counts by name.
    /// </summary>
    private static (double[], Dictionary<int, double>?) Repeated(int[] end, int count, double value)
    {
        int most = 0;
        for (int i = 0; i < count; i++) most = Math.Max(most, end[i] - (i == 0 ? 0 : end[i - 1]));
        var table = new double[Math.Min(most, EveryPointUpTo) + 1];
        double sum = 0;
        for (int m = 1; m < table.Length; m++) table[m] = sum = m == 1 ? value : sum + value;
        if (most < table.Length) return (table, null);
        var large = new Dictionary<int, double>();
        for (int i = 0; i < count; i++)
        {
            int m = end[i] - (i == 0 ? 0 : end[i - 1]);
            if (m >= table.Length) large[m] = 0;
        }
        double running = table[^1];
        int added = table.Length - 1;
        foreach (int m in large.Keys.Order().ToArray())
        {
            for (; added < m; added++) running += value;
            large[m] = running;
        }
        return (table, large);
    }
    /// <summary>The distinct points.</summary>
    public int DistinctPoints => _count;

    /// <summary>Distinct point <paramref name="i"/>, its weight and its score weight (the sums over its points).</summary>
    internal (double X, double Weight, double Score) Point(int i) => (X(i), Weight(i), Score(i));

    /// <summary>The bytes <see cref="OfChannels{TKey}"/> sorted in and let go (the points with their channels, where weights differ; the keys, where the points were copied out).</summary>
    public long SortBytes { get; }

    /// <summary>The bytes of the arrays this holds (the points' storage included).</summary>
    public long Bytes =>
        (_single?.LongLength ?? 0) * 4 + (_double?.LongLength ?? 0) * 8 + (_end?.LongLength ?? 0) * 4 + (_weight?.LongLength ?? 0) * 8 + (_channelWeights?.Bytes ?? 0)
        + (_score?.LongLength ?? 0) * 8 + (_repeated?.LongLength ?? 0) * 8 + (_repeatedLarge?.Count ?? 0) * 24L
        + (_weightSums.LongLength + (ReferenceEquals(_scoreSums, _weightSums) ? 0 : _scoreSums.LongLength)) * 8;

    /// <summary>The centres of each of the <see cref="Restarts"/> seedings (each ascending; fewer distinct points than k repeat a centre).</summary>
    public IEnumerable<double[]> Fit(int k, int seed)
    {
        if (_count == 0 || k <= 0)
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
                foreach (double step in Steps)
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

    private static readonly double[] Steps = [-1.0, 1.0];

    /// <summary>Σ score weight · (x - nearest entry)² of a table (ascending; ties to the lower entry, as the LUT kernel's first index).</summary>
    public double TableError(double[] sortedTable)
    {
        double total = 0;
        int last = -1;
        (double W, double WX, double WXX) lastSums = default;
        for (int c = 0; c < sortedTable.Length; c++)
        {
            var (start, end) = Cluster(sortedTable, c);
            var before = start == last ? lastSums : ScoreSums(start);
            var after = ScoreSums(end);
            (last, lastSums) = (end, after);
            double w = after.W - before.W, wx = after.WX - before.WX, wxx = after.WXX - before.WXX;
            double center = sortedTable[c];
            total += Math.Max(0, wxx - 2 * center * wx + center * center * w);
        }
        return total;
    }

    // ---- k-means++ ----

    private double[] Seed(int k, Random random)
    {
        var centers = new List<double>(k) { X(SampleByWeight(random.NextDouble() * TotalWeight)) };
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
                double candidate = X(SampleByPotential(sorted, random.NextDouble() * potential));
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
        int low = 0, high = _count - 1;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (WeightBefore(mid + 1) > target) high = mid;
            else low = mid + 1;
        }
        return low;
    }

    /// <summary>The point at which the cumulative weight·D² (points ascending) passes <paramref name="target"/>.</summary>
    private int SampleByPotential(double[] centers, double target)
    {
        double cumulative = 0;
        int lastNonEmpty = _count - 1;
        for (int c = 0; c < centers.Length; c++)
        {
            var (start, end) = Cluster(centers, c);
            if (start == end) continue;
            lastNonEmpty = end - 1;
            var before = WeightSums(start);
            double segment = SegmentPotential(before, WeightSums(end), centers[c]);
            if (cumulative + segment > target)
            {
                int low = start, high = end - 1;
                while (low < high)
                {
                    int mid = (low + high) >>> 1;
                    if (cumulative + SegmentPotential(before, WeightSums(mid + 1), centers[c]) > target) high = mid;
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
            int last = -1;
            (double W, double WX) lastSums = default;
            for (int c = 0; c < centers.Length; c++)
            {
                var (start, end) = Cluster(centers, c);
                sameAssignment &= bounds[c] == start && bounds[c + 1] == end;
                bounds[c] = start;
                bounds[c + 1] = end;
                var (s0, s1) = start == last ? lastSums : WeightAndMoment(start);
                var (e0, e1) = WeightAndMoment(end);
                (last, lastSums) = (end, (e0, e1));
                double weight = e0 - s0;
                next[c] = weight > 0 ? (e1 - s1) / weight : double.NaN;
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
            ends.Add((Math.Abs(X(start) - centers[c]), X(start)));
            if (end - 1 > start) ends.Add((Math.Abs(X(end - 1) - centers[c]), X(end - 1)));
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
        int end = c == centers.Length - 1 ? _count : FirstAbove((centers[c] + centers[c + 1]) / 2);
        return (start, Math.Max(start, end));
    }

    /// <summary>The first point index whose value is greater than <paramref name="value"/>.</summary>
    private int FirstAbove(double value)
    {
        int low = 0, high = _count;
        if (_single is { } single)
        {
            while (low < high)
            {
                int mid = (low + high) >>> 1;
                if (single[mid] > value) high = mid;
                else low = mid + 1;
            }
            return low;
        }
        var points = _double!;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (points[mid] > value) high = mid;
            else low = mid + 1;
        }
        return low;
    }

    private double X(int i) => _single is { } single ? single[i] : _double![i];

    private double Weight(int i)
    {
        if (_weight is { } weight) return weight[i];
        if (_channelWeights is { } weights) return weights[i];
        int m = _end![i] - (i == 0 ? 0 : _end[i - 1]);
        return m < _repeated!.Length ? _repeated[m] : _repeatedLarge![m];
    }

    private double Score(int i) => _score is { } score ? score[i] : Weight(i);

    private double TotalWeight => WeightBefore(_count);

    /// <summary>The running sum of the weights before point <paramref name="i"/>.</summary>
    private double WeightBefore(int i) => WeightSums(i).W;

    /// <summary>The running sums of weight, weight·x and weight·x² before point <paramref name="i"/>.</summary>
    internal (double W, double WX, double WXX) WeightSums(int i) => Sums(_weightSums, i, score: false);

    internal (double W, double WX, double WXX) ScoreSums(int i) => Sums(_scoreSums, i, score: true);

    private (double W, double WX) WeightAndMoment(int i)
    {
        int stored = i >> _shift;
        double w = _weightSums[3 * stored], wx = _weightSums[3 * stored + 1];
        for (int j = stored << _shift; j < i; j++)
        {
            double x = X(j), weight = Weight(j);
            w += weight;
            wx += weight * x;
        }
        return (w, wx);
    }

    private (double W, double WX, double WXX) Sums(double[] stored, int i, bool score)
    {
        int at = i >> _shift;
        double w = stored[3 * at], wx = stored[3 * at + 1], wxx = stored[3 * at + 2];
        for (int j = at << _shift; j < i; j++)
        {
            double x = X(j), weight = score ? Score(j) : Weight(j);
            w += weight;
            wx += weight * x;
            wxx += weight * x * x;
        }
        return (w, wx, wxx);
    }

    /// <summary>The running sums before every 2^shift-th point (every point up to <see cref="EveryPointUpTo"/> points).</summary>
    private (int Shift, double[] Weights, double[] Scores) StoreSums()
    {
        int shift = _count <= EveryPointUpTo ? 0 : 5;
        bool scoreIsWeight = _score is null;
        var weights = new double[3 * ((_count >> shift) + 1)];
        var scores = scoreIsWeight ? weights : new double[weights.Length];
        double w0 = 0, w1 = 0, w2 = 0, s0 = 0, s1 = 0, s2 = 0;
        for (int i = 0; ; i++)
        {
            if ((i & ((1 << shift) - 1)) == 0)
            {
                int at = 3 * (i >> shift);
                (weights[at], weights[at + 1], weights[at + 2]) = (w0, w1, w2);
                if (!scoreIsWeight) (scores[at], scores[at + 1], scores[at + 2]) = (s0, s1, s2);
            }
            if (i == _count) break;
            double x = X(i), w = Weight(i);
            w0 += w;
            w1 += w * x;
            w2 += w * x * x;
            if (scoreIsWeight) continue;
            double s = Score(i);
            s0 += s;
            s1 += s * x;
            s2 += s * x * x;
        }
        return (shift, weights, scores);
    }

    private static double SegmentPotential((double W, double WX, double WXX) before, (double W, double WX, double WXX) after, double center)
    {
        double w = after.W - before.W, wx = after.WX - before.WX, wxx = after.WXX - before.WXX;
        return Math.Max(0, wxx - 2 * center * wx + center * center * w);
    }

    private double Potential(double[] sortedCenters)
    {
        double total = 0;
        int last = -1;
        (double W, double WX, double WXX) lastSums = default;
        for (int c = 0; c < sortedCenters.Length; c++)
        {
            var (start, end) = Cluster(sortedCenters, c);
            var before = start == last ? lastSums : WeightSums(start);
            var after = WeightSums(end);
            (last, lastSums) = (end, after);
            total += SegmentPotential(before, after, sortedCenters[c]);
        }
        return total;
    }
}
