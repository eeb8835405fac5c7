using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// The lean points of MCT's weights LUT k-means (<see cref="KMeans1D.OfChannels{TKey}"/>: the scaled values sorted in place,
/// equal ones merged, running sums stored at every point or every 32nd) against the k-means as it was
/// (<see cref="KMeans1DReference"/>, every value a triple, merged into lists, every running sum stored): the same distinct
/// points (zeros' signs included), the same running sums before every point, the same centres of every seeding, the same
/// errors and polished tables, bit for bit; and <see cref="MctLutSelection.WeightsTable{T}"/> gives the tables the
/// previous k-means gives.
/// </summary>
public sealed class KMeansLeanTests
{
    private static readonly string[] Kinds = ["grid", "mixed zeros", "wide", "gaussian", "zero weight"];

    /// <summary>Kinds of points, one channel or six, weights alike or not, float32 or float64 points.</summary>
    public static TheoryData<string, int, bool, bool, int> PointCases()
    {
        var cases = new TheoryData<string, int, bool, bool, int>();
        foreach (string kind in Kinds)
            foreach (int channels in new[] { 1, 6 })
                foreach (bool sameWeights in new[] { true, false })
                    foreach (bool single in new[] { true, false })
                    {
                        if (channels == 1 && !sameWeights) continue;
                        cases.Add(kind, channels, sameWeights, single, kind.Length * 101 + channels * 7 + (sameWeights ? 3 : 0) + (single ? 1 : 0));
                    }
        return cases;
    }

    [Fact]
    public void PointCases_AreThirtyInAll() => Assert.Equal(30, PointCases().Count());

    [Theory]
    [MemberData(nameof(PointCases))]
    public void LeanPoints_AreThePreviousKMeansBitForBit(string kind, int channels, bool sameWeights, bool single, int seed) =>
        Compare(kind, channels, sameWeights, single, seed, fit: true);

    /// <summary>
    /// The lean points against the previous ones; what the case reached: weights whose sum depends on the order of equal
    /// points, the sign of the merged zero (-1, 1, or 0: none or not mixed), sums stored at every 32nd point.
    /// </summary>
    private static (bool WeightOrderMatters, int ZeroSign, bool EveryThirtySecond) Compare(string kind, int channels, bool sameWeights, bool single, int seed, bool fit)
    {
        var random = new Random(seed);
        int length = kind == "wide" ? 90_000 : 4_000;
        // Zeros of both signs, few or most of them negative.
        double negativeShare = new[] { 0.002, 0.5, 0.998 }[seed % 3];
        var keys = new double[channels * length];
        var counts = Enumerable.Repeat(length, channels).ToArray();
        // Weights as WeightsTable's: a float32 threshold squared in float64 (0: the channel's points left out).
        var weights = Enumerable.Range(0, channels).Select(c => sameWeights ? 0.0123 * 0.0123 : Math.Pow((float)(0.01 + random.NextDouble()), 2)).ToArray();
        if (kind == "zero weight") weights[0] = 0;
        for (int i = 0; i < keys.Length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            double v = kind switch
            {
                // Integers and halves clamped as scaled values are: many repeats in every channel and across channels.
                "grid" => Math.Clamp(Math.Round(g * 30) / 2, -128, 127),
                "mixed zeros" => random.Next(4) == 0 ? (random.NextDouble() < negativeShare ? -0.0 : 0.0) : Math.Clamp(Math.Round(g * 10), -128, 127),
                // More distinct points than the sums are stored for at every point.
                "wide" => random.Next(8) == 0 ? Math.Round(g * 20) : Math.Clamp(g * 40, -128, 127),
                _ => Math.Clamp(g * 50, -128, 127),
            };
            keys[i] = single ? (float)v : v;
        }
        var pointWeights = new double[keys.Length];
        for (int c = 0, i = 0; c < channels; c++)
            for (int j = 0; j < length; j++, i++) pointWeights[i] = weights[c];

        var reference = new KMeans1DReference(keys, pointWeights);
        var lean = single
            ? KMeans1D.OfChannels(keys.Select(v => (float)v).ToArray(), keys.Length, counts, weights)
            : KMeans1D.OfChannels((double[])keys.Clone(), keys.Length, counts, weights);

        int n = reference._points.Length;
        Assert.Equal(n, lean.DistinctPoints);
        for (int i = 0; i < n; i++)
            Assert.Equal(BitConverter.DoubleToInt64Bits(reference._points[i]), BitConverter.DoubleToInt64Bits(lean.Point(i).X));
        for (int i = 0; i <= n; i++)
        {
            Assert.Equal((reference._w0[i], reference._w1[i], reference._w2[i]), lean.WeightSums(i));
            Assert.Equal((reference._s0[i], reference._s1[i], reference._s2[i]), lean.ScoreSums(i));
        }
        foreach (int k in fit ? new[] { 1, 3, 16 } : [])
        {
            var expected = reference.Fit(k, MctLutSelection.Seed).ToList();
            var actual = lean.Fit(k, MctLutSelection.Seed).ToList();
            Assert.Equal(n == 0 ? 1 : KMeans1D.Restarts, actual.Count);
            Assert.Equal(expected.Count, actual.Count);
            for (int run = 0; run < expected.Count; run++)
            {
                Assert.Equal(expected[run].Select(BitConverter.DoubleToInt64Bits), actual[run].Select(BitConverter.DoubleToInt64Bits));
                var table = expected[run].Select(v => Math.Round(v)).Distinct().ToArray();
                Assert.Equal(BitConverter.DoubleToInt64Bits(reference.TableError(table)), BitConverter.DoubleToInt64Bits(lean.TableError(table)));
                Assert.Equal(reference.Polish(table, -128, 127, keepZero: true), lean.Polish(table, -128, 127, keepZero: true));
            }
        }

        bool orderMatters = WeightSumsInInputOrder(keys, pointWeights).Zip(Enumerable.Range(0, n).Select(i => lean.Point(i).Weight)).Any(p => p.First != p.Second);
        int zero = Array.FindIndex(reference._points, x => x == 0);
        int zeroSign = kind == "mixed zeros" && zero >= 0 ? (double.IsNegative(reference._points[zero]) ? -1 : 1) : 0;
        return (orderMatters, zeroSign, n > 1 << 16);
    }

