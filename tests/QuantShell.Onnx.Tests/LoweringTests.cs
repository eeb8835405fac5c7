using Google.Protobuf;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using Xunit.Abstractions;
using static QuantShell.Onnx.Tests.TestModels;

namespace QuantShell.Onnx.Tests;

/// <summary>Lowering single quantizer nodes and unusual graphs, run in ONNX Runtime where it matters.</summary>
public sealed class LoweringTests(ITestOutputHelper output)
{
    private const int Elements = 1 << 16;

    public static TheoryData<string, int, float[]> Activations() => new()
    {
        // op type, bits, threshold | min, max; signed is the attribute's value for POT/symmetric
        { "ActivationSymmetricQuantizer", 8, [5.6235003f, 1] },
        { "ActivationSymmetricQuantizer", 5, [2.2690389f, 1] },
        { "ActivationPOTQuantizer", 8, [4f, 0] },
        { "ActivationPOTQuantizer", 4, [2f, 0] },
        { "ActivationUniformQuantizer", 8, [-2.2452362f, 2.4476755f] },
        { "ActivationUniformQuantizer", 4, [-1.1429583f, 1.7144374f] },
        { "ActivationSymmetricQuantizer", 16, [3f, 1] },
    };

    /// <summary>
    /// Exact: equal to QuantShell's kernel (PyTorch's arithmetic) at every element. Qdq: QuantizeLinear divides by the
    /// scale where PyTorch multiplies by its float32 reciprocal, so near ties it may land one step off: measured here on
    /// random values and on values placed at ties.
    /// </summary>
    [Theory]
    [MemberData(nameof(Activations))]
    public void ActivationNode_ExactMatchesTheKernel_QdqWithinOneStep(string opType, int numBits, float[] values)
    {
        bool uniform = opType.Contains("Uniform", StringComparison.Ordinal);
        var attributes = uniform ? new[] { Float("min_range", values[0]), Float("max_range", values[1]) } : [Float("threshold", values[0]), Int("signed", (long)values[1])];
        var proto = Activation(opType, numBits, attributes);
        var spec = new QuantizerSpec
        {
            Target = QuantizationTarget.Activation, NumBits = numBits,
            Method = uniform ? QuantizationMethod.Uniform : opType.Contains("POT", StringComparison.Ordinal) ? QuantizationMethod.Pot : QuantizationMethod.Symmetric,
            Threshold = uniform ? null : [values[0]], Signed = uniform ? null : values[1] != 0,
            MinRange = uniform ? [values[0]] : null, MaxRange = uniform ? [values[1]] : null,
        };
        var quantizer = (GridQuantizer)InferableQuantizer.Create(spec);
        float scale = quantizer.Parameters.Scales[0];
        var input = Inputs(scale, quantizer.Parameters);
        var expected = new float[input.Length];
        var stats = new KernelStats();
        quantizer.CreatePlan([1, Elements]).Apply<float>(input, expected, 0, ref stats);

        var exact = Lowered(proto, ActivationsForm.Exact, out long exactOpset);
        Assert.Equal(15, exactOpset);
        var exactOutput = OnnxRuntimeRunner.Run(exact, "x", new NpyArray([1, Elements], input));
        for (int i = 0; i < Elements; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(exactOutput[i]), $"exact, element {i}: x = {input[i]:R}, kernel {expected[i]:R}, ONNX Runtime {exactOutput[i]:R}");

        var qdq = Lowered(proto, ActivationsForm.Qdq, out long qdqOpset);
        Assert.Equal(numBits > 8 ? 21 : 15, qdqOpset);
        var qdqOutput = OnnxRuntimeRunner.Run(qdq, "x", new NpyArray([1, Elements], input));
        int differing = 0, differingRandom = 0;
        for (int i = 0; i < Elements; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(qdqOutput[i])) continue;
            differing++;
            if (i < Elements / 2) differingRandom++;
            Assert.True(Math.Abs(expected[i] - qdqOutput[i]) <= scale * 1.0001f, $"qdq, element {i}: x = {input[i]:R}, kernel {expected[i]:R}, ONNX Runtime {qdqOutput[i]:R}, step {scale:R}");
        }
        output.WriteLine($"{opType} {numBits} bits: qdq differs from PyTorch by one step at {differingRandom} of {Elements / 2} random values and {differing - differingRandom} of {Elements / 2} values at ties");
        Assert.True(differingRandom <= Elements / 2 / 100, $"{differingRandom} random values differ");
    }

    // Half random values over 1.25 times the range, half placed at the ties (k + 0.5) * s, where x * (1/s) and x / s
    // can round to different integers.
    private static float[] Inputs(float scale, QuantizationParameters p)
    {
        var random = new Random(20261128);
        var input = new float[Elements];
        float low = (p.QuantMin - p.ZeroPoints[0]) * scale, high = (p.QuantMax - p.ZeroPoints[0]) * scale;
        for (int i = 0; i < Elements / 2; i++) input[i] = (float)(low + (random.NextDouble() * 1.25 - 0.125) * (high - low));
        for (int i = Elements / 2; i < Elements; i++)
        {
            int k = random.Next(p.QuantMin - p.ZeroPoints[0], p.QuantMax - p.ZeroPoints[0]);
            float tie = (k + 0.5f) * scale;
            input[i] = (i % 3) switch { 0 => tie, 1 => MathF.BitIncrement(tie), _ => MathF.BitDecrement(tie) };
        }
        return input;
    }

    private static byte[] Lowered(ModelProto proto, ActivationsForm activations, out long opset)
    {
        var model = OnnxModel.Parse(proto.ToByteArray(), "activation.onnx");
        MctLowering.Lower(model, WeightsForm.Fake, activations);
        opset = model.DefaultOpset;
        return model.ToByteArray();
    }

    [Fact]
    public void SixteenBitQdq_NeedsOpset21_RefusedWhenAnOpChangedMeaningOnTheWay()
    {
        // GroupNormalization changed its scale and bias at 21 (per group to per channel): nothing rewrites that.
        var proto = Activation("ActivationSymmetricQuantizer", 16, Float("threshold", 3f), Int("signed", 1));
        proto.OpsetImport[0].Version = 18;
        proto.Graph.Node.Add(Node("GroupNormalization", ["y", "scale", "bias"], ["normalized"], "norm", "", Int("num_groups", 1)));
        proto.Graph.Initializer.Add(Floats("scale", [1], [1f]));
        proto.Graph.Initializer.Add(Floats("bias", [1], [0f]));
        proto.Graph.Output.Add(Value("normalized", OnnxDataType.Float, 1, 1 << 16));
        var model = OnnxModel.Parse(proto.ToByteArray(), "norm.onnx");
        var error = Assert.ThrowsAny<QuantShellException>(() => MctLowering.Lower(model, WeightsForm.Fake, ActivationsForm.Qdq));
        Assert.Equal(ErrorIds.OnnxOpsetUpgradeBlocked, error.ErrorId);
        Assert.Contains("'norm' (GroupNormalization)", error.Message);
        // The exact form needs nothing newer than opset 11.
        MctLowering.Lower(OnnxModel.Parse(proto.ToByteArray(), "norm.onnx"), WeightsForm.Fake, ActivationsForm.Exact);
    }

    private static ModelProto WeightModel(float[] weight, params NodeProto[] extraNodes)
    {
        var quantizer = Node("WeightsSymmetricQuantizer", ["w", "t"], ["wq"], "/fc/WeightsSymmetricQuantizer", "mct_quantizers",
            Int("num_bits", 8), Int("per_channel", 1), Int("channel_axis", 0), Int("signed", 1));
        var nodes = new List<NodeProto> { Constant("t", [2], [1f, 0.75f]), quantizer, Node("Gemm", ["x", "wq"], ["y"], "/fc/Gemm", "", Int("transB", 1)) };
        nodes.AddRange(extraNodes);
        var outputs = new List<ValueInfoProto> { Value("y", OnnxDataType.Float, 1, 2) };
        outputs.AddRange(extraNodes.Select(n => Value(n.Output[0], OnnxDataType.Float, 2, 3)));
        return Model(Graph("g", nodes, [Value("x", OnnxDataType.Float, 1, 3)], outputs, Floats("w", [2, 3], weight)), 15, ("mct_quantizers", 1));
    }

    [Fact]
    public void SharedWeight_KeepsItsFloatValues_TheQuantizedCopyTakesTheNodesOutputName()
    {
        float[] weight = [0.3f, -0.77f, 0.0041f, 0.2f, -0.26f, 0.5f];
        var model = OnnxModel.Parse(WeightModel(weight, Node("Identity", ["w"], ["w_float"], "keep")).ToByteArray(), "shared.onnx");
        var lowered = MctLowering.Lower(model, WeightsForm.Fake, ActivationsForm.Exact);

        Assert.Equal("wq", lowered.Single().Output);
        Assert.Equal(weight, (float[])model.ReadValues(model.MainGraph.FindInitializer("w")!).Data);
        var expected = new float[6];
        var stats = new KernelStats();
        new WeightsSymmetricInferableQuantizer(8, [1, 0.75], perChannel: true, channelAxis: 0).CreatePlan([2, 3]).Apply<float>(weight, expected, 0, ref stats);
        Assert.Equal(expected, (float[])model.ReadValues(model.MainGraph.FindInitializer("wq")!).Data);
        Assert.DoesNotContain(model.MainGraph.Proto.Node, n => n.OpType == "Constant"); // the threshold constant went with its node
        var outputs = OnnxRuntimeRunner.Run(model.ToByteArray(), "x", new NpyArray([1, 3], new[] { 1f, 2f, 3f }));
        Assert.Equal(2, outputs.Length);
    }

    [Fact]
    public void ConstantNodeWeight_BecomesAnInitializer_AndTheConstantGoes()
    {
        var proto = WeightModel([0.3f, -0.77f, 0.0041f, 0.2f, -0.26f, 0.5f]);
        proto.Graph.Initializer.Clear();
        proto.Graph.Node.Insert(0, Constant("w", [2, 3], [0.3f, -0.77f, 0.0041f, 0.2f, -0.26f, 0.5f]));
        var model = OnnxModel.Parse(proto.ToByteArray(), "constant.onnx");
        MctLowering.Lower(model, WeightsForm.Fake, ActivationsForm.Exact);
        Assert.Equal(["Gemm"], model.MainGraph.Proto.Node.Select(n => n.OpType));
        Assert.Equal(["wq"], model.MainGraph.Proto.Initializer.Select(t => t.Name));
        Assert.Equal(2, OnnxRuntimeRunner.Run(model.ToByteArray(), "x", new NpyArray([1, 3], new[] { 1f, 2f, 3f })).Length);
    }

    [Fact]
    public void WeightQuantizerInASubgraph_ReadingAnOuterInitializer_IsLowered()
    {
        var quantizer = Node("WeightsPOTQuantizer", ["w", "t"], ["wq"], "/then/WeightsPOTQuantizer", "mct_quantizers", Int("num_bits", 4), Int("signed", 1));
        var thenBranch = Graph("then", [Constant("t", [1], [1f]), quantizer, Node("MatMul", ["x", "wq"], ["y_then"], "mm")], [], [Value("y_then", OnnxDataType.Float, 1, 3)]);
        var elseBranch = Graph("else", [Node("MatMul", ["x", "w"], ["y_else"], "mm_else")], [], [Value("y_else", OnnxDataType.Float, 1, 3)]);
        var main = Graph("main", [Node("If", ["cond"], ["y"], "if", "", TestModels.Graph("then_branch", thenBranch), TestModels.Graph("else_branch", elseBranch))],
            [Value("x", OnnxDataType.Float, 1, 2), Value("cond", OnnxDataType.Bool)], [Value("y", OnnxDataType.Float, 1, 3)],
            Floats("w", [2, 3], [0.3f, -0.77f, 0.12f, 0.2f, -0.26f, 0.5f]));
        var model = OnnxModel.Parse(Model(main, 15, ("mct_quantizers", 1)).ToByteArray(), "if.onnx");
        var lowered = MctLowering.Lower(model, WeightsForm.Fake, ActivationsForm.Exact);

        Assert.Equal("main/if.then_branch", lowered.Single().Graph);
        Assert.DoesNotContain(model.Graphs().SelectMany(g => g.Proto.Node), n => n.Domain == MctLowering.Domain);
        // The else branch still reads the float weight, so the quantized one is the node's output, inside the branch.
        Assert.NotNull(model.Graphs().Single(g => g.Path == "main/if.then_branch").FindInitializer("wq"));
        var branch = model.Graphs().Single(g => g.Path == "main/if.then_branch");
        Assert.Equal([0.25f, -0.75f, 0.125f, 0.25f, -0.25f, 0.5f], (float[])model.ReadValues(branch.FindInitializer("wq")!).Data);
    }

    public static TheoryData<string, Func<ModelProto>, string> BadNodes() => new()
    {
        { "unknown custom domain", () => { var m = WeightModel(new float[6]); m.Graph.Node.Add(Node("Fancy", ["y"], ["z"], "fancy", "com.example")); return m; }, ErrorIds.OnnxOperatorUnknown },
        { "missing num_bits", () => { var m = WeightModel(new float[6]); m.Graph.Node[1].Attribute.RemoveAt(0); return m; }, ErrorIds.MctQuantizerNodeInvalid },
        { "unknown MCT op", () => { var m = WeightModel(new float[6]); m.Graph.Node[1].OpType = "WeightsFancyQuantizer"; return m; }, ErrorIds.MctQuantizerNodeInvalid },
        { "threshold not a constant", () => { var m = WeightModel(new float[6]); m.Graph.Node[1].Input[1] = "x"; return m; }, ErrorIds.MctQuantizerNodeInvalid },
        { "POT threshold not a power of two", () => { var m = WeightModel(new float[6]); m.Graph.Node[1].OpType = "WeightsPOTQuantizer"; return m; }, ErrorIds.ThresholdNotPowerOfTwo },
        { "channel count", () => { var m = WeightModel(new float[6]); m.Graph.Node[1].Attribute[2].I = 1; return m; }, ErrorIds.ChannelCountMismatch },
        { "NaN weight", () => WeightModel([1, float.NaN, 0, 0, 0, 0]), ErrorIds.NonFiniteInput },
    };

    [Theory]
    [MemberData(nameof(BadNodes))]
    public void BadQuantizerNodes_FailThroughTheJob_WithTheirId_AndNoOutput(string what, Func<ModelProto> build, string errorId)
    {
        using var temp = new TempDirectory();
        File.WriteAllBytes(temp.File("m.onnx"), build().ToByteArray());
        var host = new CollectingHost();
        var job = LowerJob.Run(new LowerRequest(), [JobInput.File(temp.File("m.onnx"))], host);
        Assert.Equal(1, job.Failed);
        var error = Assert.Single(host.Errors);
        Assert.Equal(errorId, error.ErrorId);
        Assert.StartsWith(temp.File("m.onnx"), error.Message);
        Assert.Equal(["m.onnx"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));
        Assert.NotNull(what);
    }

    [Fact]
    public void BadNodeTable_HasEveryCase() => Assert.Equal(7, BadNodes().Count);

    private sealed class CollectingHost : JobHost<LowerResult>
    {
        public List<LowerResult> Results { get; } = [];
        public List<QuantShellException> Errors { get; } = [];
        public override void WriteResult(LowerResult result) => Results.Add(result);
        public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
    }
}
