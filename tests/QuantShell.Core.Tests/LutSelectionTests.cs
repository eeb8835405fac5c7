using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>LUT thresholds and tables chosen from data: k-means tables, thresholds as the grid quantizers choose them.</summary>
public sealed class LutSelectionTests
{
    /// <summary>QuantShell's own search, which these tests are about (the default is MCT's).</summary>
    private static readonly SelectionOptions Optimal = new() { Search = SelectionSearch.Optimal };

    private static float[] Gaussian(int n, int seed, double sigma = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            return (float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }).ToArray();
    }

    private static float[] Laplacian(int n, int seed, double scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            double u = random.NextDouble() - 0.5;
            return (float)(-scale * Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u)));
        }).ToArray();
    }

    private static NpyArray Array1D(float[] values) => new(new long[] { values.Length }, values);

    private static QuantizerSpec Lut(QuantizationMethod method, int bits) =>
        new() { Target = QuantizationTarget.Weights, Method = method, NumBits = bits };

    private static double Mse(QuantizerSpec spec, float[] values, long[]? shape = null)
    {
        var output = new float[values.Length];
        var stats = new KernelStats();
        InferableQuantizer.Create(spec).CreatePlan(shape ?? new long[] { values.Length }).Apply<float>(values, output, 0, ref stats);
        return values.Zip(output, (x, y) => ((double)x - y) * ((double)x - y)).Average();
    }

    public static TheoryData<string, int, QuantizationMethod> Distributions() => new()
    {
        { "gaussian", 3, QuantizationMethod.LutSymmetric }, { "gaussian", 4, QuantizationMethod.LutSymmetric },
        { "laplacian", 3, QuantizationMethod.LutSymmetric }, { "laplacian", 4, QuantizationMethod.LutSymmetric },
        { "gaussian", 3, QuantizationMethod.LutPot }, { "laplacian", 4, QuantizationMethod.LutPot },
    };

    [Theory]
    [MemberData(nameof(Distributions))]
    public void ChosenLut_HasLowerMse_ThanTheBestSymmetricQuantizerOfTheSameBits(string distribution, int bits, QuantizationMethod method)
    {
        var values = distribution == "gaussian" ? Gaussian(20_000, 100 + bits, sigma: 0.05) : Laplacian(20_000, 200 + bits, scale: 0.03);
        var lut = ParameterSelector.Select(Lut(method, bits), new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.Mse });
        Assert.True(lut.LutValues!.Distinct().Count() <= 1 << bits);
        double lutMse = Mse(lut, values);

        // The best symmetric quantizer of the same bits: every threshold on a grid of 1200 up to 1.2 max|x|.
        double maxAbs = values.Max(MathF.Abs);
        var symmetric = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = bits };
        double bestSymmetric = Enumerable.Range(1, 1200).Min(k => Mse(symmetric with { Threshold = new[] { maxAbs * k / 1000 } }, values));
        Assert.True(lutMse < bestSymmetric, $"{distribution} {bits}-bit {method}: LUT MSE {lutMse:G6} (table [{string.Join(", ", lut.LutValues!)}], t {lut.Threshold![0]}), best symmetric {bestSymmetric:G6}");
    }

    [Fact]
    public void Table_IsDeterministic_IntegersInRange_WithZero_AtMostTwoToTheBits()
    {
        var values = Laplacian(30_000, 7, scale: 0.2);
        foreach (var (method, bits, bitwidth) in new[] { (QuantizationMethod.LutPot, 3, 8), (QuantizationMethod.LutSymmetric, 5, 6), (QuantizationMethod.LutPot, 2, 4) })
        {
            var request = Lut(method, bits) with { LutValuesBitwidth = bitwidth };
            var first = ParameterSelector.Select(request, new[] { Array1D(values) }, Optimal);
            var again = ParameterSelector.Select(request, new[] { Array1D(values.ToArray()) }, Optimal);
            Assert.Equal(first.LutValues, again.LutValues);
            Assert.Equal(first.Threshold, again.Threshold);
            var table = first.LutValues!;
            Assert.InRange(table.Count, 2, 1 << bits);
            Assert.Contains(0.0, table);
            Assert.All(table, v => Assert.Equal(Math.Round(v), v));
            Assert.All(table, v => Assert.InRange(v, -Math.ScaleB(1, bitwidth - 1), Math.ScaleB(1, bitwidth - 1) - 1));
            Assert.Equal(table.OrderBy(v => v), table);
            if (method == QuantizationMethod.LutPot) Assert.True(double.IsPow2(first.Threshold![0]));
        }
    }

    [Fact]
    public void LutPot_Threshold_IsTheBestPowerOfTwo_ForItsKMeansTable()
    {
        // Brute force: every power of two from 2^-20 to 2^8, each with the table QuantShell's k-means gives it (a fixed
        // threshold), and MCT's choice, which the optimal search also scores.
        var values = Gaussian(8_000, 11, sigma: 0.7);
        var spec = Lut(QuantizationMethod.LutPot, 3);
        var chosen = ParameterSelector.Select(spec, new[] { Array1D(values) }, Optimal);
        double chosenMse = Mse(chosen, values);
        var errors = Enumerable.Range(-20, 29).Select(k =>
        {
            var withThreshold = LutSelection.Select(spec with { Signed = true, Threshold = new[] { Math.ScaleB(1.0, k) } }, new[] { values }, Optimal);
            return Mse(withThreshold, values);
        }).ToList();
        Assert.Equal(29, errors.Count);
        double mct = Mse(ParameterSelector.Select(spec, new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Mct }), values);
        Assert.Equal(Math.Min(errors.Min(), mct), chosenMse);
    }

    [Fact]
    public void GivenTable_ThresholdIsChosenForIt_GivenThreshold_TableIsChosenAtIt()
    {
        var values = Gaussian(5_000, 12, sigma: 0.4);
        var table = new double[] { -96, -40, -12, 0, 12, 40, 96 };
        var withTable = ParameterSelector.Select(Lut(QuantizationMethod.LutSymmetric, 3) with { LutValues = table }, new[] { Array1D(values) }, Optimal);
        Assert.Equal(table, withTable.LutValues);
        double chosen = Mse(withTable, values);
        double maxAbs = values.Max(MathF.Abs);
        double best = Enumerable.Range(1, 600).Min(k => Mse(withTable with { Threshold = new[] { maxAbs * k / 500 } }, values));
        Assert.True(chosen <= best * 1.01, $"chosen {chosen}, grid best {best}");

        var withThreshold = ParameterSelector.Select(Lut(QuantizationMethod.LutPot, 2) with { Threshold = new[] { 2.0 } }, new[] { Array1D(values) }, Optimal);
        Assert.Equal(new[] { 2.0 }, withThreshold.Threshold);
        Assert.InRange(withThreshold.LutValues!.Count, 2, 4);
    }

    [Fact]
    public void PerChannel_OneSharedTable_ThresholdsPerChannel()
    {
        // shape (3, 2000): channel c has spread 0.1 * 4^c; one table serves all of them through their thresholds.
        var channels = Enumerable.Range(0, 3).Select(c => Gaussian(2000, 60 + c, sigma: 0.1 * Math.Pow(4, c))).ToArray();
        var request = Lut(QuantizationMethod.LutPot, 3) with { PerChannel = true, ChannelAxis = 0 };
        // QuantShell's own search (the optimal search may instead keep MCT's choice whole, where its error is lower).
        var chosen = LutSelection.Select(request with { Signed = true }, channels, Optimal);
        Assert.Equal(3, chosen.Threshold!.Count);
        Assert.True(chosen.Threshold[0] < chosen.Threshold[1] && chosen.Threshold[1] < chosen.Threshold[2], string.Join(", ", chosen.Threshold));
        // Every channel's threshold is the best power of two for the shared table.
        for (int c = 0; c < 3; c++)
        {
            var one = request with { PerChannel = false, ChannelAxis = null, LutValues = chosen.LutValues };
            double mine = Mse(one with { Threshold = new[] { chosen.Threshold[c] } }, channels[c]);
            for (int k = -8; k <= 4; k++)
                Assert.True(mine <= Mse(one with { Threshold = new[] { Math.ScaleB(1.0, k) } }, channels[c]), $"channel {c}, 2^{k}");
        }
    }

    [Fact]
    public void Activation_Lut_SignednessFollowsTheData()
    {
        var positive = Gaussian(3000, 13).Select(MathF.Abs).ToArray();
        var request = new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.LutPot, NumBits = 3 };
        var unsigned = ParameterSelector.Select(request, new[] { Array1D(positive) });
        Assert.False(unsigned.IsSigned);
        Assert.All(unsigned.LutValues!, v => Assert.True(v >= 0));
        Assert.True(ParameterSelector.Select(request, new[] { Array1D(Gaussian(3000, 14)) }).IsSigned);
    }

    [Fact]
    public void NoClippingAndPercentile_SetTheThreshold_KMeansTheTable()
    {
        var values = Laplacian(10_000, 15, scale: 0.5);
        double maxAbs = values.Max(MathF.Abs);
        var cover = ParameterSelector.Select(Lut(QuantizationMethod.LutSymmetric, 3), new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.NoClipping });
        Assert.Equal((double)(float)maxAbs, cover.Threshold![0]);
        var pot = ParameterSelector.Select(Lut(QuantizationMethod.LutPot, 3), new[] { Array1D(values) }, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.Percentile, Percentile = 99 });
        var magnitudes = values.Select(v => (double)MathF.Abs(v)).Order().ToArray();
        double position = 0.99 * (magnitudes.Length - 1);
        int below = (int)position;
        double p99 = magnitudes[below] + (magnitudes[below + 1] - magnitudes[below]) * (position - below);
        Assert.Equal(Math.Pow(2, Math.Ceiling(Math.Log2(p99))), pot.Threshold![0]);
    }
}