    /// <summary>Each distinct point's weight summed in the points' input order (not the sort's).</summary>
    private static IEnumerable<double> WeightSumsInInputOrder(double[] keys, double[] pointWeights) =>
        keys.Select((x, i) => (x, w: pointWeights[i])).Where(p => p.w > 0).GroupBy(p => p.x).OrderBy(g => g.Key).Select(g => g.Aggregate(0.0, (sum, p) => sum + p.w));

    [Fact]
    public void PointCases_ReachTheirRules()
    {
        var reached = PointCases().Select(row => Compare((string)row[0], (int)row[1], (bool)row[2], (bool)row[3], (int)row[4], fit: false)).ToList();
        Assert.Equal(30, reached.Count);
        int orderMatters = reached.Count(r => r.WeightOrderMatters), negative = reached.Count(r => r.ZeroSign < 0), positive = reached.Count(r => r.ZeroSign > 0);
        Assert.True(orderMatters >= 4, $"cases where the order of equal points changes a weight's sum: {orderMatters}");
        Assert.True(negative >= 1 && positive >= 1, $"merged zeros negative {negative}, positive {positive}");
        Assert.Equal(6, reached.Count(r => r.EveryThirtySecond));
    }

    /// <summary>Tensors for <see cref="MctLutSelection.WeightsTable{T}"/>: kinds, per channel or not, bits, float32 or float64.</summary>
    public static TheoryData<string, bool, int, bool> TableCases()
    {
        var cases = new TheoryData<string, bool, int, bool>();
        foreach (string kind in new[] { "gaussian", "halves", "clipped", "signed zeros" })
            foreach (bool perChannel in new[] { false, true })
                foreach (int bits in new[] { 3, 4 })
                    cases.Add(kind, perChannel, bits, kind != "halves" || bits == 4);
        return cases;
    }

    [Fact]
    public void TableCases_AreSixteenInAll() => Assert.Equal(16, TableCases().Count());

    [Theory]
    [MemberData(nameof(TableCases))]
    public void WeightsTable_IsThePreviousKMeansTable(string kind, bool perChannel, int bits, bool single)
    {
        var random = new Random(kind.Length * 13 + bits + (perChannel ? 5 : 0));
        const int lutBitwidth = 8;
        var channels = Enumerable.Range(0, 5).Select(c => Enumerable.Range(0, 6_000).Select(i =>
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()) * (0.1 + 0.3 * c);
            return kind switch
            {
                "halves" => (double)(float)(Half)g,
                "signed zeros" => i % 5 == 0 ? (i % 10 == 0 ? -0.0 : 0.0) : g,
                _ => g,
            };
        }).ToArray()).ToArray();
        var input = perChannel ? channels : [channels.SelectMany(c => c).ToArray()];
        if (single)
            Check(input.Select(c => c.Select(v => (float)v).ToArray()).ToArray());
        else
            Check(input);

        void Check<T>(T[][] values) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
        {
            var thresholds = MctLutSelection.WeightsThresholds(values, bits, pot: false, perChannel);
            if (kind == "clipped") thresholds = thresholds.Select(t => (double)(float)(t / 3)).ToArray();
            var actual = MctLutSelection.WeightsTable(values, thresholds, bits, lutBitwidth, QuantizerSpec.DefaultEps, perChannel);
            Assert.Equal(PreviousTable(values, thresholds, bits, lutBitwidth, QuantizerSpec.DefaultEps, perChannel), actual);
        }
    }

    /// <summary>WeightsTable below the aggregation size as it was: every scaled value, weighing its channel's t², to the previous k-means.</summary>
    internal static double[] PreviousTable<T>(T[][] channels, double[] thresholds, int numBits, int lutBitwidth, double eps, bool perChannelThresholds)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        float k = MathF.ScaleB(1f, lutBitwidth - 1), low = -k, high = k - 1;
        var scaled = new List<double>();
        var pointWeights = new List<double>();
        for (int c = 0; c < channels.Length; c++)
        {
            double t = thresholds[c];
            float divisor = perChannelThresholds ? (float)t + (float)eps : (float)(t + eps);
            foreach (T value in channels[c])
            {
                scaled.Add(typeof(T) == typeof(float)
                    ? Math.Clamp(float.CreateTruncating(value) / divisor * k, low, high)
                    : Math.Clamp(double.CreateTruncating(value) / (t + eps) * k, low, high));
                pointWeights.Add(t * t);
            }
        }
        var kmeans = new KMeans1DReference(scaled.ToArray(), pointWeights.ToArray());
        int distinct = channels.SelectMany(c => c).Distinct().Take((1 << numBits) + 1).Count();
        int clusters = Math.Min(1 << numBits, distinct);
        double[]? best = null;
        double bestError = double.PositiveInfinity;
        foreach (var run in kmeans.Fit(clusters, MctLutSelection.Seed))
        {
            var table = kmeans.Polish(MctLutSelection.RoundedCenters(run, distinct, numBits), low, high, keepZero: true);
            double error = kmeans.TableError(table);
            if (best is null || error < bestError) (best, bestError) = (table, error);
        }
        return best!;
    }
}
