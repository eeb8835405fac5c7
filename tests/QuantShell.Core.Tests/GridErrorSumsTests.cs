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

    /// <summary>
    /// A strided row's sums (one term after the other, the grids across the vector lanes): for 1 to 19 grids (whole and
    /// partial vectors of grids), each grid's sum is the literal running sum of its terms, on values on and around the grids'
    /// rounding boundaries and beyond their ends, with a NaN among them in one row, float32 and float64 grids and values.
    /// </summary>
    [Fact]
    public void StridedRows_ManyGrids_AreTheLiteralRunningSums()
    {
        var random = new Random(91);
        int cases = 0, tricky = 0;
        for (int count = 1; count <= 19; count++)
        {
            foreach (bool single in new[] { true, false })
            {
                var grids = Enumerable.Range(0, count).Select(i => i % 3 == 0
                    ? MctGrid.FromThreshold(0.2 + random.NextDouble() * 2, random.Next(2, 9), true, ParameterPrecision.Double, single)
                    : MctGrid.FromRange(-random.NextDouble() * 2, random.NextDouble() * 2 + 0.01, random.Next(2, 9), ParameterPrecision.Double, single)).ToArray();
                // Each grid's half-integer quotients (where a reciprocal may round otherwise), a few ulps around them, values beyond the ends.
                var values = new List<double>();
                foreach (var grid in grids)
                {
                    int levels = (int)Math.Round((grid.High - grid.Low) / grid.Step);
                    for (int k = 0; k < 30; k++)
                    {
                        double x = single ? (float)((float)grid.Low + (float)(random.Next(0, levels) + 0.5) * (float)grid.Step) : grid.Low + (random.Next(0, levels) + 0.5) * grid.Step;
                        for (int ulps = -3; ulps <= 3; ulps++)
                        {
                            double y = single ? BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)x) + ulps) : BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(x) + ulps);
                            values.Add(y);
                            double c = Math.Clamp(y, grid.Low, grid.High) - grid.Low;
                            if (!single) tricky += Math.Round(c * (1 / grid.Step)) != Math.Round(c / grid.Step) ? 1 : 0;
                        }
                        values.Add((random.NextDouble() - 0.5) * 9);
                    }
                }
                if (count == 7) values[13] = double.NaN;
                foreach (bool absolute in new[] { false, true })
                {
                    if (single)
                    {
                        var x = values.Select(v => (float)v).ToArray();
                        var sums = new float[count];
                        GridErrorSums.SumSingle(x, grids, absolute, sequential: true, parallel: false, sums);
                        for (int g = 0; g < count; g++)
                        {
                            float expected = x.Select(v => { float d = v - grids[g].Quantize(v); return absolute ? MathF.Abs(d) : d * d; }).Aggregate(0f, (a, t) => a + t);
                            Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(sums[g]), $"{count} grids, grid {g}: {expected} != {sums[g]}");
                            cases++;
                        }
                    }
                    else
                    {
                        var x = values.ToArray();
                        var narrow = values.Select(v => (float)v).ToArray();
                        var sums = new double[count];
                        var fromFloat = new double[count];
                        GridErrorSums.SumDouble<double>(x, grids, absolute, sequential: true, parallel: false, sums);
                        GridErrorSums.SumDouble<float>(narrow, grids, absolute, sequential: true, parallel: false, fromFloat);
                        for (int g = 0; g < count; g++)
                        {
                            foreach (var (input, actual) in new[] { (x, sums[g]), (narrow.Select(v => (double)v).ToArray(), fromFloat[g]) })
                            {
                                double expected = input.Select(v => { double d = v - grids[g].Quantize(v); return absolute ? Math.Abs(d) : d * d; }).Aggregate(0.0, (a, t) => a + t);
                                Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual), $"{count} grids, grid {g}: {expected} != {actual}");
                            }
                            cases++;
                        }
                    }
                }
            }
        }
        // Each count of grids, float32 and float64 grids, squared and absolute: one case per grid.
        Assert.Equal(19 * 20 / 2 * 2 * 2, cases);
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

