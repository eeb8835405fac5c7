using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// The NumPy steps MCT's selection rests on, each against NumPy's own output (tests/fixtures/selection, "primitives" and
/// "histograms"): the float32 logarithm, sums and means in NumPy's order, float32 histograms, and the activation
/// histogram MCT's statistics collector builds from each fixture's batches.
/// </summary>
public sealed class NumpyReproductionTests
{
    private static JsonElement Primitives => SelectionFixtures.Root.GetProperty("primitives");

    [Fact]
    public void LogF_EqualsNumpysFloat32Log_OnEveryValue()
    {
        var pairs = (float[])SelectionFixtures.Read(Primitives.GetProperty("log").GetString()!).Data;
        int n = pairs.Length / 2;
        Assert.True(n > 7000, $"{n} values");
        var mismatches = Enumerable.Range(0, n).Where(i => BitConverter.SingleToInt32Bits(NumpyLogF.Log(pairs[i])) != BitConverter.SingleToInt32Bits(pairs[n + i])).ToArray();
        Assert.True(mismatches.Length == 0, $"{mismatches.Length} of {n} differ, first: log({pairs[mismatches.FirstOrDefault()]:R}) = {NumpyLogF.Log(pairs[mismatches.FirstOrDefault()]):R}, NumPy {pairs[n + mismatches.FirstOrDefault()]:R}");
    }

    [Fact]
    public void SumsAndMeans_EqualNumpys_ForEveryLength()
    {
        var inputs = Primitives.GetProperty("sumInputs").EnumerateArray().Select(e => SelectionFixtures.Read(e.GetString()!)).ToArray();
        var singles = (float[])inputs[0].Data;
        var doubles = (double[])inputs[1].Data;
        int count = 0;
        foreach (var s in Primitives.GetProperty("sums").EnumerateArray())
        {
            int n = s.GetProperty("n").GetInt32();
            Assert.Equal((float)s.GetProperty("sum32").GetDouble(), NumpySum.Sum(singles.AsSpan(0, n)));
            Assert.Equal((float)s.GetProperty("mean32").GetDouble(), NumpySum.MeanOfArray(singles.AsSpan(0, n)));
            Assert.Equal((float)s.GetProperty("rowMean32").GetDouble(), NumpySum.MeanOfRow(singles.AsSpan(0, n)));
            Assert.Equal(s.GetProperty("sum64").GetDouble(), NumpySum.Sum(doubles.AsSpan(0, n)));
            Assert.Equal(s.GetProperty("mean64").GetDouble(), NumpySum.Mean(doubles.AsSpan(0, n)));
            count++;
        }
        Assert.Equal(17, count);
    }

    [Fact]
    public void Float32Histograms_EqualNumpys()
    {
        int count = 0;
        foreach (var h in Primitives.GetProperty("histograms").EnumerateArray())
        {
            var values = (float[])SelectionFixtures.Read(h.GetProperty("input").GetString()!).Data;
            var edges = (float[])SelectionFixtures.Read(h.GetProperty("edges").GetString()!).Data;
            var counts = (float[])SelectionFixtures.Read(h.GetProperty("counts").GetString()!).Data; // int64 read as float32
            var ours = NumpyHistogram<float>.Build(values, 2048);
            Assert.Equal(edges, ours.Edges);
            Assert.Equal(counts.Select(c => (long)c), ours.Counts);
            count++;
        }
        Assert.Equal(4, count);
    }

    [Fact]
    public void ActivationHistograms_EqualMctsCollector()
    {
        int count = 0;
        foreach (var set in SelectionFixtures.Root.GetProperty("histograms").EnumerateObject())
        {
            var expected = (double[])SelectionFixtures.Read(set.Value.GetString()!).Data;
            // The set's batches: <name>_0.npy, <name>_1.npy, ... (a_normal_0, not a_normal_batches_0).
            var batches = Enumerable.Range(0, 10).Select(i => Path.Combine(SelectionFixtures.Folder, "inputs", $"{set.Name}_{i}.npy"))
                .TakeWhile(File.Exists).Select(f => (float[])NpyArray.Read(f).Data).ToArray();
            Assert.NotEmpty(batches);
            var ours = ActivationHistogram.Collect(batches);
            Assert.Equal(expected.AsSpan(0, 2049).ToArray(), ours.Edges);
            Assert.Equal(expected.AsSpan(2049, 2048).ToArray(), ours.Counts);
            count++;
        }
        Assert.Equal(11, count);
    }
}
