using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// The statistics calibration collects per activation (MCT's HistogramCollector, in bounded memory) and the quantizer
/// chosen from them, against literal transcriptions of what NumPy and MCT compute.
/// </summary>
public sealed class ActivationStatisticsTests
{
    private static float[] Gaussian(int n, int seed, double sigma = 1, double mean = 0)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(mean + sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    /// <summary>np.histogram(x, bins): equal bins over [min, max] (constant data: [v - 0.5, v + 0.5]), the last bin closed.</summary>
    private static (double[] Edges, double[] Counts) NumpyHistogram(float[] values, int bins)
    {
        double min = values.Min(), max = values.Max();
        if (min == max) (min, max) = (min - 0.5, max + 0.5);
        var edges = Enumerable.Range(0, bins + 1).Select(i => min + (max - min) * i / bins).ToArray();
        edges[bins] = max;
        var counts = new double[bins];
        foreach (float x in values)
        {
            int bin = Array.FindLastIndex(edges, e => e <= x);
            counts[Math.Min(bin, bins - 1)]++;
        }
        return (edges, counts);
    }

    /// <summary>MCT's interpolate_histogram: np.interp of the cumulative counts at the new edges, then np.diff.</summary>
    private static double[] Interpolate(double[] newEdges, double[] edges, double[] counts)
    {
        var cumulative = new double[counts.Length + 1];
        for (int i = 0; i < counts.Length; i++) cumulative[i + 1] = cumulative[i] + counts[i];
        var at = newEdges.Select(x =>
        {
            if (x <= edges[0]) return cumulative[0];
            if (x >= edges[^1]) return cumulative[^1];
            int j = Array.FindLastIndex(edges, e => e <= x);
            return cumulative[j] + (cumulative[j + 1] - cumulative[j]) * (x - edges[j]) / (edges[j + 1] - edges[j]);
        }).ToArray();
        return Enumerable.Range(0, newEdges.Length - 1).Select(i => at[i + 1] - at[i]).ToArray();
    }

    [Fact]
    public void OneBatch_IsNumpysHistogram_AndTheExactExtremes()
    {
        var values = Gaussian(20_000, 1, sigma: 3, mean: 1);
        var histogram = new ActivationHistogram(64);
        histogram.Add<float>(values);
        var (edges, counts) = NumpyHistogram(values, 64);
        Assert.Equal(counts, histogram.Counts.ToArray());
        Assert.Equal(edges[0], histogram.Low);
        Assert.Equal(edges[^1], histogram.High);
        Assert.Equal((double)values.Min(), histogram.Min);
        Assert.Equal((double)values.Max(), histogram.Max);
        Assert.Equal(20_000, histogram.Count);
    }

    [Fact]
    public void BatchesInsideTheFirstBatchsRange_MergeAsMctMergesThem()
    {
        var wide = Gaussian(5000, 2, sigma: 4);
        var narrow = Gaussian(3000, 3, sigma: 1);
        var histogram = new ActivationHistogram(128);
        histogram.Add<float>(wide);
        histogram.Add<float>(narrow);
        // MCT: every batch's histogram interpolated onto equal bins over the range of all bins.
        var (wideEdges, wideCounts) = NumpyHistogram(wide, 128);
        var (narrowEdges, narrowCounts) = NumpyHistogram(narrow, 128);
        double low = Math.Min(wideEdges[0], narrowEdges[0]), high = Math.Max(wideEdges[^1], narrowEdges[^1]);
        var merged = Enumerable.Range(0, 129).Select(i => i == 128 ? high : low + (high - low) * i / 128).ToArray();
        var expected = Interpolate(merged, wideEdges, wideCounts).Zip(Interpolate(merged, narrowEdges, narrowCounts), (a, b) => a + b).ToArray();
        Assert.Equal(8000, histogram.Count);
        for (int b = 0; b < 128; b++) Assert.Equal(expected[b], histogram.Counts[b], 1e-9);
    }

    [Fact]
    public void ABatchThatWidensTheRange_RebinsWhatWasSeen_KeepingItsMass()
    {
        var first = Gaussian(4000, 4, sigma: 1);
        var second = Gaussian(4000, 5, sigma: 5, mean: 3);
        var histogram = new ActivationHistogram(256);
        histogram.Add<float>(first);
        histogram.Add<float>(second);
        Assert.Equal(8000, histogram.Counts.ToArray().Sum(), 1e-6);
        Assert.All(histogram.Counts.ToArray(), c => Assert.True(c >= -1e-9));
        Assert.Equal(Math.Min(first.Min(), second.Min()), histogram.Min);
        Assert.Equal(Math.Max(first.Max(), second.Max()), histogram.Max);
        // Against MCT's merge of the two histograms kept whole: the first batch was interpolated twice, so its mass may
        // spread to a neighbouring bin, never further.
        var (e1, c1) = NumpyHistogram(first, 256);
        var (e2, c2) = NumpyHistogram(second, 256);
        double low = Math.Min(e1[0], e2[0]), high = Math.Max(e1[^1], e2[^1]);
        var merged = Enumerable.Range(0, 257).Select(i => i == 256 ? high : low + (high - low) * i / 256).ToArray();
        var mct = Interpolate(merged, e1, c1).Zip(Interpolate(merged, e2, c2), (a, b) => a + b).ToArray();
        double cumulativeMct = 0, cumulativeOurs = 0, worst = 0;
        for (int b = 0; b < 256; b++)
        {
            cumulativeMct += mct[b];
            cumulativeOurs += histogram.Counts[b];
            worst = Math.Max(worst, Math.Abs(cumulativeMct - cumulativeOurs));
        }
        Assert.True(worst <= mct.Max(), $"the cumulative counts differ by {worst}, more than one bin's mass ({mct.Max()})");
    }

    [Fact]
    public void NonFiniteValues_AreCountedApartAndLeftOut_ConstantBatchesGetAUnitRange()
    {
        var histogram = new ActivationHistogram(16);
        var (bad, first) = histogram.Add<float>([1f, float.NaN, 2f, float.PositiveInfinity]);
        Assert.Equal(2, bad);
        Assert.Equal(1, first);
        Assert.Equal(2, histogram.Count);
        var constant = new ActivationHistogram(16);
        constant.Add<double>([3.0, 3.0, 3.0]);
        Assert.Equal(2.5, constant.Low);
        Assert.Equal(3.5, constant.High);
        Assert.Equal(3.0, constant.Min);
        Assert.Equal(3, constant.Counts.ToArray().Sum());
        // Many batches: the memory is the histogram's, whatever their number.
        var many = new ActivationHistogram();
        for (int i = 0; i < 500; i++) many.Add<float>(Gaussian(64, 100 + i));
        Assert.Equal(ActivationHistogram.DefaultBins, many.Counts.Length);
        Assert.Equal(500 * 64, many.Count);
    }

    private static ActivationHistogram Statistics(params float[][] batches)
    {
        var histogram = new ActivationHistogram();
        foreach (var batch in batches) histogram.Add<float>(batch);
        return histogram;
    }

    private static QuantizerSpec Request(QuantizationMethod method, int bits = 8) =>
        new() { Target = QuantizationTarget.Activation, Method = method, NumBits = bits };

    [Fact]
    public void Signedness_IsMcts_SignedIffTheSmallestValueIsNegative()
    {
        var positive = Gaussian(10_000, 6).Select(Math.Abs).ToArray();
        // The stand-in's rule (the optimal search); MCT's own search on the histogram decides by the bins' edges.
        var options = new SelectionOptions { Search = SelectionSearch.Optimal };
        Assert.False(ActivationSelection.Choose(Statistics(positive), Request(QuantizationMethod.Pot), options).IsSigned);
        var withOneNegative = positive.Append(-1e-3f).ToArray();
        Assert.True(ActivationSelection.Choose(Statistics(withOneNegative), Request(QuantizationMethod.Symmetric), options).IsSigned);
        Assert.Null(ActivationSelection.Choose(Statistics(withOneNegative), Request(QuantizationMethod.Uniform), options).Signed);
    }

    [Fact]
    public void NoClipping_CoversExactlyWhatWasSeen()
    {
        var a = Gaussian(7000, 7, sigma: 2);
        var b = Gaussian(5000, 8, sigma: 3, mean: 1);
        var statistics = Statistics(a, b);
        var options = new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.NoClipping };
        double maxAbs = a.Concat(b).Max(v => Math.Abs((double)v));
        Assert.Equal([Math.Pow(2, Math.Ceiling(Math.Log2(maxAbs)))], ActivationSelection.Choose(statistics, Request(QuantizationMethod.Pot), options).Threshold!);
        Assert.Equal([(double)(float)maxAbs], ActivationSelection.Choose(statistics, Request(QuantizationMethod.Symmetric), options).Threshold!);
        var uniform = ActivationSelection.Choose(statistics, Request(QuantizationMethod.Uniform), options);
        Assert.Equal([(double)a.Concat(b).Min()], uniform.MinRange!);
        Assert.Equal([(double)a.Concat(b).Max()], uniform.MaxRange!);
    }