/// <summary>
/// The float64 kernel that rounds c·(1/s) where that is safe (<see cref="GridErrorSums.SumDouble{T}"/>'s default) against
/// the plain division kernel (<see cref="GridErrorSums.DivideOnly"/>): every sum equal bit for bit, on values exactly on
/// and a few units in the last place around the grids' half-integer quotients (the rounding boundaries), on the levels,
/// on and around the clipping bounds and beyond them, float32 and float64 values, squared and absolute errors, at
/// lengths that end inside the pairwise leaves, at the leaves' edges and across NumPy's blocks.
/// </summary>
public sealed class ReciprocalKernelTests
{
    private static readonly int[] Lengths = [5, 8, 13, 128, 131, 1000, 8192, 8200, 20_011];

    /// <summary>Seeded grids: ranges and thresholds as MCT's searches make them, 2 to 16 bits.</summary>
    private static List<MctGrid> Grids(Random random)
    {
        var grids = new List<MctGrid>();
        for (int g = 0; g < 12; g++)
        {
            int bits = g == 0 ? 16 : random.Next(2, 9);
            double scale = Math.Pow(10, random.Next(-4, 3));
            grids.Add(g % 2 == 0
                ? MctGrid.FromRange(-random.NextDouble() * 3 * scale, (random.NextDouble() * 3 + 0.01) * scale, bits, ParameterPrecision.Double, false)
                : MctGrid.FromThreshold((random.NextDouble() + 0.05) * scale, bits, random.Next(2) == 0, ParameterPrecision.Double, false));
        }
        // Steps of few significant bits from a level at a multiple of the step, so the half-integer points are exact
        // float32 values too: odd multiples of a power of two (49, 75, 91, 117, 123) whose reciprocal's product rounds
        // some of those exact half-integer quotients to the neighbouring float64.
        foreach (int m in new[] { 49, 75, 91, 117, 123 })
        {
            int bits = random.Next(2, 9), levels = (1 << bits) - 1, below = random.Next(0, levels + 1);
            double step = m * Math.ScaleB(1.0, -random.Next(2, 11));
            grids.Add(MctGrid.FromRange(-below * step, (levels - below) * step, bits, ParameterPrecision.Double, false));
        }
        // Ranges that fix_range_to_include_zero moves to (0, b) and (a, 0).
        grids.Add(MctGrid.FromRange(0.25, 1.75, 4, ParameterPrecision.Double, false));
        grids.Add(MctGrid.FromRange(-2.5, -0.5, 3, ParameterPrecision.Double, false));
        return grids;
    }

