using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's searches with each candidate's squared error bounded from a histogram first (<see cref="BoundedTensorErrors{T}"/>)
/// against the same searches computing every error exactly: the same choice bit for bit, on seeded data made to give
/// near ties (values on the grids' levels and rounding boundaries, few distinct values, heavy tails); and the bounds
/// themselves always hold the exact error.
/// </summary>
public sealed class BoundedSearchTests
{
    private const int Exhaustive = int.MaxValue, Always = 0;

    public static TheoryData<string> Kinds() => new(DataKinds);

    internal static readonly string[] DataKinds = ["gaussian", "grid-points", "few-values", "heavy-tail", "skewed", "tiny-spread"];

    /// <summary>Seeded data of one kind: n values, the seed also spreading the scale.</summary>
    internal static float[] Data(string kind, int n, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        float scale = (float)(0.05 + random.NextDouble());
        return kind switch
        {
            "gaussian" => Enumerable.Range(0, n).Select(_ => (float)(Normal() * scale)).ToArray(),
            // Exactly on levels and half-way points of 8-bit and 4-bit grids over [-1, 1]: ties of the rounding, and
            // candidates whose errors differ by a hair.
            "grid-points" => Enumerable.Range(0, n).Select(_ => random.Next(4) switch
            {
                0 => random.Next(-128, 128) / 128f,
                1 => (random.Next(-128, 127) + 0.5f) / 128f,
                2 => random.Next(-8, 8) / 8f + 1 / 16f,
                _ => (float)(Normal() * 0.4),
            }).ToArray(),
            // A handful of distinct values: many candidates with equal errors.
            "few-values" => Enumerable.Range(0, n).Select(_ => new[] { -1f, -0.25f, 0f, 0.125f, 0.5f, 1f }[random.Next(6)] * scale).ToArray(),
            "heavy-tail" => Enumerable.Range(0, n).Select(_ => (float)(Normal() * scale / Math.Max(0.05, Math.Abs(Normal())))).ToArray(),
            "skewed" => Enumerable.Range(0, n).Select(_ => (float)(Math.Exp(Normal()) * scale + 0.3)).ToArray(),
            "tiny-spread" => Enumerable.Range(0, n).Select(_ => (float)(1 + Normal() * 1e-5)).ToArray(),
            _ => throw new ArgumentException(kind),
        };
    }

    /// <summary>
    /// What <paramref name="search"/> returns with every error computed exactly: no histogram bounds (Exhaustive) and no
    /// float32 screening either (<see cref="ScreenedTensorErrors"/>), so the reference is the literal arithmetic.
    /// </summary>
    internal static TResult ExactOnly<TResult>(Func<TResult> search)
    {
        ScreenedTensorErrors.Disabled = true;
        try
        {
            return search();
        }
        finally
        {
            ScreenedTensorErrors.Disabled = false;
        }
    }

    private static float[][] Channels(string kind, int channels, int n, int seed) =>
        Enumerable.Range(0, channels).Select(c => Data(kind, n, seed * 31 + c)).ToArray();

