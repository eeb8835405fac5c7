using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// The vectorised, blocked, parallel error sums against the literal per-value arithmetic (<see cref="MctGrid.Quantize(float)"/>
/// and <see cref="NumpySum"/>): equal bit for bit, at every length around the block and pairwise boundaries.
/// </summary>
public sealed class GridErrorSumsTests
{
    private static readonly int[] Lengths = [1, 7, 8, 9, 127, 128, 129, 1000, 8191, 8192, 8193, 16384 + 77, 300_000, 600_001];

    private static float[] Values(int n, int seed)
    {
        var random = new Random(seed);
        // Gaussian-like values with outliers beyond the grids' ranges, and exact grid points (ties of the rounding).
        return Enumerable.Range(0, n).Select(i => i % 97 == 0 ? (float)(random.Next(-300, 300) * 0.0078125)
            : (float)((random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * (i % 13 == 0 ? 9 : 1.3))).ToArray();
    }

    private static MctGrid[] Grids(bool single) =>
    [
        MctGrid.FromThreshold(2.0, 8, true, ParameterPrecision.Double, single),
        MctGrid.FromThreshold(0.731, 4, true, ParameterPrecision.Double, single),
        MctGrid.FromThreshold(1.5, 3, false, ParameterPrecision.SingleArray, single),
        MctGrid.FromRange(-0.9, 2.7, 8, ParameterPrecision.Double, single),
        MctGrid.FromRange(0.3, 1.1, 5, ParameterPrecision.SingleScalar, single),
    ];

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, false)]
    [InlineData(false, true, false)]
    [InlineData(false, false, true)]
    [InlineData(true, true, true)]
    public void SingleGrids_AreTheLiteralNumpySums(bool absolute, bool sequential, bool parallel)
    {
        int cases = 0;
        foreach (int n in Lengths)
        {
            var values = Values(n, n);
            var grids = Grids(single: true);
            var sums = new float[grids.Length];
            GridErrorSums.SumSingle(values, grids, absolute, sequential, parallel, sums);
            for (int g = 0; g < grids.Length; g++)
            {
                var terms = values.Select(x => { float d = x - grids[g].Quantize(x); return absolute ? MathF.Abs(d) : d * d; }).ToArray();
                float expected = sequential ? terms.Aggregate(0f, (s, t) => s + t) : NumpySum.Sum(terms);
                Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(sums[g]), $"n {n}, grid {g}: {expected} != {sums[g]}");
                cases++;
            }
        }
        Assert.Equal(Lengths.Length * 5, cases);
    }

    /// <summary>
    /// Values on and a few units in the last place around the grids' rounding boundaries (c / s a half-integer), where
    /// anything but the true quotient c / s (c · (1/s), say) may round to the other integer: each vector's sum is the
    /// literal one. Asserts that such values occur.
    /// </summary>
    [Fact]
    public void ValuesAtRoundingBoundaries_AreQuantizedAsByDivision()
    {
        var random = new Random(77);
        int cases = 0, tricky = 0;
        for (int g = 0; g < 60; g++)
        {
            double min = -random.NextDouble() * 3, max = random.NextDouble() * 3 + 0.01;
            int bits = random.Next(2, 9);
            foreach (bool single in new[] { true, false })
            {
                var grid = MctGrid.FromRange(min, max, bits, ParameterPrecision.Double, single);
                var values = new List<double>();
                for (int k = 0; k < 200; k++)
                {
                    double h = random.Next(0, (1 << bits) - 1) + 0.5;
                    double x = single ? (float)((float)grid.Low + (float)h * (float)grid.Step) : grid.Low + h * grid.Step;
                    for (int ulps = -3; ulps <= 3; ulps++)
                    {
                        double y = single ? BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)x) + ulps) : BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(x) + ulps);
                        values.Add(y);
                        // Whether a reciprocal product would round otherwise than the quotient here.
                        if (single)
                        {
                            float c = Math.Clamp((float)y, (float)grid.Low, (float)grid.High) - (float)grid.Low, st = (float)grid.Step;
                            tricky += MathF.Round(c * (1 / st)) != MathF.Round(c / st) ? 1 : 0;
                        }
                        else
                        {
                            double c = Math.Clamp(y, grid.Low, grid.High) - grid.Low;
                            tricky += Math.Round(c * (1 / grid.Step)) != Math.Round(c / grid.Step) ? 1 : 0;
                        }
                    }
                }
                // Vectors of 16 values (two float32 vectors, four float64 ones): a misrounded value changes its vector's sum.
                for (int start = 0; start + 16 <= values.Count; start += 16)
                {
                    var part = values.GetRange(start, 16);
                    if (single)
                    {
                        var x = part.Select(v => (float)v).ToArray();
                        var sums = new float[1];
                        GridErrorSums.SumSingle(x, [grid], false, false, false, sums);
                        float expected = NumpySum.Sum(x.Select(v => { float d = v - grid.Quantize(v); return d * d; }).ToArray());
                        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(sums[0]));
                    }
                    else
                    {
                        var x = part.ToArray();
                        var sums = new double[1];
                        GridErrorSums.SumDouble<double>(x, [grid], false, false, false, sums);
                        double expected = NumpySum.Sum(x.Select(v => { double d = v - grid.Quantize(v); return d * d; }).ToArray());
                        Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(sums[0]));
                    }
                    cases++;
                }
            }
        }
        Assert.Equal(60 * 2 * (200 * 7 / 16), cases);
        Assert.True(tricky > 0, "no value where the reciprocal product rounds otherwise");
    }

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(true, false, true)]
    [InlineData(false, true, false)]
    public void DoubleGrids_AreTheLiteralNumpySums_OnFloatAndDoubleValues(bool absolute, bool sequential, bool parallel)
    {
        int cases = 0;
        foreach (int n in Lengths)
        {
            var values = Values(n, 1000 + n);
            var wide = values.Select(v => (double)v * 1.0000001).ToArray();
            var grids = Grids(single: false);
            var fromFloat = new double[grids.Length];
            var fromDouble = new double[grids.Length];
            GridErrorSums.SumDouble<float>(values, grids, absolute, sequential, parallel, fromFloat);
            GridErrorSums.SumDouble<double>(wide, grids, absolute, sequential, parallel, fromDouble);
            for (int g = 0; g < grids.Length; g++)
            {
                foreach (var (input, actual) in new[] { (values.Select(v => (double)v).ToArray(), fromFloat[g]), (wide, fromDouble[g]) })
                {
                    var terms = input.Select(x => { double d = x - grids[g].Quantize(x); return absolute ? Math.Abs(d) : d * d; }).ToArray();
                    double expected = sequential ? terms.Aggregate(0.0, (s, t) => s + t) : NumpySum.Sum(terms);
                    Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual), $"n {n}, grid {g}: {expected} != {actual}");
                    cases++;
                }
            }
        }
        Assert.Equal(Lengths.Length * 5 * 2, cases);
    }
}