    private static double Ulps(double x, int ulps, bool single) => single
        ? BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)x) + ulps)
        : BitConverter.Int64BitsToDouble(BitConverter.DoubleToInt64Bits(x) + ulps);

    /// <summary>Values on the grid's half-integer quotients, its levels and its bounds, each with its neighbours, and some beyond; shuffled.</summary>
    private static double[] Values(MctGrid grid, int n, bool single, Random random, ref int tricky)
    {
        int levels = (int)Math.Min((1 << 16) - 1, Math.Round((grid.High - grid.Low) / grid.Step));
        var values = new List<double>(n);
        while (values.Count < n)
        {
            int kind = random.Next(8);
            double x = kind switch
            {
                < 4 => grid.Low + (random.Next(0, levels) + 0.5) * grid.Step,
                4 => grid.Low + random.Next(0, levels + 1) * grid.Step,
                5 => random.Next(2) == 0 ? grid.Low : grid.High,
                6 => random.Next(2) == 0 ? grid.Low - random.NextDouble() * grid.Step * 9 : grid.High + random.NextDouble() * grid.Step * 9,
                _ => grid.Low + random.NextDouble() * (grid.High - grid.Low),
            };
            double y = Ulps(single ? (float)x : x, random.Next(-4, 5), single);
            if (!double.IsFinite(y)) continue;
            double c = Math.Clamp(y, grid.Low, grid.High) - grid.Low;
            tricky += Math.Round(c * (1 / grid.Step)) != Math.Round(c / grid.Step) ? 1 : 0;
            values.Add(y);
        }
        return values.ToArray();
    }

    private static double[] Sums<T>(T[] values, MctGrid[] grids, bool absolute, bool parallel, bool divide) where T : unmanaged
    {
        var sums = new double[grids.Length];
        GridErrorSums.DivideOnly = divide;
        try
        {
            GridErrorSums.SumDouble<T>(values, grids, absolute, sequential: false, parallel, sums);
        }
        finally
        {
            GridErrorSums.DivideOnly = false;
        }
        return sums;
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void ReciprocalKernel_IsTheDivisionKernel_BitForBit(bool single, bool absolute)
    {
        var random = new Random(single ? 2011 : 2012 + (absolute ? 1 : 0));
        int cases = 0, tricky = 0;
        foreach (var grid in Grids(random))
        {
            foreach (int n in Lengths)
            {
                var values = Values(grid, n, single, random, ref tricky);
                double[] divided, fast;
                if (single)
                {
                    var x = values.Select(v => (float)v).ToArray();
                    divided = Sums(x, [grid], absolute, parallel: n > 8192, divide: true);
                    fast = Sums(x, [grid], absolute, parallel: n > 8192, divide: false);
                }
                else
                {
                    divided = Sums(values, [grid], absolute, parallel: n > 8192, divide: true);
                    fast = Sums(values, [grid], absolute, parallel: n > 8192, divide: false);
                }
                Assert.True(divided[0] == fast[0], $"grid ({grid.Low}, {grid.High}, {grid.Step}), n {n}: division {divided[0]:R}, reciprocal {fast[0]:R}");
                Assert.Equal(BitConverter.DoubleToInt64Bits(divided[0]), BitConverter.DoubleToInt64Bits(fast[0]));
                cases++;
            }
        }
        Assert.Equal(19 * Lengths.Length, cases);
        // The data does reach values where c·(1/s) alone would round to the other integer.
        Assert.True(tricky > 0, "no value where the reciprocal product rounds otherwise");
    }

    /// <summary>A set of candidates in one pass (each grid's own reciprocal and limit), as the searches ask for them.</summary>
    [Fact]
    public void ManyGridsInOnePass_AreTheDivisionKernel_BitForBit()
    {
        var random = new Random(2020);
        int tricky = 0;
        var grids = Grids(random).ToArray();
        var values = new List<double>();
        foreach (var grid in grids) values.AddRange(Values(grid, 1500, single: false, random, ref tricky));
        var x = values.ToArray();
        var f = x.Select(v => (float)v).ToArray();
        var divided = Sums(x, grids, false, parallel: true, divide: true);
        var fast = Sums(x, grids, false, parallel: true, divide: false);
        var dividedF = Sums(f, grids, false, parallel: false, divide: true);
        var fastF = Sums(f, grids, false, parallel: false, divide: false);
        for (int g = 0; g < grids.Length; g++)
        {
            Assert.Equal(BitConverter.DoubleToInt64Bits(divided[g]), BitConverter.DoubleToInt64Bits(fast[g]));
            Assert.Equal(BitConverter.DoubleToInt64Bits(dividedF[g]), BitConverter.DoubleToInt64Bits(fastF[g]));
        }
        // And the division kernel is the literal per-value arithmetic.
        for (int g = 0; g < grids.Length; g++)
        {
            double expected = NumpySum.Sum(x.Select(v => { double d = v - grids[g].Quantize(v); return d * d; }).ToArray());
            Assert.Equal(BitConverter.DoubleToInt64Bits(expected), BitConverter.DoubleToInt64Bits(fast[g]));
        }
        Assert.Equal(19, grids.Length);
        Assert.True(tricky > 0);
    }

    /// <summary>Infinite and NaN values (clipped to a bound; their terms infinite or NaN) come out as the division kernel's, bit for bit.</summary>
    [Fact]
    public void NonFiniteValues_AreTheDivisionKernel_BitForBit()
    {
        var grid = MctGrid.FromRange(-1.3, 2.1, 8, ParameterPrecision.Double, false);
        int cases = 0;
        foreach (double special in new[] { double.PositiveInfinity, double.NegativeInfinity, double.NaN })
            foreach (int n in new[] { 3, 16, 200 })
            {
                var x = Enumerable.Range(0, n).Select(i => i == n / 2 ? special : Math.Sin(i) * 2).ToArray();
                var divided = Sums(x, [grid], false, false, divide: true);
                var fast = Sums(x, [grid], false, false, divide: false);
                Assert.Equal(BitConverter.DoubleToInt64Bits(divided[0]), BitConverter.DoubleToInt64Bits(fast[0]));
                cases++;
            }
        Assert.Equal(9, cases);
    }
}