    [Theory]
    [InlineData(QuantizationMethod.Pot, 8)]
    [InlineData(QuantizationMethod.Symmetric, 8)]
    [InlineData(QuantizationMethod.Symmetric, 4)]
    [InlineData(QuantizationMethod.Uniform, 8)]
    public void Mse_FromTheHistogram_IsAsGoodAsFromTheValues(QuantizationMethod method, int bits)
    {
        var values = Gaussian(200_000, 9, sigma: 1.5, mean: 0.3);
        var options = new SelectionOptions { Search = SelectionSearch.Optimal };
        var fromHistogram = ActivationSelection.Choose(Statistics(values), Request(method, bits), options);
        var fromValues = ParameterSelector.Select(Request(method, bits) with { Signed = method == QuantizationMethod.Uniform ? null : true },
            [new Core.Formats.NpyArray([values.Length], values)], options);
        double Mse(QuantizerSpec spec)
        {
            var output = new float[values.Length];
            var stats = new Kernels.KernelStats();
            InferableQuantizer.Create(spec).CreatePlan([values.Length]).Apply<float>(values, output, 0, ref stats);
            return values.Zip(output, (x, y) => (double)(x - y) * (x - y)).Average();
        }
        double histogramMse = Mse(fromHistogram), valuesMse = Mse(fromValues);
        // The choice made on the histogram's stand-in is within 2% of the best one made on every value.
        Assert.True(histogramMse <= valuesMse * 1.02, $"{method} {bits}-bit: MSE {histogramMse} from the histogram, {valuesMse} from the values");
        if (method == QuantizationMethod.Pot) Assert.Equal(fromValues.Threshold, fromHistogram.Threshold);
    }