/// <summary>A large tensor's LUT table from aggregated points against the table from every value.</summary>
public sealed class LutAggregationTests
{
    [Theory]
    [InlineData(3, false)]
    [InlineData(4, true)]
    public void AggregatedPoints_GiveATableAsGoodAsEveryValue(int bits, bool perChannel)
    {
        var random = new Random(40 + bits);
        var channels = Enumerable.Range(0, 4).Select(c => Enumerable.Range(0, 50_000).Select(_ =>
            (float)((random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * (0.2 + c))).ToArray()).ToArray();
        var thresholds = perChannel
            ? MctLutSelection.WeightsThresholds(channels, bits, pot: false, perChannel: true)
            : MctLutSelection.WeightsThresholds([channels.SelectMany(c => c).ToArray()], bits, pot: false, perChannel: false);
        var input = perChannel ? channels : [channels.SelectMany(c => c).ToArray()];
        var every = MctLutSelection.WeightsTable(input, thresholds, bits, 8, 1e-8, perChannel, aggregateFrom: long.MaxValue);
        var aggregated = MctLutSelection.WeightsTable(input, thresholds, bits, 8, 1e-8, perChannel, aggregateFrom: 1);
        double Error(double[] table)
        {
            double sum = 0;
            for (int c = 0; c < input.Length; c++)
            {
                double t = thresholds[c];
                foreach (float x in input[c])
                {
                    double v = Math.Clamp(x / (t + 1e-8) * 128, -128, 127);
                    double nearest = table.MinBy(e => Math.Abs(e - v));
                    sum += (v - nearest) * (v - nearest) * t * t;
                }
            }
            return sum;
        }
        Assert.InRange(aggregated.Length, 2, 1 << bits);
        double a = Error(aggregated), e = Error(every);
        Assert.True(a <= e * 1.001, $"aggregated {a} ({string.Join(",", aggregated)}), every value {e} ({string.Join(",", every)})");
    }
}
