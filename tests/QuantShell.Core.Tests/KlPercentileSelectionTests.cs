using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>ErrorMethod Kl and Percentile, against brute force and a literal transcription of MCT's KL error.</summary>
public sealed class KlPercentileSelectionTests
{
    private static float[] Gaussian(int n, int seed, double sigma = 1, int outliers = 0, double outlier = 20)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        for (int i = 0; i < outliers; i++) values[random.Next(n)] = (float)(i % 2 == 0 ? outlier : -outlier * 0.8);
        return values;
    }

    private static NpyArray Array1D(float[] values) => new(new long[] { values.Length }, values);

    /// <summary>
    /// MCT's <c>_kl_error_histogram</c> step by step, as its NumPy code reads (np.histogram with 2048 bins, slicing,
    /// np.unique over the quantized edges, smoothing), on edges quantized by <paramref name="quantize"/>.
    /// </summary>
    private sealed record LiteralHistogram(double[] Edges, double[] Counts);

    private static LiteralHistogram Histogram(float[] data)
    {
        const int n = 2048;
        double min = data.Min(), max = data.Max();
        var edges = Enumerable.Range(0, n + 1).Select(i => min + (max - min) * i / n).ToArray();
        edges[n] = max;
        var counts = new double[n];
        foreach (double x in data)
        {
            int bin = n - 1;
            for (int b = 0; b < n; b++) if (x < edges[b + 1]) { bin = b; break; }
            counts[bin]++;
        }
        return new LiteralHistogram(edges, counts);
    }

    private static double LiteralKl(LiteralHistogram histogram, Func<double, double> quantize, double rangeMin, double rangeMax)
    {
        const int n = 2048;
        var (edges, counts) = (histogram.Edges, histogram.Counts);
        var qEdges = edges.Select(quantize).ToArray();
        var above = Enumerable.Range(0, n + 1).Where(i => edges[i] >= rangeMin).ToArray();
        var below = Enumerable.Range(0, n + 1).Where(i => edges[i] < rangeMax).ToArray();
        if (above.Length == 0 || below.Length == 0) return double.PositiveInfinity;
        int first = Math.Max(above.Min() - 1, 0), last = below.Max();
        if (first == last) return 0;
        var countsSubset = counts[first..last];
        var qSubset = qEdges[first..(last + 1)];
        if (!countsSubset.Any(c => c > 0)) return double.PositiveInfinity;
        var accumulated = countsSubset.ToArray();
        accumulated[0] += counts[..first].Sum();
        accumulated[^1] += counts[last..].Sum();
        var qbc = new double[countsSubset.Length];
        // np.unique(q_bins_subset), then the bins (all but the last edge) whose quantized edge equals each value.
        foreach (var group in Enumerable.Range(0, countsSubset.Length).GroupBy(i => qSubset[i]))
        {
            var status = group.ToArray();
            double positive = status.Count(i => countsSubset[i] > 0);
            double relative = status.Sum(i => countsSubset[i]) / (positive + 1e-6);
            foreach (int i in status) qbc[i] = countsSubset[i] > 0 ? relative : 0;
        }
        double[] Smooth(double[] p)
        {
            double term = p.Where(v => v != 0).Min() / (2.0 * p.Length);
            int zeros = p.Count(v => v == 0), nonZeros = p.Length - zeros;
            double reduce = term * zeros / nonZeros;
            return p.Select(v => v == 0 ? term : v - reduce).ToArray();
        }
        var pFxp = Smooth(qbc.Select(v => v / qbc.Sum()).ToArray());
        var pFloat = Smooth(accumulated.Select(v => v / accumulated.Sum()).ToArray());
        return pFloat.Zip(pFxp, (p, q) => p * Math.Log(p / q)).Sum();
    }

    private static Func<double, double> SymmetricGrid(double threshold, int bits, bool signed)
    {
        float scale = RangeMath.SymmetricScale(threshold, bits, signed);
        var (qmin, qmax) = RangeMath.SymmetricRange(bits, signed);
        var grid = new Grid<float>(scale, 0, qmin, qmax);
        return x => FakeQuantizeKernel.Quantize((float)x, grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax);
    }

    [Theory]
    [InlineData(8, true)]
    [InlineData(4, true)]
    [InlineData(6, false)]
    public void KlPot_ChoosesTheMinimumOfTheLiteralKl_OverEveryPowerOfTwo(int bits, bool signed)
    {
        var values = Gaussian(4000, 70 + bits, sigma: 0.4, outliers: 6, outlier: 4);
        if (!signed) values = values.Select(MathF.Abs).ToArray();
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = bits, Signed = signed };
        var chosen = ParameterSelector.Select(spec, new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.Kl });
        var histogram = Histogram(values);
        var scores = Enumerable.Range(-12, 18).Select(k => (T: Math.ScaleB(1.0, k), Kl: LiteralKl(histogram, SymmetricGrid(Math.ScaleB(1.0, k), bits, signed), signed ? -Math.ScaleB(1.0, k) : 0, Math.ScaleB(1.0, k)))).ToList();
        Assert.Equal(18, scores.Count);
        double best = scores.Min(s => s.Kl);
        Assert.Equal(scores.Where(s => Math.Abs(s.Kl - best) <= 1e-12 * Math.Max(1, best)).Max(s => s.T), chosen.Threshold![0]);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(4)]
    public void KlSymmetric_IsWithinOnePercentOfTheLiteralKlOnAFineGrid(int bits)
    {
        var values = Gaussian(3000, 80 + bits, sigma: 1.1, outliers: 4, outlier: 9);
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = bits };
        var chosen = ParameterSelector.Select(spec, new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.Kl });
        double t = chosen.Threshold![0];
        var histogram = Histogram(values);
        double reached = LiteralKl(histogram, SymmetricGrid(t, bits, true), -t, t);
        double maxAbs = values.Max(MathF.Abs);
        var grid = Enumerable.Range(1, 400).Select(k => (double)(float)(maxAbs * 1.05 * k / 400)).ToArray();
        double best = grid.Min(c => LiteralKl(histogram, SymmetricGrid(c, bits, true), -c, c));
        Assert.Equal(400, grid.Length);
        Assert.True(reached <= best * 1.01 + 1e-9, $"KL reached {reached} at t {t}, grid best {best}");
    }

    [Fact]
    public void KlUniform_IsWithinFivePercentOfAnExhaustiveRangeGrid()
    {
        var values = Gaussian(3000, 90, sigma: 0.8, outliers: 4, outlier: 5).Select(v => v + 0.6f).ToArray();
        var spec = new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = 5 };
        var chosen = ParameterSelector.Select(spec, new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.Kl });
        var histogram = Histogram(values);
        double Kl(double min, double max)
        {
            var q = (GridQuantizer)InferableQuantizer.Create(spec with { MinRange = new[] { min }, MaxRange = new[] { max } });
            var grid = new Grid<float>(q.Parameters.Scales[0], q.Parameters.ZeroPoints[0], q.Parameters.QuantMin, q.Parameters.QuantMax);
            double low = (q.Parameters.QuantMin - q.Parameters.ZeroPoints[0]) * (double)q.Parameters.Scales[0];
            double high = (q.Parameters.QuantMax - q.Parameters.ZeroPoints[0]) * (double)q.Parameters.Scales[0];
            return LiteralKl(histogram, x => FakeQuantizeKernel.Quantize((float)x, grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax), low, high);
        }
        double reached = Kl(chosen.MinRange![0], chosen.MaxRange![0]);
        double lo = values.Min(), hi = values.Max(), best = double.PositiveInfinity;
        int tried = 0;
        for (int i = 1; i <= 20; i++)
            for (int j = 1; j <= 20; j++, tried++)
                best = Math.Min(best, Kl(lo * i / 20, hi * j / 20));
        Assert.Equal(400, tried);
        Assert.True(reached <= best * 1.05 + 1e-9, $"KL reached {reached}, grid best {best}");
    }

    [Fact]
    public void Percentile_CoversThatShareOfTheMagnitudes()
    {
        var values = Gaussian(10_001, 91, sigma: 2, outliers: 20, outlier: 50);
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 8 };
        foreach (double percent in new[] { 50.0, 99.0, 99.9, 99.99, 100.0 })
        {
            var chosen = ParameterSelector.Select(spec, new[] { Array1D(values) }, new SelectionOptions { ErrorMethod = ErrorMethod.Percentile, Percentile = percent });
            double t = chosen.Threshold![0];
            double inside = values.Count(v => MathF.Abs(v) <= t) / (double)values.Length;
            double below = values.Count(v => MathF.Abs(v) < t) / (double)values.Length;
            Assert.True(inside >= percent / 100 - 1e-4 && below <= percent / 100 + 1e-4, $"{percent}%: t {t}, {inside} at or below, {below} below");
        }
        // 10 001 values: the 99th percentile of |x| is exactly the order statistic 9900 (NumPy's linear rule).
        var magnitudes = values.Select(v => (double)MathF.Abs(v)).Order().ToArray();
        var p99 = ParameterSelector.Select(spec, new[] { Array1D(values) }, new SelectionOptions { ErrorMethod = ErrorMethod.Percentile, Percentile = 99 });
        Assert.Equal((double)(float)magnitudes[9900], p99.Threshold![0]);
    }

    [Fact]
    public void Percentile_UniformLeavesHalfTheRestOutOnEachSide_PotRoundsUp()
    {
        var values = Enumerable.Range(0, 1001).Select(i => (float)(i - 200)).ToArray(); // -200 .. 800
        var uniform = ParameterSelector.Select(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = 8 },
            new[] { Array1D(values) }, new SelectionOptions { ErrorMethod = ErrorMethod.Percentile, Percentile = 98 });
        Assert.Equal(-190.0, uniform.MinRange![0]);
        Assert.Equal(790.0, uniform.MaxRange![0]);
        var pot = ParameterSelector.Select(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = 8 },
            new[] { Array1D(values) }, new SelectionOptions { ErrorMethod = ErrorMethod.Percentile, Percentile = 50 });
        Assert.Equal(512.0, pot.Threshold![0]); // the median of |x| is 300
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-5.0)]
    [InlineData(100.5)]
    [InlineData(double.NaN)]
    public void Percentile_OutOfRange_IsRejectedBeforeAnyData(double percent)
    {
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Symmetric, ErrorMethod = ErrorMethod.Percentile, Percentile = percent };
        var ex = Assert.Throws<QuantizerValidationException>(() => arguments.Check());
        Assert.Equal(ErrorIds.PercentileInvalid, ex.ErrorId);
        Assert.Equal("Percentile", ex.ParameterName);
    }

    [Fact]
    public void Percentile_WithAnotherErrorMethod_IsNotApplicable()
    {
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Symmetric, ErrorMethod = ErrorMethod.Mse, Percentile = 99 };
        var ex = Assert.Throws<QuantizerValidationException>(() => arguments.Check());
        Assert.Equal(ErrorIds.ParameterNotApplicable, ex.ErrorId);
        Assert.Equal("Percentile", ex.ParameterName);
        var recipe = new QuantizerArguments { Method = QuantizationMethod.Pot, ErrorMethod = ErrorMethod.Percentile, Percentile = 99.5 }.Check();
        Assert.Equal(99.5, recipe.Selection!.Percentile);
        Assert.Equal(99.5, recipe.Describe(1)!.Percentile);
    }
}