    [Fact]
    public void NothingSeen_IsAnError()
    {
        var error = Assert.ThrowsAny<QuantShellException>(() => ActivationSelection.Choose(new ActivationHistogram(), Request(QuantizationMethod.Pot), new SelectionOptions()));
        Assert.Equal(ErrorIds.SelectionNoData, error.ErrorId);
    }
}

/// <summary>The rules file's activations: read, written, refused when wrong; files without them read as before.</summary>
public sealed class RulesActivationsTests
{
    private const string Activation = """{"tensor": "conv1_input", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4], "signed": false}}""";

    [Fact]
    public void RulesWithActivations_RoundTrip()
    {
        var rules = QuantizationRules.Parse($$"""{"rules": [{"match": "conv1.weight", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 8, "perChannel": true, "channelAxis": 0}, "errorMethod": "mse"}], "activations": [{{Activation}}]}""", "rules.json");
        var activation = Assert.Single(rules.Activations);
        Assert.Equal("conv1_input", activation.Tensor);
        Assert.Equal([4.0], activation.Quantizer.Threshold!);
        Assert.False(activation.Quantizer.IsSigned);
        var again = QuantizationRules.Parse(QuantizationRules.ToJson(rules.Rules, rules.Activations), "again");
        Assert.Equal(rules.Rules.Select(r => (r.Match, r.Quantizer?.ToString(), r.ErrorMethod)), again.Rules.Select(r => (r.Match, r.Quantizer?.ToString(), r.ErrorMethod)));
        Assert.Equal(rules.Activations.Select(a => (a.Tensor, a.Quantizer.ToString())), again.Activations.Select(a => (a.Tensor, a.Quantizer.ToString())));
        // A file from before activations existed reads as it did.
        Assert.Empty(QuantizationRules.Parse("""{"rules": [{"match": "*", "skip": true}]}""", "old.json").Activations);
    }

    [Theory]
    [InlineData("""{"rules": [], "activations": {}}""", ErrorIds.RulesInvalid, "must be a list")]
    [InlineData("""{"rules": [], "activations": [{"quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4]}}]}""", ErrorIds.RulesInvalid, "needs \"tensor\"")]
    [InlineData("""{"rules": [], "activations": [{"tensor": "x"}]}""", ErrorIds.RulesInvalid, "needs a \"quantizer\"")]
    [InlineData("""{"rules": [], "activations": [{"tensor": "x", "match": "*", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4]}}]}""", ErrorIds.RulesInvalid, "unknown field 'match'")]
    [InlineData("""{"rules": [], "activations": [{"tensor": "x", "quantizer": {"target": "weights", "method": "pot", "numBits": 8, "threshold": [4]}}]}""", ErrorIds.RulesInvalid, "must be an activation quantizer")]
    [InlineData("""{"rules": [], "activations": [{"tensor": "x", "quantizer": {"target": "activation", "method": "pot", "numBits": 8}}]}""", ErrorIds.ThresholdMissing, "activation 0 ('x')")]
    [InlineData("""{"rules": [], "activations": [{"tensor": "x", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [3]}}]}""", ErrorIds.ThresholdNotPowerOfTwo, "activation 0 ('x')")]
    [InlineData("""{"rules": [], "activations": [{"tensor": "x", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4]}}, {"tensor": "x", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [2]}}]}""", ErrorIds.RulesInvalid, "names tensor 'x' again")]
    [InlineData("""{"rules": [], "activation": []}""", ErrorIds.RulesInvalid, "unknown field 'activation' (allowed: rules, activations)")]
    public void BadActivationEntries_AreRefusedByName(string json, string errorId, string message)
    {
        var error = Assert.ThrowsAny<QuantShellException>(() => QuantizationRules.Parse(json, "rules.json"));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains(message, error.Message);
        Assert.StartsWith("rules.json", error.Message);
    }
}