/// <summary>
/// The float32 kernel that adds each pairwise leaf's terms as it computes them (<see cref="GridErrorSums.SumSingle"/>'s
/// default) against the literal division kernel (<see cref="GridErrorSums.DivideOnly"/>: every term written out, then
/// <see cref="GridErrorSums.PairwiseSingle"/>): every sum equal bit for bit. The values are those where a quotient
/// rounded otherwise (from the float32 reciprocal, say) would show: exactly on and a few float32 ulps around the grids'
/// half-integer quotients, on the levels, on and beyond the bounds; 2, 4, 8 and 16 bits; steps of few significant bits
/// (so the half-integer points are exact), a subnormal step and huge ranges; every length from 1 to 129 (the leaves'
/// edges and remainders), 8191 to 8193 (NumPy's block) and 100,003 (blocks over the cores); squared and absolute errors.
/// </summary>
public sealed class FusedSingleKernelTests
{
    private static readonly int[] Lengths = [.. Enumerable.Range(1, 129), 8191, 8192, 8193, 100_003];

    private static readonly int[] Bits = [2, 4, 8, 16];

    /// <summary>Seeded float32 grids: per bit width a range, a threshold (as the searches make them, in each parameter precision) and a grid of exact half-integer points; then the degenerate ones.</summary>
    private static List<MctGrid> Grids(Random random)
    {
        var grids = new List<MctGrid>();
        var precisions = new[] { ParameterPrecision.Double, ParameterPrecision.SingleArray, ParameterPrecision.SingleScalar };
        foreach (int bits in Bits)
        {
            double scale = Math.Pow(10, random.Next(-3, 3));
            grids.Add(MctGrid.FromRange(-random.NextDouble() * 3 * scale, (random.NextDouble() * 3 + 0.01) * scale, bits, precisions[random.Next(3)], true));
            grids.Add(MctGrid.FromThreshold((random.NextDouble() + 0.05) * scale, bits, random.Next(2) == 0, precisions[random.Next(3)], true));
            // A step of few significant bits and a low end at a multiple of it: a + (k + 1/2)·s is a float32, c / s exactly
            // a half-integer (a tie), and the reciprocal's product of some of them one ulp off it.
            int m = new[] { 49, 75, 91, 117, 123 }[random.Next(5)], levels = (1 << bits) - 1, below = random.Next(0, levels + 1);
            double step = m * Math.ScaleB(1.0, -random.Next(2, 11));
            grids.Add(MctGrid.FromRange(-below * step, (levels - below) * step, bits, ParameterPrecision.Double, true));
        }
        // Degenerate: a subnormal float32 step (its reciprocal infinite); the float32 width b - a infinite; a huge range
        // whose step's reciprocal is just normal; one whose step's reciprocal is subnormal; ranges that
        // fix_range_to_include_zero moves to (0, b) and (a, 0).
        grids.Add(MctGrid.FromRange(-1e-40, 1e-40, 8, ParameterPrecision.Double, true));
        grids.Add(MctGrid.FromRange(-3e38, 3e38, 8, ParameterPrecision.Double, true));
        grids.Add(MctGrid.FromRange(-1e38, 1e38, 2, ParameterPrecision.Double, true));
        grids.Add(MctGrid.FromRange(-1.5e38, 1.5e38, 2, ParameterPrecision.Double, true));
        grids.Add(MctGrid.FromRange(0.25, 1.75, 4, ParameterPrecision.Double, true));
        grids.Add(MctGrid.FromRange(-2.5, -0.5, 3, ParameterPrecision.Double, true));
        return grids;
    }

