using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Quantization;
using Xunit.Abstractions;

namespace QuantShell.Onnx.Tests;

/// <summary>
/// The MCT-exported models of shared/onnx-mctq, lowered in every weights x activations form: the quantized weights equal
/// MCT's bit for bit, and ONNX Runtime reproduces the PyTorch network's output.
/// </summary>
public sealed class MctqLoweringTests(ITestOutputHelper output)
{
    private static readonly string[] NonLut = ["mctq_0", "mctq_1"];

    public static TheoryData<string, WeightsForm, ActivationsForm> Cases(bool lut)
    {
        var data = new TheoryData<string, WeightsForm, ActivationsForm>();
        foreach (var model in MctqModels.All.Where(m => m.HasLut == lut))
            foreach (var weights in Enum.GetValues<WeightsForm>())
                foreach (var activations in Enum.GetValues<ActivationsForm>())
                    data.Add(model.Name, weights, activations);
        return data;
    }

    public static TheoryData<string, WeightsForm, ActivationsForm> GridCases() => Cases(lut: false);

    public static TheoryData<string, WeightsForm, ActivationsForm> LutCases() => Cases(lut: true);

    [Fact]
    public void SharedFolder_HoldsTwoGridAndTwoLutModels()
    {
        Assert.Equal(MctqModels.ExpectedCount, MctqModels.All.Count);
        Assert.Equal(NonLut, MctqModels.All.Where(m => !m.HasLut).Select(m => m.Name));
        Assert.Equal(8, GridCases().Count);
        Assert.Equal(8, LutCases().Count);
    }

    [Theory]
    [MemberData(nameof(GridCases))]
    public void GridModels_Lowered_WeightsAndOutputsMatchMct(string name, WeightsForm weights, ActivationsForm activations) =>
        CheckLowered(name, weights, activations);

    [Theory]
    [MemberData(nameof(LutCases))]
    public void LutModels_Lowered_WeightsAndOutputsMatchMct(string name, WeightsForm weights, ActivationsForm activations) =>
        CheckLowered(name, weights, activations);

    private void CheckLowered(string name, WeightsForm weights, ActivationsForm activations)
    {
        var mctq = MctqModels.Get(name);
        var model = OnnxModel.Load(mctq.ModelPath);
        var metadataBefore = model.Proto.MetadataProps.Clone();
        long opsetBefore = model.DefaultOpset;
        var lowered = MctLowering.Lower(model, weights, activations);

        Assert.Equal(6, lowered.Count);
        Assert.DoesNotContain(model.Graphs().SelectMany(g => g.Proto.Node), n => n.Domain == MctLowering.Domain);
        Assert.DoesNotContain(model.Proto.OpsetImport, o => o.Domain == MctLowering.Domain);
        Assert.Equal(metadataBefore, model.Proto.MetadataProps);
        Assert.Equal(opsetBefore, model.DefaultOpset); // 8-bit or less: nothing emitted needs more than opset 15

        // Every quantized weight equals MCT's, bit for bit: the initializer itself (fake) or what DequantizeLinear/Gather makes of it.
        Assert.Equal(3, mctq.Weights.Count);
        foreach (var (weightName, file) in mctq.Weights)
        {
            var expected = NpyArray.Read(file);
            var actual = weights == WeightsForm.Fake ? model.ReadValues(model.MainGraph.FindInitializer(weightName)!) : Dequantized(model, weightName);
            Conformance.AssertIdentical(expected, actual, $"{name} {weightName}");
        }

        // Re-read from bytes: the written model passes our own checks, then runs in ONNX Runtime.
        byte[] bytes = model.ToByteArray();
        OnnxModel.Parse(bytes, name);
        var outputs = OnnxRuntimeRunner.Run(bytes, mctq.InputName, mctq.Input);
        var expectedOutput = (float[])mctq.Expected.Data;
        Assert.Equal(expectedOutput.Length, outputs.Length);
        // The last activation quantizer's step: outputs may differ from PyTorch by at most that, where the runtime's
        // Conv/Gemm sums round differently in the last bit and land on the other side of a rounding boundary.
        float step = lowered.Last(n => n.Target == QuantizationTarget.Activation).Scale[0];
        int differing = 0;
        for (int i = 0; i < outputs.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(outputs[i]) == BitConverter.SingleToInt32Bits(expectedOutput[i])) continue;
            differing++;
            Assert.True(Math.Abs(outputs[i] - expectedOutput[i]) <= step * 1.0001f, $"{name} output {i}: {outputs[i]} vs PyTorch {expectedOutput[i]} (step {step})");
        }
        output.WriteLine($"{name} weights={weights} activations={activations}: {differing} of {outputs.Length} outputs differ from PyTorch (by one step {step})");
        Assert.True(differing <= outputs.Length / 10, $"{differing} of {outputs.Length} outputs differ");

