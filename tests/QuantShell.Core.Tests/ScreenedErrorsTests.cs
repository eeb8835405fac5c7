using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's float64 errors of float32 values bounded from float32 arithmetic (<see cref="GridErrorBounds"/>) and the
/// candidates screened with them (<see cref="ScreenedTensorErrors"/>): the bounds always hold the exact error, whatever
/// the data (levels and rounding boundaries, outliers past the grid, few values, tiny spreads), the grid (2 to 12 bits,
/// float64 or float32 parameters, thresholds and ranges), the error (squared or absolute) and NumPy's summation order;
/// and the searches choose bit for bit what they choose with every error exact.
/// </summary>
public sealed class ScreenedErrorsTests
{
    private static readonly int[] Lengths = [1, 5, 8, 13, 255, 256, 257, 576, 1000, 2311];

    /// <summary>Grids around the data: symmetric thresholds below, at and past its largest magnitude, and uniform ranges.</summary>
    private static IEnumerable<MctGrid> Grids(float[] values, int seed)
    {
        var random = new Random(seed);
        double reach = Math.Max(1e-6, values.Max(v => Math.Abs((double)v)));
        double min = values.Min(), max = values.Max();
        foreach (int bits in new[] { 2, 3, 4, 8, 12 })
        {
            foreach (double factor in new[] { 0.31, 0.7 + 0.5 * random.NextDouble(), 1.0, 1.7 })
            {
                yield return MctGrid.FromThreshold(reach * factor, bits, true, ParameterPrecision.Double, single: false);
                yield return MctGrid.FromThreshold(reach * factor, bits, false, ParameterPrecision.SingleArray, single: false);
            }
            double alpha = 0.7 + 0.5 * random.NextDouble(), beta = 0.7 + 0.5 * random.NextDouble();
            yield return MctGrid.FromRange(min * alpha, max * beta, bits, ParameterPrecision.Double, single: false);
            yield return MctGrid.FromRange(min, Math.Max(max, -min), bits, ParameterPrecision.SingleScalar, single: false);
        }
    }

    /// <summary>The error <see cref="TensorErrors{T}"/> computes for one grid on one channel (NumPy's arithmetic and order).</summary>
    private static double Exact(float[] values, MctGrid grid, ErrorMethod method, bool sequential)
    {
        var errors = new TensorErrors<float>([values], method, 2, perChannel: true, sequential);
        var one = new MctLoss[1];
        errors.Evaluate(0, [new MctCandidate(grid, 0, 0, ParameterPrecision.Double, false)], one);
        return one[0].Value;
    }

    [Theory]
    [MemberData(nameof(BoundedSearchTests.Kinds), MemberType = typeof(BoundedSearchTests))]
    public void Bounds_HoldTheExactError(string kind)
    {
        int cases = 0, bounded = 0;
        foreach (int n in Lengths)
        {
            var values = BoundedSearchTests.Data(kind, n, n * 13 + kind.Length);
            foreach (var grid in Grids(values, n))
                foreach (var method in new[] { ErrorMethod.Mse, ErrorMethod.Mae })
                    foreach (bool sequential in new[] { false, true })
                    {
                        cases++;
                        double exact = Exact(values, grid, method, sequential);
                        bool finite = double.IsFinite(grid.Low) && double.IsFinite(grid.High) && double.IsFinite(grid.Step);
                        bool boundedHere = GridErrorBounds.TryBound(values, grid, method == ErrorMethod.Mae, out double low, out double high);
                        // A range of one value gives MCT's grid of NaNs (and a NaN error): that alone is not bounded.
                        Assert.Equal(finite, boundedHere);
                        if (!boundedHere) continue;
                        bounded++;
                        Assert.True(low <= exact && exact <= high,
                            $"{kind} n {n} grid ({grid.Low:R}, {grid.High:R}, {grid.Step:R}) {method} sequential {sequential}: {exact:R} not in [{low:R}, {high:R}]");
                    }
        }
        // 10 lengths x 5 bit widths x 10 grids x 2 methods x 2 orders; all but the NaN grids of one value's range.
        Assert.Equal(Lengths.Length * 5 * 10 * 4, cases);
        Assert.InRange(bounded, cases - 5 * 2 * 4 * 2, cases);
    }

