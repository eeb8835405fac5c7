using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// <see cref="SelectionSearch.Optimal"/> against <see cref="SelectionSearch.Mct"/> on the data of MCT's fixtures: where the
/// error method is MSE, the values Optimal chooses never give a larger mean squared error on the data than MCT's, each
/// measured by brute force (every value through the quantizer's kernel, the squares summed in float64); its LUT tables
/// (MSE) do no worse than MCT's median table either.
/// </summary>
public sealed class OptimalSearchTests
{
    public static TheoryData<string> MseCases() =>
        new(SelectionFixtures.Cases.Where(c => !c.IsLut && c.Options.ErrorMethod == ErrorMethod.Mse).Select(c => c.Id).Order());

    public static TheoryData<string> LutCases() => new(SelectionFixtures.Cases.Where(c => c.IsLut).Select(c => c.Id).Order());

    [Fact]
    public void Fixtures_HoldTheMseCases() => Assert.Equal(SelectionFixtureCounts.MseCases, MseCases().Count);

    [Theory]
    [MemberData(nameof(MseCases))]
    public void MseCase_OptimalIsNeverWorseThanMct(string id)
    {
        var c = SelectionFixtures.Get(id);
        var inputs = c.ReadInputs();
        var mct = ParameterSelector.Select(c.Request, inputs, c.Options);
        var optimal = ParameterSelector.Select(c.Request, inputs, c.Options with { Search = SelectionSearch.Optimal, ZThreshold = double.PositiveInfinity });
        double mctMse = BruteForceMse(mct, inputs), optimalMse = BruteForceMse(optimal, inputs);
        Assert.True(optimalMse <= mctMse, $"{id}: Optimal MSE {optimalMse:R} ({optimal}) above MCT's {mctMse:R} ({mct})");
    }

    [Theory]
    [MemberData(nameof(LutCases))]
    public void LutCase_OptimalTableIsNoWorseThanMctsMedian(string id)
    {
        var c = SelectionFixtures.Get(id);
        var inputs = c.ReadInputs();
        var optimal = ParameterSelector.Select(c.Request, inputs, new SelectionOptions { Search = SelectionSearch.Optimal, ErrorMethod = ErrorMethod.Mse });
        var mctSpec = ParameterSelector.Select(c.Request, inputs, c.Options);
        var mct = c.Expected.GetProperty("tables").EnumerateArray()
            .Select(t => BruteForceMse(mctSpec with { LutValues = t.EnumerateArray().Select(v => v.GetDouble()).ToArray() }, inputs)).Order().ToArray();
        double median = mct[mct.Length / 2], ours = BruteForceMse(optimal, inputs);
        Assert.True(ours <= median, $"{id}: Optimal MSE {ours:R} ({optimal}) above MCT's median {median:R}");
    }

    /// <summary>Σ (x - q(x))² / count over every finite value of every input, q the quantizer's kernel.</summary>
    internal static double BruteForceMse(QuantizerSpec spec, IReadOnlyList<NpyArray> inputs)
    {
        var quantizer = InferableQuantizer.Create(spec);
        double sum = 0;
        long count = 0;
        foreach (var array in inputs)
        {
            var values = (float[])array.Data;
            var output = new float[values.Length];
            var stats = new KernelStats();
            quantizer.CreatePlan(array.Shape).Apply<float>(values, output, 0, ref stats);
            for (int i = 0; i < values.Length; i++)
            {
                if (!float.IsFinite(values[i])) continue;
                double d = (double)values[i] - output[i];
                sum += d * d;
                count++;
            }
        }
        return sum / count;
    }
}