        // With ONNX Runtime's default graph optimizations (Conv/Gemm fusions, QDQ pairs run as integer kernels) the
        // arithmetic is the runtime's own: measured and reported, bounded by two steps of the last quantizer.
        var optimized = OnnxRuntimeRunner.Run(bytes, mctq.InputName, mctq.Input, Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL);
        int optimizedDiffering = optimized.Where((v, i) => BitConverter.SingleToInt32Bits(v) != BitConverter.SingleToInt32Bits(expectedOutput[i])).Count();
        float worst = optimized.Select((v, i) => Math.Abs(v - expectedOutput[i])).Max();
        output.WriteLine($"{name} weights={weights} activations={activations}, ORT_ENABLE_ALL: {optimizedDiffering} of {outputs.Length} outputs differ, at most {worst / step:F2} steps");
        Assert.True(worst <= 2.0001f * step, $"optimized: {worst} > 2 steps of {step}");
    }

    /// <summary>What the qdq format's DequantizeLinear (or Gather x scale) computes from the stored integers: (q - z) * s in float32.</summary>
    internal static NpyArray Dequantized(OnnxModel model, string weightName)
    {
        var graph = model.MainGraph;
        var codes = graph.FindInitializer(weightName + "_quantized");
        if (codes is null) return LutDequantized(model, weightName);
        var dequantize = graph.Proto.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == codes.Name);
        var scale = (float[])model.ReadValues(graph.FindInitializer(dequantize.Input[1])!).Data;
        var zero = (float[])model.ReadValues(graph.FindInitializer(dequantize.Input[2])!).Data;
        var q = (float[])model.ReadValues(codes).Data;
        long[] shape = codes.Dims.ToArray();
        long inner = 1;
        int axis = (int)(dequantize.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 0);
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        var result = new float[q.Length];
        for (int i = 0; i < q.Length; i++)
        {
            int c = scale.Length == 1 ? 0 : (int)(i / inner % scale.Length);
            result[i] = (float)(int)(q[i] - zero[c]) * scale[c];
        }
        return new NpyArray(shape, result);
    }

    private static NpyArray LutDequantized(OnnxModel model, string weightName)
    {
        var graph = model.MainGraph;
        var indices = graph.FindInitializer(weightName + "_lut_index")!;
        var table = (float[])model.ReadValues(graph.FindInitializer(weightName + "_lut")!).Data;
        var scaleTensor = graph.FindInitializer(weightName + "_scale")!;
        var scale = (float[])model.ReadValues(scaleTensor).Data;
        var j = (float[])model.ReadValues(indices).Data;
        long[] shape = indices.Dims.ToArray();
        long inner = 1;
        int axis = Array.FindIndex(scaleTensor.Dims.ToArray(), d => d > 1);
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        var result = new float[j.Length];
        for (int i = 0; i < j.Length; i++)
            result[i] = table[(int)j[i]] * scale[scale.Length == 1 ? 0 : (int)(i / inner % scale.Length)];
        return new NpyArray(shape, result);
    }
}
