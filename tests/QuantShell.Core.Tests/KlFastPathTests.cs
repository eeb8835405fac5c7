using System.Numerics;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's KL error of a tensor scored through <see cref="MctKlHistogram"/> (the histogram prepared once, a candidate at the cost
/// of its non-empty bins) against the computation it replaces (<see cref="KlDivergenceReference"/>): the same error, bit
/// for bit, and the same precision flag, for every candidate of seeded random tensors (float32 and float64, few values
/// and many, repeated values, one sign, constant) with candidates as MCT's symmetric, uniform and power-of-two searches
/// make them; and for random histograms with empty bins, edges in either order, and any grid or range.
/// </summary>
public sealed class KlFastPathTests
{
    private static readonly string[] Kinds = ["gaussian", "uniform", "heavy", "levels", "positive", "zeros", "constant", "tiny"];
    private static readonly int[] Sizes = [1, 3, 40, 256, 3000, 70_000];

    public static TheoryData<string, int, bool> TensorCases()
    {
        var cases = new TheoryData<string, int, bool>();
        foreach (string kind in Kinds)
            foreach (int size in Sizes)
                foreach (bool single in new[] { true, false })
                    cases.Add(kind, size, single);
        return cases;
    }

    [Fact]
    public void TensorCases_Are96() => Assert.Equal(96, TensorCases().Count());

    [Theory]
    [MemberData(nameof(TensorCases))]
    public void TensorErrors_AreThePreviousComputationBitForBit(string kind, int size, bool single)
    {
        int seed = kind.Length * 7919 + size * 31 + (single ? 1 : 0);
        var (compared, finite) = single ? CompareTensor<float>(kind, size, seed) : CompareTensor<double>(kind, size, seed);
        // Every candidate of the case was compared, and many errors are finite (not a comparison of infinities): a quarter,
        // or (one value, or a constant: most ranges hold no edge) a hundred.
        Assert.Equal(CandidatesPerTensor, compared);
        bool spread = size >= 40 && kind != "constant";
        Assert.True(finite >= (spread ? compared / 4 : 100), $"{finite} finite of {compared}");
    }

    private const int Factors = 24;
    private static readonly int[] BitWidths = [2, 4, 8];

    // Symmetric: factors × bits × signed × 3 precisions; uniform: factors × bits × 2 precisions; POT: 10 × bits × 2 (histogram of the values or of the quantized values).
    private const int CandidatesPerTensor = Factors * 3 * 2 * 3 + Factors * 3 * 2 + 10 * 3 * 2;

    private static (int Compared, int Finite) CompareTensor<T>(string kind, int size, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = Values<T>(kind, size, new Random(seed));
        bool isSingle = typeof(T) == typeof(float);
        T minT = MctWeightsSelection.Min(values), maxT = MctWeightsSelection.Max(values);
        double min = double.CreateTruncating(minT), max = double.CreateTruncating(maxT);
        double maxAbs = Math.Max(Math.Abs(min), Math.Abs(max));
        if (maxAbs == 0) maxAbs = MctWeightsSelection.MinThreshold;
        var histogram = NumpyHistogram<T>.Build(values, 2048);
        int compared = 0, finite = 0;

        void Check(TensorKlErrors<T> errors, MctCandidate candidate, int numBits, NumpyHistogram<T> reference)
        {
            var fast = new MctLoss[1];
            errors.Evaluate(0, [candidate], fast);
            var expected = KlDivergenceReference.TensorError(reference, candidate, numBits);
            Assert.True(BitConverter.DoubleToInt64Bits(expected.Value) == BitConverter.DoubleToInt64Bits(fast[0].Value) && expected.Single == fast[0].Single,
                        $"{kind} {size} {typeof(T).Name} bits {numBits} [{candidate.KlMin:R}, {candidate.KlMax:R}] {candidate.KlPrecision} {candidate.KlArray}: " +
                        $"{fast[0]} instead of {expected}");
            compared++;
            if (double.IsFinite(expected.Value)) finite++;
        }

        foreach (int numBits in BitWidths)
        {
            var errors = new TensorKlErrors<T>([values], numBits, histogramOfQuantized: false);
            for (int f = 0; f < Factors; f++)
            {
                double factor = 0.3 + 1.2 * f / (Factors - 1);
                // Symmetric: thresholds as the interval search makes them (float64), or float32 arrays (per channel's start).
                foreach (bool signed in new[] { true, false })
                {
                    foreach (var (precision, array) in new[] { (ParameterPrecision.Double, false), (ParameterPrecision.Double, true), (ParameterPrecision.SingleArray, true) })
                    {
                        double t = precision == ParameterPrecision.SingleArray ? (float)(maxAbs * factor) : maxAbs * factor;
                        var candidate = new MctCandidate(MctGrid.FromThreshold(t, numBits, signed, precision, isSingle), signed ? -t : 0, t, precision, array);
                        Check(errors, candidate, numBits, histogram);
                    }
                }
                // Uniform: ranges around (min, max), float64 or float32 scalars.
                foreach (var precision in new[] { ParameterPrecision.Double, ParameterPrecision.SingleScalar })
                {
                    double low = min * (1.5 - factor), high = max * factor;
                    if (min == max) high = max + factor - 0.5;
                    var candidate = new MctCandidate(MctGrid.FromRange(low, high, numBits, precision, isSingle), low, high, precision, false);
                    Check(errors, candidate, numBits, histogram);
                }
            }
            // Power of two: halvings of twice the no-clipping power of two, on the values' histogram and (per tensor) on the quantized values'.
            double noClipping = MctWeightsSelection.MaxPowerOfTwo(maxAbs, ParameterPrecision.Double);
            foreach (bool ofQuantized in new[] { false, true })
            {
                var potErrors = new TensorKlErrors<T>([values], numBits, ofQuantized);
                for (int i = 0; i < 10; i++)
                {
                    double t = 2 * noClipping / Math.ScaleB(1.0, i);
                    var grid = MctGrid.FromThreshold(t, numBits, true, ParameterPrecision.Double, isSingle);
                    var candidate = new MctCandidate(grid, -t, t, ParameterPrecision.Double, false);
                    var reference = histogram;
                    if (ofQuantized)
                    {
                        var quantized = new double[values.Length];
                        grid.Quantize<T>(values, quantized);
                        reference = NumpyHistogram<T>.Build(quantized.Select(T.CreateTruncating).ToArray(), 2048);
                    }
                    Check(potErrors, candidate, numBits, reference);
                }
            }
        }
        return (compared, finite);
    }

