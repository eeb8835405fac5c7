using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// <see cref="SelectionSearch.Mct"/> against MCT's own selection code on every fixture case: thresholds and ranges equal
/// to MCT's bit for bit, both the float64 its NumPy code ends with and the float32 a quantizer holds; LUT thresholds
/// equal and tables no worse than MCT's typical (median over seeds) k-means result.
/// </summary>
public sealed class MctSelectionTests
{
    public static TheoryData<string> Cases() => new(SelectionFixtures.Cases.Where(c => !c.IsLut).Select(c => c.Id).Order());

    public static TheoryData<string> LutCases() => new(SelectionFixtures.Cases.Where(c => c.IsLut).Select(c => c.Id).Order());

    [Fact]
    public void Fixtures_HoldEveryCase()
    {
        var cases = SelectionFixtures.Cases;
        Assert.Equal(SelectionFixtureCounts.WeightsCases, cases.Count(c => !c.IsLut && c.Request.Target == QuantizationTarget.Weights));
        Assert.Equal(SelectionFixtureCounts.ActivationCases, cases.Count(c => !c.IsLut && c.Request.Target == QuantizationTarget.Activation));
        Assert.Equal(SelectionFixtureCounts.LutCases, cases.Count(c => c.IsLut));
        Assert.Equal(SelectionFixtureCounts.WeightsCases + SelectionFixtureCounts.ActivationCases, Cases().Count);
        Assert.Equal(SelectionFixtureCounts.LutCases, LutCases().Count);
        Assert.Equal("fad922fee92304f94f728053ecc5c0b8ac2bf98a", SelectionFixtures.Root.GetProperty("mctCommit").GetString());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_ChoosesMctValues(string id)
    {
        var c = SelectionFixtures.Get(id);
        var inputs = c.ReadInputs();
        var choice = Choose(c, inputs);
        var spec = ParameterSelector.Select(c.Request, inputs, c.Options);
        if (c.Request.Method == QuantizationMethod.Uniform)
        {
            AssertBits(c.Doubles("minRange64"), choice.Ranges!.Select(r => r.Min).ToArray(), "minRange (float64)");
            AssertBits(c.Doubles("maxRange64"), choice.Ranges!.Select(r => r.Max).ToArray(), "maxRange (float64)");
            var min = c.Doubles("minRange");
            var max = c.Doubles("maxRange");
            // A range MCT leaves empty is one its quantizers refuse; QuantShell completes it (checked below).
            if (Enumerable.Range(0, min.Length).All(i => (float)min[i] < (float)max[i]))
            {
                AssertBits(min, spec.MinRange!.ToArray(), "minRange (float32)");
                AssertBits(max, spec.MaxRange!.ToArray(), "maxRange (float32)");
            }
            else
            {
                Assert.All(Enumerable.Range(0, min.Length), i => Assert.True((float)spec.MinRange![i] < (float)spec.MaxRange![i]));
            }
        }
        else
        {
            AssertBits(c.Doubles("threshold64"), choice.Thresholds!, "threshold (float64)");
            AssertBits(c.Doubles("threshold"), spec.Threshold!.ToArray(), "threshold (float32)");
            if (c.Signed is bool signed) Assert.Equal(signed, spec.IsSigned);
        }
    }

    /// <summary>
    /// The weights cases again with every candidate set's squared errors bounded from a histogram first, whatever the
    /// size (by default only channels of 2^16 values and more are): the same values, bit for bit.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Case_BoundedErrors_ChooseMctValues(string id)
    {
        var c = SelectionFixtures.Get(id);
        if (c.Request.Target != QuantizationTarget.Weights) return;
        var inputs = c.ReadInputs();
        var bounded = c with { Options = c.Options with { BoundedSearchFrom = 0 } };
        var choice = Choose(bounded, inputs);
        if (c.Request.Method == QuantizationMethod.Uniform)
        {
            AssertBits(c.Doubles("minRange64"), choice.Ranges!.Select(r => r.Min).ToArray(), "minRange (float64)");
            AssertBits(c.Doubles("maxRange64"), choice.Ranges!.Select(r => r.Max).ToArray(), "maxRange (float64)");
        }
        else
        {
            AssertBits(c.Doubles("threshold64"), choice.Thresholds!, "threshold (float64)");
        }
    }

    [Theory]
    [MemberData(nameof(LutCases))]
    public void LutCase_MctThresholdAndTableNoWorseThanMctsMedian(string id)
    {
        var c = SelectionFixtures.Get(id);
        var inputs = c.ReadInputs();
        var choice = Choose(c, inputs);
        AssertBits(c.Doubles("threshold64"), choice.Thresholds!, "threshold (float64)");
        var spec = ParameterSelector.Select(c.Request, inputs, c.Options);
        AssertBits(c.Doubles("threshold"), spec.Threshold!.ToArray(), "threshold (float32)");
        if (c.Signed is bool signed) Assert.Equal(signed, spec.IsSigned);
        Assert.True(spec.LutValues!.Distinct().Count() <= 1 << c.Request.NumBits);

        // MCT's tables (one per k-means seed) scored with the LUT kernel on the same data as ours.
        var mct = c.Expected.GetProperty("tables").EnumerateArray()
            .Select(t => Mse(spec with { LutValues = t.EnumerateArray().Select(v => v.GetDouble()).ToArray() }, inputs)).Order().ToArray();
        double median = mct[mct.Length / 2];
        double ours = Mse(spec, inputs);
        Assert.True(ours <= median, $"{id}: MSE {ours:R} with table [{string.Join(", ", spec.LutValues!)}] is worse than MCT's median {median:R} (MCT's: {string.Join(", ", mct.Select(m => m.ToString("R")))})");
    }

    internal static MctChoice Choose(SelectionFixtures.Case c, IReadOnlyList<NpyArray> inputs)
    {
        var channels = ParameterSelector.SplitChannels<float>(c.Request, inputs, out _);
        var batches = inputs.Select(ParameterSelector.ToValues<float>).ToArray();
        return MctSelection.Choose(c.Request, channels, batches, c.Options, inputs[0].Shape);
    }

    /// <summary>The MSE of a complete spec on the data (pooled when several arrays), with the quantizer's kernel.</summary>
    internal static double Mse(QuantizerSpec spec, IReadOnlyList<NpyArray> inputs)
    {
        var quantizer = InferableQuantizer.Create(spec);
        double sum = 0;
        long count = 0;
        foreach (var array in inputs)
        {
            var m = QuantizationMetrics.Measure(array, quantizer, "fixture");
            sum += m.Mse * m.Count;
            count += m.Count;
        }
        return sum / count;
    }

    private static void AssertBits(double[] expected, IReadOnlyList<double> actual, string what)
    {
        Assert.True(expected.Length == actual.Count, $"{what}: {actual.Count} values, MCT has {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.DoubleToInt64Bits(expected[i]) != BitConverter.DoubleToInt64Bits(actual[i]) && !(expected[i] == 0 && actual[i] == 0))
                Assert.Fail($"{what}[{i}]: {actual[i]:R}, MCT {expected[i]:R} (all: [{string.Join(", ", actual.Select(v => v.ToString("R")))}] vs [{string.Join(", ", expected.Select(v => v.ToString("R")))}])");
        }
    }
}
