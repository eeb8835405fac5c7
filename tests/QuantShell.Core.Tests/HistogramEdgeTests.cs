using System.Text.Json;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's KL selection on float32 values whose range is so small (subnormal values, ranges near 1e-36) that the
/// histogram's scale n / (max - min) does not fit float32: NumPy 1.x then takes the products in float64 (value-based
/// casting below 3.4e38), and MCT chooses its values from that histogram. Fixtures from NumPy and MCT's code
/// (tests/fixtures/selection/make_histogram_edge_fixtures.py). Before the fix these inputs were an internal error (an
/// index out of the histogram).
/// </summary>
public sealed class HistogramEdgeTests
{
    private static readonly Lazy<JsonDocument> Manifest = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(SelectionFixtures.Folder, "histogram-edges.json"))));

    [Fact]
    public void Histograms_OfTinyRanges_EqualNumpys()
    {
        int count = 0, wide = 0;
        foreach (var h in Manifest.Value.RootElement.GetProperty("histograms").EnumerateArray())
        {
            var values = (float[])SelectionFixtures.Read(h.GetProperty("input").GetString()!).Data;
            var edges = (float[])SelectionFixtures.Read(h.GetProperty("edges").GetString()!).Data;
            var counts = ((float[])SelectionFixtures.Read(h.GetProperty("counts").GetString()!).Data).Select(c => (long)c).ToArray(); // int64 read as float32
            var ours = NumpyHistogram<float>.Build(values, 2048);
            Assert.Equal(edges, ours.Edges);
            Assert.Equal(counts, ours.Counts);
            if (h.GetProperty("norm").GetDouble() >= 3.4e38) wide++;
            count++;
        }
        Assert.Equal(4, count);
        // Three of them past the limit (one between it and float32's largest value, where NumPy's corrections of each
        // index by the edges give the same counts either way), one below.
        Assert.Equal(3, wide);
    }

    [Fact]
    public void KlChoices_OfSubnormalValues_EqualMcts()
    {
        int count = 0;
        foreach (var c in Manifest.Value.RootElement.GetProperty("choices").EnumerateArray())
        {
            var input = SelectionFixtures.Read(c.GetProperty("input").GetString()!);
            var method = c.GetProperty("method").GetString() switch
            {
                "symmetric" => QuantizationMethod.Symmetric,
                "uniform" => QuantizationMethod.Uniform,
                _ => QuantizationMethod.Pot,
            };
            bool perChannel = c.GetProperty("perChannel").GetBoolean();
            var request = new QuantizerSpec
            {
                Target = QuantizationTarget.Weights, Method = method, NumBits = 8, PerChannel = perChannel,
                Signed = method == QuantizationMethod.Uniform ? null : true,
            };
            var spec = ParameterSelector.Select(request, [input], new SelectionOptions { ErrorMethod = ErrorMethod.Kl });
            var expected = c.GetProperty("expected");
            double[] Expected(string name) => expected.GetProperty(name).EnumerateArray().Select(e => (double)(float)e.GetDouble()).ToArray();
            if (method == QuantizationMethod.Uniform)
            {
                Assert.Equal(Expected("range_min"), spec.MinRange!.ToArray());
                Assert.Equal(Expected("range_max"), spec.MaxRange!.ToArray());
            }
            else
            {
                Assert.Equal(Expected("threshold"), spec.Threshold!.ToArray());
            }
            count++;
        }
        Assert.Equal(6, count);
    }

    [Fact]
    public void Float64Range_BeyondNumpysIndexes_IsAClearError()
    {
        // A range of a few float64 subnormals: 2048 / (max - min) is infinite, so NumPy's bin indexes overflow (MCT
        // fails with an IndexError); QuantShell says why instead.
        var values = new[] { 0.0, double.Epsilon, 2 * double.Epsilon, 3 * double.Epsilon };
        var error = Assert.ThrowsAny<QuantShellException>(() => NumpyHistogram<double>.Build(values, 2048));
        Assert.Equal(ErrorIds.SelectionNoData, error.ErrorId);
        Assert.Contains("too small a range", error.Message);
    }

    [Fact]
    public void GroupWise_OfAnEmptyLastAxis_IsAClearError()
    {
        var array = new NpyArray([3, 0], new float[0]);
        var request = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 8, PerChannel = true, GroupSize = 4, Signed = true };
        var error = Assert.ThrowsAny<QuantShellException>(() => ParameterSelector.Select(request, [array], new SelectionOptions()));
        Assert.Equal(ErrorIds.SelectionNoData, error.ErrorId);
        Assert.Contains("the last axis (axis 1) has length 0", error.Message);
    }
}
