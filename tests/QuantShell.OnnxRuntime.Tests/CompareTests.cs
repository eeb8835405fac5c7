using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Runtime;
using QuantShell.Core.Jobs.Compare;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>compare's figures against the same figures computed here from the two models' outputs.</summary>
public sealed class CompareTests
{
    [Fact]
    public void Figures_EqualADirectComputation_OverEverySample()
    {
        using var temp = new TempDirectory();
        string data = Samples.NpyFolder(temp, "data", 5, [1, 3, 8, 8], seed: 300);
        string rules = temp.File("rules.json");
        Fixtures.Calibrate(Fixtures.SmallCnn, data, rules);
        string candidate = temp.File("qdq.onnx");
        Fixtures.Quantize(Fixtures.SmallCnn, rules, candidate, OutputFormat.Qdq);

        var host = new CollectingHost<ComparisonResult>();
        var results = CompareJob.Run(new CompareRequest { ReferencePath = Fixtures.SmallCnn, CandidatePath = candidate, DataPath = data, Runner = Fixtures.Runner, Threads = 1 }, host);
        var result = Assert.Single(results);
        Assert.Equal(result, Assert.Single(host.Results));

        // The same runs, by hand: both models at the runtime's default optimizations on each sample.
        var reference = new List<float>();
        var quantized = new List<float>();
        var sampleSet = SampleSet.Open(data);
        for (int i = 0; i < sampleSet.Count; i++)
        {
            using var r = Fixtures.Runner.Open(ModelSource.File(Fixtures.SmallCnn, "r"), new ModelSessionOptions { Threads = 1 });
            using var c = Fixtures.Runner.Open(ModelSource.File(candidate, "c"), new ModelSessionOptions { Threads = 1 });
            var feeds = sampleSet.Read(i, r.Inputs);
            reference.AddRange(Fixtures.AsFloats(r.Run(feeds, ["z"])[0]));
            quantized.AddRange(Fixtures.AsFloats(c.Run(feeds, ["z"])[0]));
        }
        double signal = 0, noise = 0, dot = 0, energy = 0, maxError = 0, sumError = 0;
        for (int i = 0; i < reference.Count; i++)
        {
            double d = (double)reference[i] - quantized[i];
            signal += (double)reference[i] * reference[i];
            noise += d * d;
            dot += (double)reference[i] * quantized[i];
            energy += (double)quantized[i] * quantized[i];
            maxError = Math.Max(maxError, Math.Abs(d));
            sumError += Math.Abs(d);
        }
        Assert.Equal("z", result.OutputName);
        Assert.Equal([1L, 5], result.Shape);
        Assert.Equal(5, result.Samples);
        Assert.Equal(25, result.ElementCount);
        Assert.Equal(10 * Math.Log10(signal / noise), result.SqnrDb, 9);
        Assert.Equal(maxError, result.MaxAbsError, 12);
        Assert.Equal(sumError / 25, result.MeanAbsError, 12);
        Assert.Equal(dot / Math.Sqrt(signal * energy), result.CosineSimilarity, 12);
        // z is [1, 5]: class scores, one row per sample.
        int agree = Enumerable.Range(0, 5).Count(s => ArgMax(reference, s * 5) == ArgMax(quantized, s * 5));
        Assert.Equal(agree / 5.0, result.Top1Agreement);
        Assert.Equal(5, result.Top1Rows);
        Assert.Equal(new FileInfo(Fixtures.SmallCnn).Length, result.ReferenceBytes);
        Assert.Equal(new FileInfo(candidate).Length, result.CandidateBytes);
        Assert.True(result.ReferenceMedianMs > 0 && result.CandidateMedianMs > 0);
    }

    private static int ArgMax(List<float> values, int start) => Enumerable.Range(0, 5).MaxBy(k => values[start + k]);

    [Fact]
    public void AModelComparedWithItself_IsLossless_AndAnOutputThatIsNotClassScoresHasNoTop1()
    {
        using var temp = new TempDirectory();
        string data = Samples.NpyFolder(temp, "data", 2, [3, 3, 16, 16], seed: 9);
        var result = Assert.Single(CompareJob.Run(new CompareRequest { ReferencePath = Fixtures.CalibCnn, CandidatePath = Fixtures.CalibCnn, DataPath = data, Runner = Fixtures.Runner },
            new CollectingHost<ComparisonResult>()));
        Assert.Equal(double.PositiveInfinity, result.SqnrDb);
        Assert.Equal(0, result.MaxAbsError);
        Assert.Equal(1, result.CosineSimilarity, 12);
        Assert.Equal(1, result.Top1Agreement);
        Assert.Equal(6, result.Top1Rows); // [3, 10] logits per sample, 2 samples

        // small_cnn's If output is [1, 5]; a [N, 1] or rank-3 output is no class scores.
        var proto = Onnx.Tests.TestModels.Model(Onnx.Tests.TestModels.Graph("one", [Onnx.Tests.TestModels.Node("Identity", ["x"], ["y"], "id")],
            [Onnx.Tests.TestModels.Value("x", Core.Formats.Onnx.OnnxDataType.Float, 1, 1)], [Onnx.Tests.TestModels.Value("y", Core.Formats.Onnx.OnnxDataType.Float, 1, 1)]));
        string model = temp.File("one.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string single = temp.File("single.npy");
        Samples.Npy(single, [1, 1], [0.5f]);
        var identity = Assert.Single(CompareJob.Run(new CompareRequest { ReferencePath = model, CandidatePath = model, DataPath = single, Runner = Fixtures.Runner },
            new CollectingHost<ComparisonResult>()));
        Assert.Null(identity.Top1Agreement);
        Assert.Null(identity.Top1Rows);
    }

    [Fact]
    public void ModelsWithOtherOutputs_AreRefusedByName()
    {
        using var temp = new TempDirectory();
        string data = Samples.NpyFolder(temp, "data", 1, [1, 3, 8, 8]);
        // calib_cnn takes x [batch, 3, 16, 16] and gives logits; small_cnn gives z.
        var error = Assert.ThrowsAny<QuantShellException>(() => CompareJob.Run(
            new CompareRequest { ReferencePath = Fixtures.SmallCnn, CandidatePath = Fixtures.CalibCnn, DataPath = data, Runner = Fixtures.Runner }, new CollectingHost<ComparisonResult>()));
        Assert.Equal(ErrorIds.CompareModelsMismatch, error.ErrorId);
        Assert.Contains("has no output 'z'", error.Message);
        Assert.Contains("calib_cnn.onnx", error.Message);
    }
}