    /// <summary>
    /// Values on, and a few float32 steps around, the grids' rounding boundaries (c / s a half-integer), where the level
    /// from the reciprocal may differ from NumPy's division: the bounds still hold the exact error.
    /// </summary>
    [Fact]
    public void ValuesAtRoundingBoundaries_AreBounded()
    {
        var random = new Random(41);
        int cases = 0;
        for (int g = 0; g < 80; g++)
        {
            int bits = random.Next(2, 9);
            var grid = MctGrid.FromRange(-random.NextDouble() * 3, random.NextDouble() * 3 + 0.01, bits, ParameterPrecision.Double, single: false);
            var values = new List<float>();
            while (values.Count < 600)
            {
                double h = random.Next(0, (1 << bits) - 1) + 0.5;
                float x = (float)(grid.Low + h * grid.Step);
                for (int ulps = -2; ulps <= 2; ulps++) values.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) + ulps));
            }
            var array = values.ToArray();
            foreach (var method in new[] { ErrorMethod.Mse, ErrorMethod.Mae })
            {
                double exact = Exact(array, grid, method, sequential: false);
                Assert.True(GridErrorBounds.TryBound(array, grid, method == ErrorMethod.Mae, out double low, out double high));
                Assert.True(low <= exact && exact <= high, $"grid {g} {method}: {exact:R} not in [{low:R}, {high:R}]");
                cases++;
            }
        }
        Assert.Equal(160, cases);
    }

    /// <summary>
    /// The levels the bounds use are NumPy's (round((clip(x) - a) / s) in float64) at every value on and around the
    /// rounding boundaries, although the float32 product alone rounds some of them to the other level (counted: the data
    /// reaches the case the division is for), and bounding such data redoes chunks with those levels divided.
    /// </summary>
    [Fact]
    public void Levels_AreNumpys_AtRoundingBoundaries()
    {
        var random = new Random(43);
        int values = 0, productWrong = 0;
        long redone = GridErrorBounds.RedoneChunks;
        for (int g = 0; g < 200; g++)
        {
            int bits = random.Next(2, 9);
            var grid = MctGrid.FromRange(-random.NextDouble() * 3, random.NextDouble() * 3 + 0.01, bits, ParameterPrecision.Double, single: false);
            var x = new float[517];
            for (int i = 0; i < x.Length; i++)
            {
                float h = (float)(grid.Low + (random.Next(0, (1 << bits) - 1) + 0.5) * grid.Step);
                x[i] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(h) + random.Next(-3, 4));
            }
            var levels = new float[x.Length];
            Assert.True(GridErrorBounds.Levels(x, grid, levels));
            float a32 = (float)grid.Low, b32 = (float)grid.High, r32 = (float)(1 / grid.Step);
            for (int i = 0; i < x.Length; i++)
            {
                double clipped = Math.Min(Math.Max(x[i], grid.Low), grid.High);
                float numpy = (float)Math.Round((clipped - grid.Low) / grid.Step);
                Assert.True(numpy == levels[i], $"grid {g} value {x[i]:R}: level {levels[i]}, NumPy's {numpy}");
                if (MathF.Round((MathF.Min(MathF.Max(x[i], a32), b32) - a32) * r32) != numpy) productWrong++;
                values++;
            }
            Assert.True(GridErrorBounds.TryBound(x, grid, false, out _, out _));
        }
        Assert.Equal(200 * 517, values);
        Assert.True(productWrong > 0, "no value where the float32 product rounds to another level: the test misses the case");
        Assert.True(GridErrorBounds.RedoneChunks > redone);
    }

    /// <summary>For 8 bits the bounds are close enough to decide between a search's neighbouring candidates.</summary>
    [Fact]
    public void EightBitBounds_AreTight()
    {
        var values = BoundedSearchTests.Data("gaussian", 576, 3);
        double reach = values.Max(v => Math.Abs((double)v));
        var grid = MctGrid.FromThreshold(reach * 0.8, 8, true, ParameterPrecision.Double, single: false);
        Assert.True(GridErrorBounds.Useful(grid));
        Assert.True(GridErrorBounds.TryBound(values, grid, false, out double low, out double high));
        double exact = Exact(values, grid, ErrorMethod.Mse, sequential: false);
        Assert.InRange((high - low) / exact, 1e-7, 1e-3);
    }

    [Fact]
    public void NonFiniteValues_AndGridsOutOfReach_AreNotBounded()
    {
        var values = BoundedSearchTests.Data("gaussian", 300, 5);
        var grid = MctGrid.FromThreshold(1, 8, true, ParameterPrecision.Double, single: false);
        Assert.True(GridErrorBounds.TryBound(values, grid, false, out _, out _));
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            var copy = (float[])values.Clone();
            copy[123] = bad;
            Assert.False(GridErrorBounds.TryBound(copy, grid, false, out double low, out double high), $"{bad}");
            Assert.True(double.IsNegativeInfinity(low) && double.IsPositiveInfinity(high));
        }
        // A step float32 cannot hold, a float32 grid (its terms are NumPy's already), and 16 bits (bounds too wide to use).
        Assert.False(GridErrorBounds.TryBound(values, MctGrid.FromThreshold(1e-44, 8, true, ParameterPrecision.Double, single: false), false, out _, out _));
        Assert.False(GridErrorBounds.TryBound(values, MctGrid.FromThreshold(1, 8, true, ParameterPrecision.Double, single: true), false, out _, out _));
        Assert.False(GridErrorBounds.Useful(MctGrid.FromThreshold(1, 16, true, ParameterPrecision.Double, single: false)));
        Assert.True(GridErrorBounds.Useful(grid));
    }

    /// <summary>
    /// A set bounded together (<see cref="GridErrorBounds.TryBoundLeast"/>): each candidate finished has
    /// <see cref="GridErrorBounds.TryBound"/>'s bounds bit for bit; each one left part way has a low bound at most its
    /// exact error and above the least upper bound of those finished, and no upper bound; every candidate whose exact error
    /// is the least is finished. Symmetric sets (30) and uniform sets (64) in their order and shuffled, channels of one to
    /// 40 chunks (below <see cref="GridErrorBounds.BoundTogetherFrom"/> bounded one by one: none left); some candidates are
    /// left part way (the point of it).
    /// </summary>
    [Theory]
    [MemberData(nameof(BoundedSearchTests.Kinds), MemberType = typeof(BoundedSearchTests))]
    public void SetsBoundedTogether_KeepEachBoundOrALowerOne(string kind)
    {
        var random = new Random(kind.Length * 31 + 7);
        int sets = 0, cutTotal = 0, candidatesSeen = 0;
        foreach (int n in new[] { 64, 300, 1029, 4100, 10240 })
            foreach (var method in new[] { ErrorMethod.Mse, ErrorMethod.Mae })
                foreach (bool uniform in new[] { false, true })
                    foreach (bool shuffled in new[] { false, true })
                    {
                        var values = BoundedSearchTests.Data(kind, n, n + (uniform ? 1 : 0) + (shuffled ? 2 : 0));
                        double reach = Math.Max(1e-6, values.Max(v => Math.Abs((double)v))), min = values.Min(), max = values.Max();
                        int bits = uniform ? 4 : 8;
                        var candidates = uniform
                            ? NumpyLinspace.Create(0.7, 1.2, 8).SelectMany(alpha => NumpyLinspace.Create(0.7, 1.2, 8).Select(beta =>
                                new MctCandidate(MctGrid.FromRange(min * alpha, max * beta, bits, ParameterPrecision.Double, false), min * alpha, max * beta, ParameterPrecision.Double, false))).ToArray()
                            : NumpyLinspace.Create(0.7 * reach * 0.9, 1.2 * reach * 0.9, 30).Select(t =>
                                new MctCandidate(MctGrid.FromThreshold(t, bits, true, ParameterPrecision.Double, false), -t, t, ParameterPrecision.Double, true)).ToArray();
                        if (shuffled) random.Shuffle(candidates);
                        bool absolute = method == ErrorMethod.Mae;
                        var lows = new double[candidates.Length];
                        var highs = new double[candidates.Length];
                        Assert.True(GridErrorBounds.TryBoundLeast(values, candidates, absolute, lows, highs, out int cut));
                        var exact = candidates.Select(c => Exact(values, c.Grid, method, sequential: false)).ToArray();
                        double leastExact = exact.Min(), leastHigh = double.PositiveInfinity;
                        int left = 0;
                        for (int i = 0; i < candidates.Length; i++)
                        {
                            string what = $"{kind} n {n} {method} uniform {uniform} shuffled {shuffled} candidate {i}";
                            if (double.IsPositiveInfinity(highs[i]))
                            {
                                left++;
                                Assert.True(lows[i] <= exact[i] && lows[i] > leastExact, $"{what}: left with {lows[i]:R}, exact {exact[i]:R}, least {leastExact:R}");
                                continue;
                            }
                            Assert.True(GridErrorBounds.TryBound(values, candidates[i].Grid, absolute, out double low, out double high));
                            Assert.Equal(BitConverter.DoubleToInt64Bits(low), BitConverter.DoubleToInt64Bits(lows[i]));
                            Assert.Equal(BitConverter.DoubleToInt64Bits(high), BitConverter.DoubleToInt64Bits(highs[i]));
                            leastHigh = Math.Min(leastHigh, high);
                        }
                        for (int i = 0; i < candidates.Length; i++)
                            if (double.IsPositiveInfinity(highs[i])) Assert.True(lows[i] > leastHigh, $"{kind} n {n}: candidate {i} left at {lows[i]:R}, not above the least upper bound {leastHigh:R}");
                        Assert.Equal(left, cut);
                        if (n < GridErrorBounds.BoundTogetherFrom) Assert.Equal(0, cut);
                        cutTotal += cut;
                        candidatesSeen += candidates.Length;
                        sets++;
                    }
        Assert.Equal(5 * 2 * 2 * 2, sets);
        Assert.Equal(5 * 2 * 2 * (30 + 64), candidatesSeen);
        Assert.True(cutTotal > candidatesSeen / 10, $"{kind}: {cutTotal} of {candidatesSeen} candidates left part way");
    }

    /// <summary>
    /// Sets of 30 candidates as MCT's symmetric search makes them: the screened errors' least is the exact least (value and
    /// first index), every candidate left out is given a value above it and at most its exact error, and most are left out.
    /// </summary>
    [Theory]
    [MemberData(nameof(BoundedSearchTests.Kinds), MemberType = typeof(BoundedSearchTests))]
    public void ScreenedSets_KeepTheLeastExact(string kind)
    {
        int sets = 0;
        long outCount = 0, cutCount = 0;
        foreach (var method in new[] { ErrorMethod.Mse, ErrorMethod.Mae })
            foreach (int n in new[] { ScreenedTensorErrors.ScreenedFrom, 576, 3000 })
            {
                var channels = Enumerable.Range(0, 3).Select(c => BoundedSearchTests.Data(kind, n, 100 * n + c)).ToArray();
                var exactErrors = new TensorErrors<float>(channels, method, 2, perChannel: true);
                var screened = new ScreenedTensorErrors(exactErrors);
                for (int c = 0; c < channels.Length; c++)
                {
                    double reach = channels[c].Max(v => Math.Abs((double)v));
                    foreach (double centre in new[] { 0.5, 0.9, 1.0 })
                    {
                        var thresholds = NumpyLinspace.Create(0.7 * reach * centre, 1.2 * reach * centre, 30);
                        var candidates = thresholds.Select(t => new MctCandidate(MctGrid.FromThreshold(t, 8, true, ParameterPrecision.Double, false), -t, t, ParameterPrecision.Double, true)).ToArray();
                        var expected = new MctLoss[30];
                        var actual = new MctLoss[30];
                        exactErrors.Evaluate(c, candidates, expected);
                        screened.Evaluate(c, candidates, actual);
                        int least = MctLosses.ArgMin(expected);
                        Assert.Equal(least, MctLosses.ArgMin(actual));
                        double min = expected[least].Value;
                        for (int i = 0; i < 30; i++)
                        {
                            if (expected[i].Value == min) Assert.Equal(BitConverter.DoubleToInt64Bits(min), BitConverter.DoubleToInt64Bits(actual[i].Value));
                            else Assert.True(actual[i].Value > min && actual[i].Value <= expected[i].Value, $"{kind} {method} n {n} channel {c} candidate {i}: {actual[i].Value:R} vs exact {expected[i].Value:R}, least {min:R}");
                        }
                        sets++;
                    }
                }
                outCount += screened.ScreenedCount;
                cutCount += screened.CutCount;
                Assert.InRange(screened.CutCount, 0, screened.ScreenedCount);
                // One chunk's channels are bounded one candidate at a time (nothing to leave part way).
                if (n < GridErrorBounds.BoundTogetherFrom) Assert.Equal(0, screened.CutCount);
                Assert.Equal(screened.ScreenedCount + screened.ExactCount, channels.Length * 3 * 30);
            }
        Assert.Equal(2 * 3 * 3 * 3, sets);
        // Below ScreenedFrom values a channel's sets are computed exactly as they are.
        var few = new ScreenedTensorErrors(new TensorErrors<float>([BoundedSearchTests.Data(kind, ScreenedTensorErrors.ScreenedFrom - 1, 9)], ErrorMethod.Mse, 2, perChannel: true));
        double top = BoundedSearchTests.Data(kind, ScreenedTensorErrors.ScreenedFrom - 1, 9).Max(v => Math.Abs((double)v));
        var set = NumpyLinspace.Create(0.7 * top, 1.2 * top, 30).Select(t => new MctCandidate(MctGrid.FromThreshold(t, 8, true, ParameterPrecision.Double, false), -t, t, ParameterPrecision.Double, true)).ToArray();
        few.Evaluate(0, set, new MctLoss[30]);
        Assert.Equal(0, few.ScreenedCount);
        Assert.Equal(30, few.ExactCount);
        // The point of screening: most candidates are decided without their exact errors.
        Assert.True(outCount > sets * 30 / 2, $"{kind}: only {outCount} of {sets * 30} candidates screened out");
        // Some of them without all their values (channels of 3000 values, 12 chunks, are bounded together; 576 one by one).
        Assert.True(cutCount > 0, $"{kind}: no candidate left part way");
    }

    /// <summary>MCT's per-channel symmetric and uniform searches choose the same values bit for bit with and without screening.</summary>
    [Theory]
    [MemberData(nameof(BoundedSearchTests.Kinds), MemberType = typeof(BoundedSearchTests))]
    public void Searches_EqualTheExactSearches(string kind)
    {
        int cases = 0;
        foreach (int bits in new[] { 2, 4, 8 })
            foreach (var (method, p) in new[] { (ErrorMethod.Mse, 2.0), (ErrorMethod.Mae, 1.0), (ErrorMethod.Lp, 2.0) })
                foreach (bool sequential in new[] { false, true })
                {
                    int n = bits == 8 ? 577 : 70;
                    var channels = Enumerable.Range(0, 4).Select(c => BoundedSearchTests.Data(kind, n, bits * 1000 + c * 7 + (sequential ? 1 : 0))).ToArray();
                    string what = $"{kind} {bits}-bit {method} sequential {sequential}";
                    var exact = BoundedSearchTests.ExactOnly(() => MctWeightsSelection.SymmetricThresholds(channels, bits, true, true, method, p, sequential));
                    var screened = MctWeightsSelection.SymmetricThresholds(channels, bits, true, true, method, p, sequential);
                    Assert.True(exact.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(screened.Select(BitConverter.DoubleToInt64Bits)), what);
                    var exactRanges = BoundedSearchTests.ExactOnly(() => MctWeightsSelection.UniformRanges(channels, bits, true, method, p, sequential));
                    var screenedRanges = MctWeightsSelection.UniformRanges(channels, bits, true, method, p, sequential);
                    Assert.Equal(exactRanges.Select(r => (BitConverter.DoubleToInt64Bits(r.Min), BitConverter.DoubleToInt64Bits(r.Max))),
                                 screenedRanges.Select(r => (BitConverter.DoubleToInt64Bits(r.Min), BitConverter.DoubleToInt64Bits(r.Max))));
                    cases++;
                }
        Assert.Equal(3 * 3 * 2, cases);
    }
}
