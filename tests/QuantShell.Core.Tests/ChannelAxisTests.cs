using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// The channel axis of a per-channel quantizer given no axis (docs/semantics.md, "The channel axis"): values chosen from
/// the data along axis 0, values given along the first axis whose length is their count, for .npy and model files alike;
/// results and recorded quantizers say which axis was used.
/// </summary>
public sealed class ChannelAxisTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static QuantizerSpec Seed(int? axis = null) => new()
    {
        Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 8, Threshold = [2.0, 4, 1],
        Signed = true, PerChannel = true, ChannelAxis = axis,
    };

    private static float[] Values(int count, int seed, double spread)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * spread)).ToArray();
    }

    private static float[] Quantize(QuantizerSpec spec, long[] shape, float[] input)
    {
        var output = new float[input.Length];
        var stats = new Kernels.KernelStats();
        InferableQuantizer.Create(spec).CreatePlan(shape).Apply<float>(input, output, 0, ref stats);
        return output;
    }

    [Theory]
    [InlineData(new long[] { 1, 3, 3, 3 }, 1)] // the seed's example
    [InlineData(new long[] { 3, 8 }, 0)]
    [InlineData(new long[] { 8, 3 }, 1)]
    [InlineData(new long[] { 3, 3 }, 0)]
    [InlineData(new long[] { 2, 5, 3, 3 }, 2)]
    public void ValuesGiven_UseTheFirstAxisOfTheirCount(long[] shape, int expected)
    {
        Assert.Equal(expected, InferableQuantizer.Create(Seed()).CreatePlan(shape).ChannelAxis);
    }

    [Fact]
    public void SeedExample_WithoutAxis_QuantizesAsAxis1_NotAsTheLastAxis()
    {
        long[] shape = [1, 3, 3, 3];
        var input = Values(27, 7, 5);
        var noAxis = Quantize(Seed(), shape, input);
        Assert.Equal(Quantize(Seed(1), shape, input), noAxis);
        Assert.NotEqual(Quantize(Seed(-1), shape, input), noAxis);
    }

    [Fact]
    public void ValuesGiven_NoAxisOfTheirCount_IsAnErrorNamingShapeAndCount()
    {
        var ex = Assert.Throws<QuantShellException>(() => InferableQuantizer.Create(Seed()).CreatePlan([4, 5, 2], "w.npy"));
        Assert.Equal(ErrorIds.ChannelCountMismatch, ex.ErrorId);
        Assert.Equal("Threshold", Assert.IsType<QuantizerValidationException>(ex.InnerException).ParameterName);
        Assert.Contains("(4, 5, 2)", ex.Message);
        Assert.Contains("3 values", ex.Message);
        Assert.StartsWith("w.npy", ex.Message);
    }

    [Fact]
    public void ValuesGiven_AxisGiven_IsUsedAsGiven()
    {
        var ex = Assert.Throws<QuantizerValidationException>(() => InferableQuantizer.Create(Seed(0)).CreatePlan([1, 3, 3, 3]));
        Assert.Equal(ErrorIds.ChannelCountMismatch, ex.ErrorId);
        Assert.Equal(3, InferableQuantizer.Create(Seed(-1)).CreatePlan([1, 3, 3, 3]).ChannelAxis);
    }

    [Fact]
    public void ValuesChosen_WithoutAxis_AreChosenAlongAxis0_AndSaySo()
    {
        // A conv weight (out 4, in 3, 5 x 5): one threshold per output channel, not per kernel column.
        var recipe = new QuantizerArguments { PerChannel = true }.Check();
        var array = new NpyArray([4, 3, 5, 5], Values(300, 11, 2));
        var chosen = recipe.ResolveFor([array], "conv.npy");
        Assert.Equal(0, chosen.Spec.ChannelAxis);
        Assert.Equal(4, chosen.Spec.Threshold!.Count);
        var alongLast = new QuantizerArguments { PerChannel = true, ChannelAxis = -1 }.Check().ResolveFor([array], "conv.npy");
        Assert.Equal(-1, alongLast.Spec.ChannelAxis);
        Assert.Equal(5, alongLast.Spec.Threshold!.Count);
    }

    [Fact]
    public void LutGivenThresholds_ChoosesItsTableAlongTheAxisOfTheirCount()
    {
        var recipe = new QuantizerArguments { Method = QuantizationMethod.LutSymmetric, NumBits = 2, Threshold = [1.0, 2, 4], PerChannel = true }.Check();
        var chosen = recipe.ResolveFor([new NpyArray([5, 3, 6], Values(90, 13, 3))], "lut.npy");
        Assert.Equal(1, chosen.Spec.ChannelAxis);
        Assert.Equal([1.0, 2, 4], chosen.Spec.Threshold);
    }

    [Fact]
    public void NpyResult_AndItsQuantizer_SayWhichAxis()
    {
        string input = _temp.File("seed.npy");
        new NpyArray([1, 3, 3, 3], Values(27, 17, 5)).Write(input);
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments { Quantizer = Seed() } }, [JobInput.File(input)], host);
        Assert.Empty(host.Errors);
        var result = Assert.Single(Assert.Single(host.Results).TensorResults());
        Assert.Equal(1, result.ChannelAxis);
        Assert.Equal(1, result.Quantizer!.ChannelAxis);
        Assert.Contains("\"channelAxis\":1", result.Quantizer.ToString());
    }

    [Fact]
    public void ModelFile_ValuesGivenWithoutAxis_UseTheFirstAxisOfTheirCount_AndTheRecordSaysSo()
    {
        // Three thresholds on a (5, 3, 2, 2) weight: axis 1, recorded in the int output so that dequantizing uses it too.
        string model = _temp.File("m.safetensors");
        var values = Values(60, 19, 3);
        using (var stream = File.Create(model))
            TensorFiles.Write(TensorFileKind.Safetensors, stream,
                [new OutputTensor("w", DType.Float32, [5, 3, 2, 2], s => s.Write(MemoryMarshal.AsBytes(values.AsSpan())))],
                new Dictionary<string, string>(), CancellationToken.None);
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments { Quantizer = Seed() }, Format = OutputFormat.Int }, [JobInput.File(model)], host);
        Assert.Empty(host.Errors);
        var result = Assert.Single(Assert.Single(host.Results).TensorResults());
        Assert.Equal(1, result.ChannelAxis);
        Assert.Equal(1, result.Quantizer!.ChannelAxis);
        using var written = TensorFiles.Open(result.OutputPath);
        var record = QuantizationRecord.Parse(written.Metadata[TensorFiles.RecordKey], "m.int.safetensors");
        Assert.Equal(1, Assert.Single(record.Tensors).Quantizer.ChannelAxis);
        Assert.Equal(Quantize(Seed(1), [5, 3, 2, 2], values), DequantizedValues(result.OutputPath));
    }

    private float[] DequantizedValues(string intModel)
    {
        string fake = _temp.File("m.fake.safetensors");
        using (var file = TensorFiles.Open(intModel))
        using (var stream = File.Create(fake))
            ModelDequantizer.Write(file, stream, fake, CancellationToken.None);
        using var back = TensorFiles.Open(fake);
        using var source = back.OpenTensor(back.Tensor("w"));
        using var copy = new MemoryStream();
        source.CopyTo(copy);
        return MemoryMarshal.Cast<byte, float>(copy.ToArray()).ToArray();
    }
}