    private static float Ulps(float x, int ulps) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) + ulps);

    /// <summary>Whether fl32(c·fl32(1/s)) rounds to another integer than fl32(c / s) for this value (where the reciprocal alone would be wrong).</summary>
    private static bool Tricky(float x, float a, float b, float s)
    {
        float clipped = x > a ? x : a;
        clipped = clipped < b ? clipped : b;
        float c = clipped - a, r = 1 / s;
        return MathF.Round(c * r) != MathF.Round(c / s);
    }

    /// <summary>Values on the grid's half-integer quotients (computed in float32 and in float64), its levels and its bounds, each with neighbours up to 4 ulps off, and some beyond and between.</summary>
    private static float[] Values(MctGrid grid, int n, Random random, ref int tricky)
    {
        float a = (float)grid.Low, b = (float)grid.High, s = (float)grid.Step;
        int levels = (int)Math.Clamp(Math.Round(((double)b - a) / s), 1, (1 << 16) - 1);
        var values = new float[n];
        for (int i = 0; i < n;)
        {
            int kind = random.Next(10);
            int k = random.Next(0, levels);
            float x = kind switch
            {
                < 3 => a + (k + 0.5f) * s,
                < 5 => (float)(a + (k + 0.5) * s),
                5 => a + k * s,
                6 => random.Next(2) == 0 ? a : b,
                7 => (float)(random.Next(2) == 0 ? a - random.NextDouble() * s * 9 : b + random.NextDouble() * s * 9),
                8 => (float)(a + random.NextDouble() * ((double)b - a)),
                _ => (float)((random.NextDouble() + random.NextDouble() + random.NextDouble() - 1.5) * ((double)b - a) / 2),
            };
            float y = Ulps(x, random.Next(-4, 5));
            if (!float.IsFinite(y)) continue;
            tricky += Tricky(y, a, b, s) ? 1 : 0;
            values[i++] = y;
        }
        return values;
    }

    private static float[] Sums(float[] values, MctGrid[] grids, bool absolute, bool parallel, bool divide)
    {
        var sums = new float[grids.Length];
        GridErrorSums.DivideOnly = divide;
        try
        {
            GridErrorSums.SumSingle(values, grids, absolute, sequential: false, parallel, sums);
        }
        finally
        {
            GridErrorSums.DivideOnly = false;
        }
        return sums;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FusedKernel_IsTheDivisionKernel_BitForBit(bool absolute)
    {
        var random = new Random(absolute ? 3031 : 3030);
        int cases = 0, tricky = 0, differ = 0;
        var grids = Grids(random);
        foreach (var grid in grids)
        {
            foreach (int n in Lengths)
            {
                var x = Values(grid, n, random, ref tricky);
                var divided = Sums(x, [grid], absolute, parallel: n > 8192, divide: true);
                var fast = Sums(x, [grid], absolute, parallel: n > 8192, divide: false);
                if (BitConverter.SingleToInt32Bits(divided[0]) != BitConverter.SingleToInt32Bits(fast[0])) differ++;
                cases++;
            }
        }
        Assert.True(differ == 0, $"{differ} of {cases} sums differ from the division kernel's");
        Assert.Equal(18, grids.Count);
        Assert.Equal(18 * 133, cases);
        // The data does reach values where the reciprocal's product alone would round to the other integer.
        Assert.True(tricky > 1000, $"only {tricky} values where the reciprocal product rounds otherwise");
    }

    /// <summary>
    /// Each value where the reciprocal's product alone would round to the other integer, alone among values on the low
    /// end (terms of zero) in one vector (8 values), a pair of vectors (16) and a pair and one (24), at a random lane:
    /// the sum is that value's term exactly, so a single misrounded quotient shows (in a long sum it is mostly lost in
    /// the rounding). Asserts how many of these values would change their term if rounded from the product.
    /// </summary>
    [Fact]
    public void ValuesNearHalfIntegers_Alone_AreTheDivisionKernel_BitForBit()
    {
        var random = new Random(3050);
        int cases = 0, changing = 0, tricky = 0;
        var perGrid = new List<int>();
        var differ = new List<string>();
        foreach (var grid in Grids(random))
        {
            float a = (float)grid.Low, b = (float)grid.High, s = (float)grid.Step;
            var candidates = Values(grid, 20_000, random, ref tricky).Where(v => Tricky(v, a, b, s)).Take(60).ToArray();
            perGrid.Add(candidates.Length);
            foreach (float v in candidates)
            {
                foreach (bool absolute in new[] { false, true })
                {
                    float clipped = Math.Clamp(v, a, b), c = clipped - a;
                    float d = v - (s * MathF.Round(c * (1 / s)) + a), e = v - (s * MathF.Round(c / s) + a);
                    changing += (absolute ? MathF.Abs(d) != MathF.Abs(e) : d * d != e * e) ? 1 : 0;
                    foreach (int n in new[] { 8, 16, 24 })
                    {
                        var x = Enumerable.Repeat(a, n).ToArray();
                        x[random.Next(n)] = v;
                        var divided = Sums(x, [grid], absolute, parallel: false, divide: true);
                        var fast = Sums(x, [grid], absolute, parallel: false, divide: false);
                        if (BitConverter.SingleToInt32Bits(divided[0]) != BitConverter.SingleToInt32Bits(fast[0]))
                            differ.Add($"grid ({a:R}, {b:R}, {s:R}), value {v:R}, n {n}: division {divided[0]:R}, fused {fast[0]:R}");
                        cases++;
                    }
                }
            }
        }
        Assert.True(differ.Count == 0, $"{differ.Count} of {cases} sums differ from the division kernel's, first {differ.FirstOrDefault()}");
        // Such values occur (60 taken) for the 8- and 16-bit grids, the subnormal step (whose reciprocal is infinite),
        // the huge range of 2 bits and (0, 1.75) of 4 bits; not on the other grids of 2 and 4 bits, among 20,000 values.
        Assert.True(cases == 10 * 60 * 6, $"{cases} cases, per grid {string.Join(",", perGrid)}");
        Assert.True(changing > 200, $"only {changing} values whose term the product alone would change");
    }

    /// <summary>A set of candidates in one pass (each grid its own reciprocal and limit), blocks over the cores, as the per-tensor searches ask for them; and the literal per-value arithmetic.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ManyGridsInOnePass_AreTheDivisionKernel_BitForBit(bool absolute)
    {
        var random = new Random(absolute ? 3041 : 3040);
        int tricky = 0, cases = 0;
        var grids = Grids(random).ToArray();
        var x = grids.SelectMany(grid => Values(grid, 12_000, random, ref tricky)).ToArray();
        random.Shuffle(x);
        var divided = Sums(x, grids, absolute, parallel: true, divide: true);
        var fast = Sums(x, grids, absolute, parallel: true, divide: false);
        for (int g = 0; g < grids.Length; g++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(divided[g]), BitConverter.SingleToInt32Bits(fast[g]));
            var terms = x.Select(v => { float d = v - grids[g].Quantize(v); return absolute ? MathF.Abs(d) : d * d; }).ToArray();
            Assert.Equal(BitConverter.SingleToInt32Bits(NumpySum.Sum(terms)), BitConverter.SingleToInt32Bits(fast[g]));
            cases++;
        }
        Assert.Equal(18, cases);
        Assert.True(tricky > 1000);
    }

    /// <summary>Infinite and NaN values (clipped to a bound, or to a; their terms infinite or NaN) come out as the division kernel's, bit for bit.</summary>
    [Fact]
    public void NonFiniteValues_AreTheDivisionKernel_BitForBit()
    {
        var grid = MctGrid.FromRange(-1.3, 2.1, 8, ParameterPrecision.Double, true);
        int cases = 0;
        foreach (float special in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN })
            foreach (int n in new[] { 3, 16, 200, 9000 })
                foreach (bool absolute in new[] { false, true })
                {
                    var x = Enumerable.Range(0, n).Select(i => i == n / 2 ? special : MathF.Sin(i) * 2).ToArray();
                    var divided = Sums(x, [grid], absolute, false, divide: true);
                    var fast = Sums(x, [grid], absolute, false, divide: false);
                    Assert.Equal(BitConverter.SingleToInt32Bits(divided[0]), BitConverter.SingleToInt32Bits(fast[0]));
                    cases++;
                }
        Assert.Equal(24, cases);
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