    private static T[] Values<T>(string kind, int size, Random random) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var values = new T[size];
        double scale = Math.Exp(random.NextDouble() * 4 - 3);
        for (int i = 0; i < size; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            double v = kind switch
            {
                "gaussian" => g * scale,
                "uniform" => (random.NextDouble() * 2 - 1) * scale,
                "heavy" => g / Math.Max(Math.Abs(random.NextDouble() - 0.5), 1e-3) * scale, // a few far outliers
                "levels" => Math.Round(g * 3) / 3 * scale, // few distinct values
                "positive" => Math.Abs(g) * scale + scale,
                "zeros" => random.NextDouble() < 0.8 ? 0.0 : g * scale,
                "constant" => -scale,
                _ => g * 1e-30, // float32 subnormals at the edges
            };
            values[i] = T.CreateTruncating(v);
        }
        return values;
    }

    /// <summary>
    /// Random histograms straight into <see cref="MctKlHistogram"/> against <see cref="KlDivergence.Error"/>: most
    /// bins empty or few, edges ascending or not (descending edges quantize descending: the general path), grids from
    /// any range (NaN steps included) and ranges inside, beyond or across the edges.
    /// </summary>
    [Fact]
    public void Histograms_AreThePreviousComputationBitForBit()
    {
        var random = new Random(20_2612);
        int compared = 0, finite = 0, zero = 0, descending = 0;
        for (int h = 0; h < 400; h++)
        {
            int bins = random.Next(4) switch { 0 => 1 + random.Next(6), 1 => 2048, _ => 10 + random.Next(300) };
            double fill = new[] { 0.002, 0.05, 0.5, 1.0 }[random.Next(4)];
            var counts = new long[bins];
            for (int i = 0; i < bins; i++) counts[i] = random.NextDouble() < fill ? 1 + (long)Math.Pow(10, random.NextDouble() * 5) : 0;
            double low = (random.NextDouble() - 0.7) * 10, width = Math.Exp(random.NextDouble() * 6 - 3);
            var edges = NumpyLinspace.Create(low, low + width, bins + 1);
            bool reversed = h % 10 == 9;
            if (reversed) Array.Reverse(edges);
            if (h % 17 == 5) edges = edges.Select(e => (double)(float)e).ToArray();
            var fast = new MctKlHistogram(edges, counts);
            var countsDouble = counts.Select(c => (double)c).ToArray();
            for (int c = 0; c < 40; c++)
            {
                double a = low + width * (random.NextDouble() * 1.4 - 0.2), b = low + width * (random.NextDouble() * 1.4 - 0.2);
                if (c % 8 == 0) b = a + width * 1e-4;
                double rangeMin = Math.Min(a, b), rangeMax = Math.Max(a, b);
                if (c % 13 == 12) rangeMax = double.NaN;
                int numBits = 1 + random.Next(8);
                var precision = (ParameterPrecision)random.Next(3);
                bool single = random.Next(2) == 0;
                var grid = MctGrid.FromRange(rangeMin, c % 11 == 10 ? rangeMin : rangeMax, numBits, precision, single);
                double compareMin = single ? (float)rangeMin : rangeMin, compareMax = single ? (float)rangeMax : rangeMax;
                var quantized = new double[edges.Length];
                grid.Quantize<double>(edges, quantized);
                var expected = KlDivergence.Error(quantized, edges, countsDouble, compareMin, compareMax, wholeCounts: true);
                var actual = fast.Error(grid, compareMin, compareMax);
                Assert.True(BitConverter.DoubleToInt64Bits(expected.Value) == BitConverter.DoubleToInt64Bits(actual.Value) && expected.Single == actual.Single,
                            $"histogram {h} candidate {c}: {actual} instead of {expected}");
                compared++;
                if (double.IsFinite(expected.Value) && expected.Value != 0) finite++;
                if (expected.Value == 0) zero++;
                if (reversed && double.IsFinite(expected.Value) && expected.Single) descending++;
            }
        }
        Assert.Equal(16_000, compared);
        Assert.True(finite >= 4_000, $"finite, non-zero: {finite}");
        Assert.True(zero >= 50, $"zero: {zero}");
        Assert.True(descending >= 50, $"descending edges scored: {descending}");
    }
}