    private static void AssertSame(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(expected[i]) == BitConverter.DoubleToInt64Bits(actual[i]),
                $"{what} [{i}]: bounded {actual[i]:R}, exhaustive {expected[i]:R}");
    }

    /// <summary>Two specs' chosen values the same bit for bit: a uniform one's ranges, else its thresholds.</summary>
    private static void AssertSameValues(QuantizerSpec expected, QuantizerSpec actual, string what)
    {
        if (expected.Method == QuantizationMethod.Uniform)
        {
            AssertSame(expected.MinRange!.ToArray(), actual.MinRange!.ToArray(), what + " min");
            AssertSame(expected.MaxRange!.ToArray(), actual.MaxRange!.ToArray(), what + " max");
        }
        else
        {
            AssertSame(expected.Threshold!.ToArray(), actual.Threshold!.ToArray(), what);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Symmetric_BoundedEqualsExhaustive(string kind)
    {
        int cases = 0;
        foreach (int bits in new[] { 2, 4, 8 })
            foreach (bool perChannel in new[] { false, true })
            {
                int seed = bits * 7 + (perChannel ? 1 : 0);
                var channels = perChannel ? Channels(kind, 3, 6000, seed) : [Data(kind, 30000, seed)];
                foreach (bool sequential in perChannel ? new[] { false, true } : new[] { false })
                {
                    var exhaustive = ExactOnly(() => MctWeightsSelection.SymmetricThresholds(channels, bits, true, perChannel, ErrorMethod.Mse, 2, sequential, Exhaustive));
                    var bounded = MctWeightsSelection.SymmetricThresholds(channels, bits, true, perChannel, ErrorMethod.Mse, 2, sequential, Always);
                    AssertSame(exhaustive, bounded, $"{kind} symmetric {bits}-bit perChannel {perChannel} sequential {sequential}");
                    cases++;
                }
            }
        Assert.Equal(9, cases);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Uniform_BoundedEqualsExhaustive(string kind)
    {
        int cases = 0;
        foreach (int bits in new[] { 3, 8 })
            foreach (bool perChannel in new[] { false, true })
            {
                int seed = 200 + bits * 7 + (perChannel ? 1 : 0);
                var channels = perChannel ? Channels(kind, 3, 5000, seed) : [Data(kind, 20000, seed)];
                var exhaustive = ExactOnly(() => MctWeightsSelection.UniformRanges(channels, bits, perChannel, ErrorMethod.Mse, 2, false, Exhaustive));
                var bounded = MctWeightsSelection.UniformRanges(channels, bits, perChannel, ErrorMethod.Mse, 2, false, Always);
                AssertSame(exhaustive.Select(r => r.Min).ToArray(), bounded.Select(r => r.Min).ToArray(), $"{kind} uniform {bits}-bit perChannel {perChannel} min");
                AssertSame(exhaustive.Select(r => r.Max).ToArray(), bounded.Select(r => r.Max).ToArray(), $"{kind} uniform {bits}-bit perChannel {perChannel} max");
                cases++;
            }
        Assert.Equal(4, cases);
    }

    [Fact]
    public void DoubleValues_BoundedEqualsExhaustive()
    {
        int cases = 0;
        foreach (string kind in DataKinds)
        {
            var channels = new[] { Data(kind, 20000, 300 + cases).Select(v => (double)v * 1.0000001).ToArray() };
            AssertSame(MctWeightsSelection.SymmetricThresholds(channels, 8, true, false, ErrorMethod.Mse, 2, false, Exhaustive),
                       MctWeightsSelection.SymmetricThresholds(channels, 8, true, false, ErrorMethod.Mse, 2, false, Always), $"{kind} float64 symmetric");
            cases++;
        }
        Assert.Equal(DataKinds.Length, cases);
    }

    /// <summary>
    /// The optimal search with its scans bounded first (<see cref="ChannelScorer{T}.ScoreMany"/>) against the same
    /// search scoring every grid exactly: the same quantizer, per tensor and per channel, symmetric and uniform.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Optimal_BoundedEqualsExhaustive(string kind)
    {
        int cases = 0;
        foreach (var method in new[] { QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
            foreach (int bits in new[] { 3, 8 })
                // Per tensor also on enough values for the coarse scan to be scored on all of them (ParameterSelector.CoarseOnAllFrom).
                // Per channel also on channels of fewer values than SelectionOptions.ClippingBoundsFrom (every grid exact by default).
                foreach (var (perChannel, length) in new[] { (false, 24000), (true, 8000), (true, 300), (false, ParameterSelector.CoarseOnAllFrom + 4000) })
                {
                    int seed = 500 + bits * 7 + (perChannel ? 1 : 0) + (int)method * 13 + length;
                    var values = perChannel ? Channels(kind, 3, length, seed).SelectMany(c => c).ToArray() : Data(kind, length, seed);
                    var array = new NpyArray(perChannel ? new long[] { 3, length } : [length], values);
                    var request = new QuantizerSpec
                    {
                        Target = QuantizationTarget.Weights, Method = method, NumBits = bits, PerChannel = perChannel, ChannelAxis = perChannel ? 0 : null,
                    };
                    var options = new SelectionOptions { Search = SelectionSearch.Optimal };
                    var exhaustive = ParameterSelector.Select(request, [array], options with { BoundedSearchFrom = Exhaustive, ClippingBounds = false });
                    // Bounded by the histogram on every sample, by the clipping on every sample below 2^16 values, and as by default
                    // (the clipping alone from 512 to 2^16 values, none below).
                    foreach (var (name, boundedOptions) in new[]
                             {
                                 ("histogram", options with { BoundedSearchFrom = Always }), ("clipping", options with { ClippingBoundsFrom = 1 }), ("default", options),
                             })
                    {
                        var bounded = ParameterSelector.Select(request, [array], boundedOptions);
                        string what = $"{kind} optimal {method} {bits}-bit perChannel {perChannel} {length} values, bounds {name}";
                        AssertSameValues(exhaustive, bounded, what);
                        cases++;
                    }
                }
        Assert.Equal(48, cases);
    }

    /// <summary>
    /// The optimal search's fine rounds starting from the exact error the scan before found for the grid each starts from
    /// (<see cref="SelectionOptions.ReuseLeastError"/>) against scoring that grid again: the same values bit for bit,
    /// symmetric and uniform, per tensor and per channel, on enough values for the coarse scan to be scored on all of them
    /// (its least reused too) and on fewer, with Mse (bounded) and with Mae and Kl (every grid exact).
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Optimal_ReusedLeastErrorEqualsRescored(string kind)
    {
        int cases = 0;
        foreach (var method in new[] { QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
            foreach (int bits in new[] { 3, 8 })
                foreach (var (perChannel, length) in new[] { (false, ParameterSelector.CoarseOnAllFrom + 3000), (true, 5000) })
                    foreach (var error in new[] { ErrorMethod.Mse, ErrorMethod.Mae, ErrorMethod.Kl })
                    {
                        if (error != ErrorMethod.Mse && length > 5000) continue;
                        int seed = 1700 + bits * 7 + (perChannel ? 1 : 0) + (int)method * 13 + (int)error * 29 + Array.IndexOf(DataKinds, kind) * 101;
                        var values = perChannel ? Channels(kind, 3, length, seed).SelectMany(c => c).ToArray() : Data(kind, length, seed);
                        var array = new NpyArray(perChannel ? new long[] { 3, length } : [length], values);
                        var request = new QuantizerSpec
                        {
                            Target = QuantizationTarget.Weights, Method = method, NumBits = bits, PerChannel = perChannel, ChannelAxis = perChannel ? 0 : null,
                        };
                        var options = new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = error };
                        var rescored = ParameterSelector.Select(request, [array], options with { ReuseLeastError = false });
                        var reused = ParameterSelector.Select(request, [array], options);
                        string what = $"{kind} optimal {method} {bits}-bit {error} perChannel {perChannel} {length} values";
                        AssertSameValues(rescored, reused, what);
                        cases++;
                    }
        Assert.Equal(2 * 2 * (1 + 3), cases);
    }

    /// <summary>
    /// The moment histogram's float32 values put in their bins a block at a time (the index arithmetic four values a
    /// vector, <see cref="MomentHistogram.Accumulate{T}"/>) against one value after the other: every bin's count, Σ y and
    /// Σ y² the same bit for bit, on lengths around the vector and block sizes, from 1 bin to 2^16.
    /// </summary>
    [Fact]
    public void HistogramBlocks_EqualOneByOne()
    {
        int cases = 0;
        foreach (string kind in DataKinds)
            foreach (int n in new[] { 1, 3, 4, 255, 256, 257, 1029, 50000 })
                foreach (int bins in new[] { 1, 7, 1 << 10, 1 << 16 })
                {
                    var values = Data(kind, n, 1300 + n + bins + Array.IndexOf(DataKinds, kind) * 7);
                    double lo = values.Min(), hi = values.Max();
                    if (!(lo < hi)) hi = lo + 1;
                    double width = (hi - lo) / bins, inverse = bins / (hi - lo);
                    var blocks = new double[3 * bins];
                    var oneByOne = new double[3 * bins];
                    MomentHistogram.Accumulate<float>(values, lo, inverse, width, bins, blocks);
                    MomentHistogram.Accumulate<float>(values, lo, inverse, width, bins, oneByOne, blocks: false);
                    for (int i = 0; i < blocks.Length; i++)
                        Assert.True(BitConverter.DoubleToInt64Bits(oneByOne[i]) == BitConverter.DoubleToInt64Bits(blocks[i]),
                            $"{kind} {n} values {bins} bins: cell {i} blocks {blocks[i]:R}, one by one {oneByOne[i]:R}");
                    Assert.Equal(n, (long)Enumerable.Range(0, bins).Sum(i => blocks[3 * i]));
                    cases++;
                }
        Assert.Equal(DataKinds.Length * 8 * 4, cases);
    }

    /// <summary>
    /// A histogram given its values' extremes (the scorer's, where every value is finite; a zero of either sign) bounds
    /// every grid bit for bit as one that finds them itself.
    /// </summary>
    [Fact]
    public void HistogramFromKnownExtremes_BoundsAsFound()
    {
        int cases = 0;
        var random = new Random(35);
        foreach (string kind in DataKinds.Append("zero-min"))
        {
            var values = kind == "zero-min"
                ? Data("gaussian", 60000, 1500).Select((v, i) => i % 1000 == 0 ? -0f : Math.Abs(v)).ToArray()
                : Data(kind, 60000, 1500 + cases);
            float lo = values.Min(), hi = values.Max();
            var found = MomentHistogram.Build(values, 1 << 16, parallel: false)!;
            foreach (double min in lo == 0 ? new[] { -0.0, 0.0 } : [lo])
            {
                var given = MomentHistogram.Build(values, 1 << 16, parallel: false, (min, hi))!;
                for (int g = 0; g < 20; g++)
                {
                    int bits = new[] { 3, 4, 8 }[g % 3];
                    double a = 0.05 + 1.1 * random.NextDouble(), b = 0.05 + 1.1 * random.NextDouble();
                    float rangeMin = (float)(Math.Min(lo, 0) * a), rangeMax = (float)(Math.Max(hi, 0) * b);
                    if (!(rangeMin < rangeMax)) continue;
                    var (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(rangeMin, rangeMax, bits);
                    var (scale, zero) = RangeMath.UniformWeightsGrid(adjustedMin, adjustedMax, bits);
                    foreach (double cap in new[] { double.PositiveInfinity, double.NegativeInfinity })
                    {
                        bool foundBounded = found.TryKernelSquaredErrorSum(scale, 1 / scale, zero, 0, (1 << bits) - 1, true, cap, out double foundLow, out double foundHigh);
                        bool givenBounded = given.TryKernelSquaredErrorSum(scale, 1 / scale, zero, 0, (1 << bits) - 1, true, cap, out double givenLow, out double givenHigh);
                        Assert.Equal(foundBounded, givenBounded);
                        Assert.True(BitConverter.DoubleToInt64Bits(foundLow) == BitConverter.DoubleToInt64Bits(givenLow)
                                    && BitConverter.DoubleToInt64Bits(foundHigh) == BitConverter.DoubleToInt64Bits(givenHigh),
                            $"{kind}, min {min}, grid {g}, cap {cap}: [{givenLow:R}, {givenHigh:R}] given, [{foundLow:R}, {foundHigh:R}] found");
                        cases++;
                    }
                }
            }
        }
        Assert.Equal((DataKinds.Length + 2) * 20 * 2, cases);
    }

    /// <summary>The histogram's interval holds the exact float error sum of every grid it bounds, and bounds most of them.</summary>
    [Fact]
    public void Bounds_HoldTheExactErrorSums()
    {
        int checkedGrids = 0, bounded = 0;
        var random = new Random(5);
        foreach (string kind in DataKinds)
        {
            var values = Data(kind, 50000, 400 + checkedGrids);
            var histogram = MomentHistogram.Build(values, 1 << 14, parallel: false)!;
            float max = values.Max(Math.Abs);
            for (int g = 0; g < 40; g++)
            {
                bool single = g % 2 == 0;
                int bits = new[] { 2, 3, 4, 6, 8 }[g % 5];
                double t = max * (0.2 + 1.2 * random.NextDouble());
                var grid = g % 3 == 0
                    ? MctGrid.FromRange(-t * random.NextDouble(), t, bits, ParameterPrecision.Double, single)
                    : MctGrid.FromThreshold(t, bits, g % 4 != 1, g % 7 == 0 ? ParameterPrecision.SingleArray : ParameterPrecision.Double, single);
                double exact = ExactSum(values, grid, single);
                checkedGrids++;
                if (!histogram.TrySquaredErrorSum(grid, out double low, out double high)) continue;
                double gamma = MomentHistogram.SumBounds(values.Length, single, false)!.Value;
                Assert.True(low * (1 - gamma) <= exact && exact <= high * (1 + gamma),
                    $"{kind}, grid {g} ({bits}-bit, single {single}): exact {exact:R} outside [{low * (1 - gamma):R}, {high * (1 + gamma):R}]");
                bounded++;
            }
        }
        Assert.Equal(DataKinds.Length * 40, checkedGrids);
        Assert.True(bounded > checkedGrids / 2, $"only {bounded} of {checkedGrids} grids bounded");
    }

    /// <summary>
    /// Bounds with a cap: the clipping's bound alone (cap −∞), and a grid found above a cap partway, still hold the exact
    /// sum; a grid found above the cap says so (its low above the cap, high +∞), one below it gets the full bounds.
    /// </summary>
    [Fact]
    public void CappedBounds_HoldTheExactErrorSums()
    {
        int checkedGrids = 0, early = 0, full = 0;
        var random = new Random(15);
        foreach (string kind in DataKinds)
        {
            var values = Data(kind, 60000, 700 + checkedGrids);
            var histogram = MomentHistogram.Build(values, 1 << 14, parallel: false)!;
            float max = values.Max(Math.Abs);
            for (int g = 0; g < 30; g++)
            {
                bool single = g % 2 == 0;
                int bits = new[] { 3, 4, 8 }[g % 3];
                // Ranges from far inside the data (mostly clipping) to beyond it.
                double t = max * (0.05 + 1.3 * random.NextDouble());
                var grid = g % 3 == 0
                    ? MctGrid.FromRange(-t * random.NextDouble(), t, bits, ParameterPrecision.Double, single)
                    : MctGrid.FromThreshold(t, bits, g % 4 != 1, ParameterPrecision.Double, single);
                double exact = ExactSum(values, grid, single);
                double gamma = MomentHistogram.SumBounds(values.Length, single, false)!.Value;
                checkedGrids++;
                if (!histogram.TrySquaredErrorSum(grid, out double fullLow, out double fullHigh)) continue;
                Assert.True(histogram.TrySquaredErrorSum(grid, double.NegativeInfinity, out double clipLow, out double clipHigh));
                Assert.True(clipLow * (1 - gamma) <= exact && double.IsPositiveInfinity(clipHigh),
                    $"{kind}, grid {g}: clipping bound {clipLow:R} above the exact {exact:R}");
                Assert.True(clipLow <= fullLow * (1 + 1e-9) + 1e-300, $"{kind}, grid {g}: clipping bound {clipLow:R} above the full low {fullLow:R}");
                foreach (double fraction in new[] { 0.1, 0.5, 0.9, 1.5 })
                {
                    double cap = exact * fraction;
                    Assert.True(histogram.TrySquaredErrorSum(grid, cap, out double low, out double high));
                    Assert.True(low * (1 - gamma) <= exact, $"{kind}, grid {g}, cap {fraction}: low {low:R} above the exact {exact:R}");
                    if (double.IsPositiveInfinity(high))
                    {
                        Assert.True(low > cap, $"{kind}, grid {g}, cap {fraction}: stopped at {low:R}, not above the cap {cap:R}");
                        early++;
                    }
                    else
                    {
                        Assert.Equal(fullLow, low);
                        Assert.Equal(fullHigh, high);
                        full++;
                    }
                }
            }
        }
        Assert.Equal(DataKinds.Length * 30, checkedGrids);
        Assert.True(early > 50 && full > 50, $"{early} stopped early, {full} bounded in full");
    }

    /// <summary>The bounds of the quantizer kernel's grids (the optimal search's) hold the exact error sums ErrorMeasure computes, capped or not.</summary>
    [Fact]
    public void KernelBounds_HoldTheExactErrorSums()
    {
        int checkedGrids = 0, bounded = 0;
        var random = new Random(25);
        var measure = new ErrorMeasure(ErrorMethod.Mse, 2);
        foreach (string kind in DataKinds)
        {
            var values = Data(kind, 60000, 900 + checkedGrids);
            var histogram = MomentHistogram.Build(values, 1 << 14, parallel: false)!;
            float lo = values.Min(), hi = values.Max();
            for (int g = 0; g < 30; g++)
            {
                int bits = new[] { 3, 4, 8 }[g % 3];
                double a = 0.05 + 1.1 * random.NextDouble(), b = 0.05 + 1.1 * random.NextDouble();
                float min = (float)(Math.Min(lo, 0) * a), max = (float)(Math.Max(hi, 0) * b);
                if (!(min < max)) continue;
                var (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(min, max, bits);
                var (scale, zero) = RangeMath.UniformWeightsGrid(adjustedMin, adjustedMax, bits);
                var grid = new QuantShell.Core.Kernels.Grid<float>(scale, zero, 0, (1 << bits) - 1);
                double exact = measure.Mean<float>(values, grid) * values.Length;
                double gamma = values.Length * MomentHistogram.UnitRoundoff64;
                checkedGrids++;
                foreach (double cap in new[] { double.PositiveInfinity, double.NegativeInfinity, exact * 0.5 })
                {
                    if (!histogram.TryKernelSquaredErrorSum(grid.Scale, grid.Inverse, (int)grid.ZeroPoint, (int)grid.QuantMin, (int)grid.QuantMax, true, cap, out double low, out double high)) continue;
                    Assert.True(low * (1 - gamma) <= exact && exact <= high * (1 + gamma),
                        $"{kind}, grid {g} ({bits}-bit, cap {cap}): exact {exact:R} outside [{low * (1 - gamma):R}, {high * (1 + gamma):R}]");
                    if (double.IsPositiveInfinity(cap)) bounded++;
                }
            }
        }
        Assert.True(checkedGrids > DataKinds.Length * 25, $"only {checkedGrids} grids");
        Assert.True(bounded > checkedGrids / 2, $"only {bounded} of {checkedGrids} grids bounded");
    }

    private static double ExactSum(float[] values, MctGrid grid, bool single)
    {
        if (single)
        {
            var sums = new float[1];
            GridErrorSums.SumSingle(values, [grid], false, false, false, sums);
            return sums[0];
        }
        var doubles = new double[1];
        GridErrorSums.SumDouble<float>(values, [grid], false, false, false, doubles);
        return doubles[0];
    }

    /// <summary>On smooth data most candidates of a set are decided by their bounds alone.</summary>
    [Fact]
    public void BoundedErrors_ComputeFewCandidatesExactly()
    {
        var channels = new[] { Data("gaussian", 200000, 9) };
        var exact = new TensorErrors<float>(channels, ErrorMethod.Mse, 2, perChannel: false);
        var errors = new BoundedTensorErrors<float>(channels, exact, perChannel: false, sequentialRows: false, boundedFrom: 0);
        var thresholds = MctWeightsSelection.SymmetricThresholds(channels, 8, true, false, ErrorMethod.Mse, 2, false, Exhaustive);
        double t = thresholds[0];
        var candidates = Enumerable.Range(0, 30).Select(i => t * (0.7 + 0.5 * i / 29.0))
            .Select(c => new MctCandidate(MctGrid.FromThreshold(c, 8, true, ParameterPrecision.Double, true), -c, c, ParameterPrecision.Double, false)).ToArray();
        var bounded = new MctLoss[30];
        var full = new MctLoss[30];
        errors.Evaluate(0, candidates, bounded);
        exact.Evaluate(0, candidates, full);
        Assert.Equal(MctLosses.ArgMin(full), MctLosses.ArgMin(bounded));
        Assert.Equal(MctLosses.Min(full), MctLosses.Min(bounded));
        Assert.True(errors.ExactCount <= 5, $"{errors.ExactCount} of 30 computed exactly");
    }

    /// <summary>
    /// The histograms' bins are shared out of a budget that grows with the tensor (one bin per 48 values, 2^19 to 2^21 in
    /// all): never fewer bins a channel than the fixed 2^19 shared out gave, never more than the budget in all (nor than
    /// a histogram holds), per tensor always 2^16; over tensors of 1 to 4,096 channels of 1 to 2^24 values.
    /// </summary>
    [Fact]
    public void BinsPerChannel_ShareOutABudgetScaledToTheTensor()
    {
        int cases = 0;
        foreach (int channels in new[] { 1, 2, 3, 16, 64, 100, 512, 4096 })
            foreach (long length in new long[] { 1, 1000, 1 << 16, 1 << 18, 1 << 20, 3_000_000, 1 << 24 })
            {
                int bins = BoundedTensorErrors<float>.BinsPerChannel(length, channels);
                int before = Math.Clamp(BoundedTensorErrors<float>.MinTotalBins / channels, BoundedTensorErrors<float>.MinBins, BoundedTensorErrors<float>.MaxBins);
                Assert.InRange(bins, before, BoundedTensorErrors<float>.MaxBins);
                Assert.True((long)bins * channels <= Math.Max(BoundedTensorErrors<float>.MaxTotalBins, (long)channels * BoundedTensorErrors<float>.MinBins),
                    $"{channels} x {length}: {bins} bins each");
                if (channels == 1) Assert.Equal(BoundedTensorErrors<float>.MaxBins, bins);
                if (length * channels >= (long)BoundedTensorErrors<float>.ValuesPerBin * BoundedTensorErrors<float>.MaxTotalBins && channels * BoundedTensorErrors<float>.MinBins <= BoundedTensorErrors<float>.MaxTotalBins)
                    Assert.Equal(Math.Min(BoundedTensorErrors<float>.MaxBins, BoundedTensorErrors<float>.MaxTotalBins / channels), bins);
                cases++;
            }
        Assert.Equal(56, cases);
        // The rule at a few points: 64 channels of 2^20 values (256 MiB of float32) get 2^26 / 48 / 64 bins each (a
        // quarter of the tensor's bytes in all); of 2^18, 2^19 / 64; 16 of 2^24 the most a histogram holds; 4,096 of 2^20
        // the least a channel gets.
        Assert.Equal(21_845, BoundedTensorErrors<float>.BinsPerChannel(1 << 20, 64));
        Assert.Equal(8_192, BoundedTensorErrors<float>.BinsPerChannel(1 << 18, 64));
        Assert.Equal(65_536, BoundedTensorErrors<float>.BinsPerChannel(1 << 24, 16));
        Assert.Equal(1_024, BoundedTensorErrors<float>.BinsPerChannel(1 << 20, 4096));
    }

    /// <summary>
    /// A channel of a large tensor (2^20 values, one of 64: 21,845 bins) against the same channel as one of 256 (8,192 bins):
    /// the same least error and winner as the exact errors, with fewer candidates computed exactly (MCT's uniform set of 64 ranges).
    /// </summary>
    [Fact]
    public void FinerBins_LeaveFewerCandidatesExact()
    {
        var channels = new[] { Data("gaussian", 1 << 20, 31) };
        var exact = new TensorErrors<float>(channels, ErrorMethod.Mse, 2, perChannel: true);
        float min = channels[0].Min(), max = channels[0].Max();
        var alphas = Enumerable.Range(0, 8).Select(i => 0.7 + 0.5 * i / 7).ToArray();
        var candidates = alphas.SelectMany(a => alphas.Select(b => new MctCandidate(
            MctGrid.FromRange(min * a, max * b, 8, ParameterPrecision.Double, false), min * a, max * b, ParameterPrecision.Double, false))).ToArray();
        var full = new MctLoss[candidates.Length];
        exact.Evaluate(0, candidates, full);
        var counts = new List<long>();
        foreach (int tensorChannels in new[] { 64, 256 })
        {
            var errors = new BoundedTensorErrors<float>(channels, exact, perChannel: true, sequentialRows: false, boundedFrom: 0, binChannels: tensorChannels);
            var bounded = new MctLoss[candidates.Length];
            errors.Evaluate(0, candidates, bounded);
            Assert.Equal(MctLosses.ArgMin(full), MctLosses.ArgMin(bounded));
            Assert.Equal(MctLosses.Min(full), MctLosses.Min(bounded));
            counts.Add(errors.ExactCount);
        }
        Assert.True(counts[0] < counts[1], $"exact with 21,845 bins: {counts[0]}, with 8,192: {counts[1]}");
    }

    /// <summary>
    /// The optimal search's coarse scans on channels of fewer than <see cref="ParameterSelector.CoarseOnAllFrom"/> values,
    /// scored in <see cref="ChannelScorer{T}.ScoreMany"/>'s batches (many grids a pass): every grid's error bit for bit
    /// the one <see cref="ChannelScorer{T}.Score(in Grid{T}, double, double, T[])"/> gives it alone, or (squared errors,
    /// ruled out by their clipping, <see cref="ClippingBounds"/>) a lower bound of it above the least; and the coarse choice
    /// (<see cref="ParameterSelector.CoarseBest{T}"/>) the one of scoring the grids one by one; symmetric and uniform grids
    /// (with null ones), float32 and float64 values, Mse, Mae and Lp, one scorer alone (two cores) or not.
    /// </summary>
    [Fact]
    public void CoarseScan_BatchedEqualsOneByOne()
    {
        int cases = 0;
        foreach (string kind in DataKinds)
            foreach (int n in new[] { 9, 63, 64, 300, 600, 4608, ParameterSelector.CoarseOnAllFrom - 1 })
                foreach (var (method, p) in new[] { (ErrorMethod.Mse, 2.0), (ErrorMethod.Mae, 1.0), (ErrorMethod.Lp, 3.0) })
                    foreach (int bits in new[] { 3, 8 })
                    {
                        // Lp's errors are summed one value at a time (Math.Pow): on fewer values.
                        if (method != ErrorMethod.Mse && n > 4608 || method == ErrorMethod.Lp && n > 300) continue;
                        int seed = 9000 + n + bits * 5 + (int)method * 17 + Array.IndexOf(DataKinds, kind) * 101;
                        var values = Data(kind, n, seed);
                        var options = new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = method, P = p };
                        bool alone = seed % 2 == 0;
                        string what = $"{kind} {n} values {method} p {p} {bits}-bit alone {alone}";
                        int ruledOut = CoarseCase(values, options, bits, alone, what + " float32")
                                       + CoarseCase(values.Select(v => (double)v * (1 + 1e-9)).ToArray(), options, bits, !alone, what + " float64");
                        // Below ClippingBoundsFrom values every grid is scored exactly (a bound costs about as much there).
                        if (method == ErrorMethod.Mse && n >= options.ClippingBoundsFrom) Assert.True(ruledOut > 0, what + ": no grid ruled out by its clipping");
                        if (method != ErrorMethod.Mse || n < options.ClippingBoundsFrom) Assert.Equal(0, ruledOut);
                        cases += 2;
                    }
        Assert.Equal(DataKinds.Length * (7 + 6 + 4) * 2 * 2, cases);
    }

    /// <summary>How many grids the bounds ruled out (their errors not computed).</summary>
    private static int CoarseCase<T>(T[] values, SelectionOptions options, int bits, bool alone, string what)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
    {
        var scorer = new ChannelScorer<T>(values, options) { Alone = alone };
        var sample = scorer.Sample(int.MaxValue);
        Assert.False(scorer.CoarseOnAll(sample), what);
        // The symmetric scan's thresholds (signed, up to a little beyond max|x|) and the uniform scan's factor pairs.
        var (qmin, qmax) = RangeMath.SymmetricRange(bits, true);
        double upper = scorer.MaxAbs * (1 + 2.0 / (qmax + 1));
        var thresholds = Enumerable.Range(1, 256).Select(k => (double)(float)(upper / 256 * k)).Where(t => t > 0).ToArray();
        var symmetric = thresholds.Select(t => ((Grid<T>?)new Grid<T>(RangeMath.SymmetricScale(t, bits, true), 0, qmin, qmax), -t, t)).ToArray();
        var (lo, hi) = scorer.Range;
        double low = Math.Min(lo, 0), high = Math.Max(hi, 0);
        var factors = Enumerable.Range(1, 34).Select(k => k / 32.0).ToArray();
        var uniform = factors.SelectMany(a => factors.Select(b =>
        {
            float min = (float)(low * a), max = (float)(high * b);
            if (!(min < max)) return ((Grid<T>?)null, 0.0, 0.0);
            var (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(min, max, bits);
            var (scale, zero) = RangeMath.UniformWeightsGrid(adjustedMin, adjustedMax, bits);
            if (!(scale > 0) || !float.IsFinite(scale)) return ((Grid<T>?)null, 0.0, 0.0);
            return ((Grid<T>?)new Grid<T>(scale, zero, 0, (1 << bits) - 1), (double)adjustedMin, (double)adjustedMax);
        })).ToArray();
        int ruledOut = 0;
        // Each scan's own small sample (all the values when fewer).
        foreach (var (name, set, limit) in new[] { ("symmetric", symmetric, 1 << 16), ("uniform", uniform, 1 << 14) })
        {
            var coarse = scorer.Sample(limit);
            var grids = set.Select(g => g.Item1).ToArray();
            var ranges = set.Select(g => (g.Item2, g.Item3)).ToArray();
            var batched = scorer.ScoreMany(grids, ranges, coarse, double.PositiveInfinity);
            int expectedBest = -1;
            double best = double.PositiveInfinity;
            var ones = new double[grids.Length];
            for (int k = 0; k < grids.Length; k++)
            {
                ones[k] = grids[k] is { } grid ? scorer.Score(grid, ranges[k].Item1, ranges[k].Item2, coarse) : double.PositiveInfinity;
                if (ones[k] < best) (best, expectedBest) = (ones[k], k);
            }
            for (int k = 0; k < grids.Length; k++)
            {
                if (BitConverter.DoubleToInt64Bits(ones[k]) == BitConverter.DoubleToInt64Bits(batched[k])) continue;
                Assert.True(batched[k] <= ones[k] && batched[k] > best, $"{what} {name} grid {k}: bound {batched[k]:R}, exact {ones[k]:R}, least {best:R}");
                ruledOut++;
            }
            Assert.True(expectedBest >= 0, $"{what} {name}: no grid scored");
            Assert.Equal(expectedBest, ParameterSelector.CoarseBest(scorer, grids, ranges, sample, coarse));
        }
        return ruledOut;
    }
}
