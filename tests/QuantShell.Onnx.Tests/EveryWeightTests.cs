using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using static QuantShell.Onnx.Tests.OnnxRuntimeRunner;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Rules;
using QuantShell.Core.Jobs.Dequantize;

namespace QuantShell.Onnx.Tests;

/// <summary>
/// Every weight of a model, on the fixtures of tests/fixtures/models/make_onnx_weight_fixtures.py (written once with torch
/// and onnx): weights in Constant nodes (an opset-9 model whose Slice would need rewriting to raise its opset), behind Transpose, Reshape,
/// Flatten, Squeeze and Identity, shared, in If branches read by an LSTM and (through Slice, Concat and Unsqueeze) a GRU,
/// float16, bfloat16 and float64 weights behind Cast, and a model that computes in float16. For each fixture and
/// quantizer: the weights found are exactly the expected ones; the fake format equals the .npy path on every weight's
/// values; what ONNX Runtime computes from the qdq format's codes equals the fake format bit for bit; both forms run to the
/// same outputs; the qdq format's constants are smaller; dequantizing the qdq format gives the fake format back bit for bit.
/// </summary>
public sealed class EveryWeightTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string FixturePath(string name) => Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", name + ".onnx");

    /// <param name="Weights">Every weight the graph names, with its channel axis.</param>
    /// <param name="Runs">The inputs of each run (the If model runs both branches).</param>
    /// <param name="DequantizeLinear">False when the opset cannot be raised to DequantizeLinear's, so the arithmetic form is used.</param>
    /// <param name="Tolerance">How far the two forms' outputs may be apart, relative: the runtime multiplies a constant
    /// weight and a computed one with different kernels (a constant is pre-packed), whose sums round differently.</param>
    private sealed record Fixture(Dictionary<string, int> Weights, Func<NamedOnnxValue[]>[] Runs, bool DequantizeLinear, float Tolerance = 1e-5f);

    private static readonly Dictionary<string, Fixture> Fixtures = new()
    {
        ["constant_cnn"] = new(new() { ["conv1.weight"] = 0, ["conv2.weight"] = 0, ["fc.weight"] = 0, ["head.weight"] = 0 },
            [() => [Input("x", Values(61, [1, 3, 8, 8], 2f))]], DequantizeLinear: false),
        ["weight_chains"] = new(new() { ["w_t"] = 0, ["w_reshaped"] = 2, ["w_flat"] = 0, ["w_squeezed"] = 2, ["shared"] = 1 },
            [() => [Input("x", Values(62, [1, 12], 2f)), Input("ids", [7L], 1)]], DequantizeLinear: true),
        ["if_recurrent"] = new(new()
            {
                ["lstm/onnx::LSTM_115"] = 1, ["lstm/onnx::LSTM_116"] = 1, ["lstm/fc.weight"] = 0,
                ["gru/rnn.weight_ih_l0"] = 0, ["gru/rnn.weight_hh_l0"] = 0, ["gru/fc.weight"] = 0,
            },
            [() => [Input("x", Values(63, [5, 1, 4], 2f)), Input("cond", true)], () => [Input("x", Values(63, [5, 1, 4], 2f)), Input("cond", false)]],
            DequantizeLinear: true),
        ["float_types"] = new(new() { ["w_half"] = 0, ["w_half_const"] = 0, ["w_bf16"] = 1, ["w_double"] = 1, ["w_double_const"] = 1 },
            [() => [Input("x", Values(64, [1, 3, 8, 8], 2f))]], DequantizeLinear: true),
        // ONNX Runtime's CPU has no float16 Conv: it runs the Convs in float32 between Casts it inserts, and drops a Cast
        // to float16 followed by one back to float32 as if it were free. The qdq weight (DequantizeLinear -> Cast to
        // float16) then reaches the Conv unrounded, within half a float16 step (2^-11 relative) of the fake weight that
        // the graph itself computes (read back bit for bit above); the outputs differ by a few float16 steps.
        ["half_model"] = new(new() { ["conv1.weight"] = 0, ["conv2.weight"] = 0 },
            [() => [Input("x", Values(65, [1, 3, 8, 8], 2f))]], DequantizeLinear: true, Tolerance: 1e-2f),
    };

    private static readonly Dictionary<string, QuantizerArguments> Quantizers = new()
    {
        ["symmetric 8-bit"] = new() { Method = QuantizationMethod.Symmetric, NumBits = 8 },
        ["uniform 8-bit"] = new() { Method = QuantizationMethod.Uniform, NumBits = 8 },
        ["uniform 12-bit"] = new() { Method = QuantizationMethod.Uniform, NumBits = 12 },
        ["pot 4-bit per tensor"] = new() { Method = QuantizationMethod.Pot, NumBits = 4, PerChannel = false },
        ["lut-pot 3-bit"] = new() { Method = QuantizationMethod.LutPot, NumBits = 3 },
    };

    public static TheoryData<string, string> Cases()
    {
        var cases = new TheoryData<string, string>();
        foreach (string fixture in Fixtures.Keys)
            foreach (string quantizer in Quantizers.Keys) cases.Add(fixture, quantizer);
        return cases;
    }

    [Fact]
    public void Cases_CoverEveryFixtureWithEveryQuantizer() => Assert.Equal(5 * 5, Cases().Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryWeight_IsFound_AndBothFormsAgreeBitForBit_InOnnxRuntime(string fixtureName, string quantizerName)
    {
        var fixture = Fixtures[fixtureName];
        var options = Quantizers[quantizerName];
        bool lut = options.Method == QuantizationMethod.LutPot;
        string input = FixturePath(fixtureName);
        string fake = _temp.File("fake.onnx"), qdq = _temp.File("qdq.onnx"), back = _temp.File("back.onnx");

        // Found: exactly the expected weights, each on its channel axis.
        var fakeResults = Quantize(new QuantizeRequest { Quantizer = options, OutputPath = fake }, input);
        var quantized = fakeResults.Where(r => !r.Skipped).ToDictionary(r => r.TensorName!);
        Assert.Equal(fixture.Weights.Keys.Order(), quantized.Keys.Order());
        foreach (var (name, axis) in fixture.Weights)
            Assert.Equal(options.PerChannel == false ? null : axis, quantized[name].ChannelAxis);

        // Fake: each weight holds what the .npy path writes for its values; every other tensor is unchanged.
        var original = ConstantTensors(input);
        var fakeTensors = ConstantTensors(fake);
        Assert.Equal(original.Keys.Order(), fakeTensors.Keys.Order());
        foreach (var (name, tensor) in original)
        {
            byte[] expected = quantized.TryGetValue(name, out var result) ? NpyPath(tensor, result.Quantizer!) : tensor.Bytes;
            Assert.True(expected.AsSpan().SequenceEqual(fakeTensors[name].Bytes), $"{name} differs from the .npy path");
            if (result is not null) Assert.False(tensor.Bytes.AsSpan().SequenceEqual(fakeTensors[name].Bytes), $"{name} was not changed");
        }

        // Qdq: the same quantizers; the weights are gone, computed from codes of the stated size.
        var qdqResults = Quantize(new QuantizeRequest { Quantizer = options, OutputPath = qdq, Format = OutputFormat.Qdq }, input);
        Assert.Equal(fakeResults.Select(r => r.Quantizer?.ToString()), qdqResults.Select(r => r.Quantizer?.ToString()));
        var model = OnnxModel.Load(qdq);
        var record = QuantizationRecord.Parse(model.Proto.MetadataProps.Single(p => p.Key == TensorFiles.RecordKey).Value, qdq);
        Assert.Equal(fixture.Weights.Keys.Order(), record.Tensors.Select(t => t.Name).Order());
        var qdqTensors = ConstantTensors(qdq);
        int codeSize = options.NumBits > 8 ? 2 : 1;
        foreach (var entry in record.Tensors)
        {
            Assert.False(qdqTensors.ContainsKey(entry.Name), $"{entry.Name} is still a constant");
            Assert.Equal(original[entry.Name].Type, Enum.Parse<OnnxDataType>(entry.DType switch { "float32" => "Float", "float64" => "Double", "float16" => "Float16", _ => "BFloat16" }));
            Assert.Equal(original[entry.Name].ElementCount * codeSize, qdqTensors[entry.Codes!].Bytes.Length);
            Assert.Equal(original[entry.Name].ConstantNode, entry.ConstantNode);
        }
        // Smaller whenever the codes are: 16-bit codes of a float16 weight are not.
        if (record.Tensors.All(t => codeSize < original[t.Name].Bytes.Length / original[t.Name].ElementCount))
            Assert.True(qdqTensors.Values.Sum(t => t.Bytes.Length) < fakeTensors.Values.Sum(t => t.Bytes.Length), "the qdq format's constants are not smaller");
        int dequantizers = model.Graphs().Sum(g => g.Proto.Node.Count(n => n.OpType == "DequantizeLinear"));
        int gridWeights = lut ? 0 : record.Tensors.Count(t => t.DType != "float64");
        Assert.Equal(fixture.DequantizeLinear ? gridWeights : 0, dequantizers);
        if (!fixture.DequantizeLinear) Assert.Equal(OnnxModel.Load(input).DefaultOpset, model.DefaultOpset);

        // What the runtime computes from the codes is the fake format's weight, bit for bit, in the weight's own type.
        var qdqProto = model.Proto;
        foreach (var entry in record.Tensors)
        {
            byte[] computed = RunDequantization(qdqProto, entry.Name, original[entry.Name].Type);
            Assert.True(computed.AsSpan().SequenceEqual(fakeTensors[entry.Name].Bytes), $"{quantizerName}: {entry.Name} as the runtime computes it from the codes");
        }

        // Both forms run, to the same outputs. With the runtime's optimizations on it computes its own way (a weight's
        // DequantizeLinear before a MatMul becomes a MatMulNBits, which rounds the activations), so there the outputs
        // only agree to 1e-2 of their magnitude.
        bool changed = false;
        foreach (var run in fixture.Runs)
        {
            var fromOriginal = Floats(RunBytes(input, run())["y"]);
            foreach (var (level, tolerance) in new[] { (GraphOptimizationLevel.ORT_DISABLE_ALL, fixture.Tolerance), (GraphOptimizationLevel.ORT_ENABLE_ALL, 1e-2f) })
            {
                var fromFake = Floats(RunBytes(fake, run(), level)["y"]);
                var fromQdq = Floats(RunBytes(qdq, run(), level)["y"]);
                Assert.Equal(fromFake.Length, fromQdq.Length);
                float magnitude = Math.Max(1f, fromFake.Max(Math.Abs));
                for (int i = 0; i < fromFake.Length; i++)
                {
                    float allowed = level == GraphOptimizationLevel.ORT_DISABLE_ALL ? tolerance * Math.Max(1f, Math.Abs(fromFake[i])) : tolerance * magnitude;
                    Assert.True(Math.Abs(fromFake[i] - fromQdq[i]) <= allowed, $"{quantizerName} ({level}): output {i}: {fromFake[i]} vs {fromQdq[i]}");
                }
                changed |= !fromOriginal.SequenceEqual(fromFake);
            }
        }
        Assert.True(changed, "quantizing changed no output");

        // Dequantizing the qdq format gives the fake format: every constant bit for bit, Constant nodes back in their place.
        var dequantized = Run<DequantizationResult>(host => DequantizeJob.Run(new DequantizeRequest { OutputPath = back }, [JobInput.File(qdq)], host), out var errors);
        Assert.Empty(errors);
        Assert.Equal(fixture.Weights.Count, dequantized.Count(r => r.Dequantized));
        var backTensors = ConstantTensors(back);
        Assert.Equal(fakeTensors.Keys.Order(), backTensors.Keys.Order());
        foreach (var (name, tensor) in fakeTensors)
        {
            Assert.Equal(tensor.Type, backTensors[name].Type);
            Assert.Equal(tensor.ConstantNode, backTensors[name].ConstantNode);
            Assert.True(tensor.Bytes.AsSpan().SequenceEqual(backTensors[name].Bytes), $"{quantizerName}: {name} dequantized");
        }
        Assert.Equal(NodeTypes(fake), NodeTypes(back));
    }

    [Fact]
    public void Qdq_OfAModelWhoseOpsetCannotBeRaised_ComputesTheWeightsWithArithmetic_AndKeepsTheOpset()
    {
        // The opset-9 fixture with a Softmax on its output: before opset 13 Softmax flattens its input at 'axis' (1 by
        // default), from 13 it works along that axis, so no rewrite can raise the model to per-axis DequantizeLinear's 13.
        string input = _temp.File("blocked.onnx"), fake = _temp.File("blocked.q.onnx"), qdq = _temp.File("blocked.qdq.onnx");
        var model = OnnxModel.Load(FixturePath("constant_cnn"));
        var graph = model.Proto.Graph;
        var output = graph.Output.Single(o => o.Name == "y");
        foreach (var node in graph.Node)
            for (int i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == "y") node.Output[i] = "logits";
        graph.Node.Add(TestModels.Node("Softmax", ["logits"], ["y"], "softmax"));
        File.WriteAllBytes(input, model.Proto.ToByteArray());
        Assert.Equal(9, OnnxModel.Load(input).DefaultOpset);

        var options = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 8 };
        Quantize(new QuantizeRequest { Quantizer = options, OutputPath = fake }, input);
        var results = Quantize(new QuantizeRequest { Quantizer = options, OutputPath = qdq, Format = OutputFormat.Qdq }, input);
        Assert.Equal(4, results.Count(r => !r.Skipped));
        var written = OnnxModel.Load(qdq);
        Assert.Equal(9, written.DefaultOpset);
        Assert.Equal(0, written.Graphs().Sum(g => g.Proto.Node.Count(n => n.OpType == "DequantizeLinear")));
        var fakeTensors = ConstantTensors(fake);
        foreach (string name in new[] { "conv1.weight", "conv2.weight", "fc.weight", "head.weight" })
            Assert.True(RunDequantization(written.Proto, name, OnnxDataType.Float).AsSpan().SequenceEqual(fakeTensors[name].Bytes), name);
        var fromFake = Floats(RunBytes(fake, [Input("x", Values(67, [1, 3, 8, 8], 2f))])["y"]);
        var fromQdq = Floats(RunBytes(qdq, [Input("x", Values(67, [1, 3, 8, 8], 2f))])["y"]);
        for (int i = 0; i < fromFake.Length; i++) Assert.Equal(fromFake[i], fromQdq[i], 1e-5f);
    }

    [Fact]
    public void ChainsThatMixTheChannels_AndEmbeddings_AreSkippedWithTheReason_AndRulesQuantizeThemByName()
    {
        string input = FixturePath("weight_chains");
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = _temp.File("d.onnx") }, input).ToDictionary(r => r.TensorName!);
        Assert.Contains("the weight of MatMul 'mm_mixed' (through Reshape 'reshape_mixing'), but Reshape 'reshape_mixing' reshapes [2, 6] to [4, 3], which mixes its channels with other axes",
            results["w_mixed"].SkipReason);
        Assert.Contains("it is the table of Gather 'embedding' (an embedding): quantized only when a rule names it", results["table"].SkipReason);
        Assert.Equal("the weight of MatMul 'mm_squeezed' (through Squeeze 'squeeze', Identity 'alias')",
            OnnxWeights.Survey(OnnxModel.Load(input)).Tensors.Single(t => t.Tensor.Name == "w_squeezed").Description);

        // Rules name Constant-held weights by the Constant's output, initializers by their names.
        var rules = QuantizationRules.Parse("""
            {"rules": [
              {"match": "table", "quantizer": {"target": "weights", "method": "uniform", "numBits": 8, "perChannel": true, "channelAxis": 0}},
              {"match": "w_mixed", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 8}},
              {"match": "w_squeezed", "quantizer": {"target": "weights", "method": "pot", "numBits": 6, "perChannel": true, "channelAxis": 2}}
            ]}
            """, "rules.json");
        string fake = _temp.File("r.q.onnx"), qdq = _temp.File("r.qdq.onnx");
        var ruled = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, OutputPath = fake }, input);
        Assert.Equal(["table", "w_mixed", "w_squeezed"], ruled.Where(r => !r.Skipped).Select(r => r.TensorName!).Order());
        Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, OutputPath = qdq, Format = OutputFormat.Qdq }, input);
        var fakeTensors = ConstantTensors(fake);
        var proto = OnnxModel.Load(qdq).Proto;
        foreach (string name in new[] { "table", "w_mixed", "w_squeezed" })
            Assert.True(RunDequantization(proto, name, OnnxDataType.Float).AsSpan().SequenceEqual(fakeTensors[name].Bytes), name);
        NamedOnnxValue[] inputs() => [Input("x", Values(66, [1, 12], 2f)), Input("ids", [3L], 1)];
        var fromFake = Floats(RunBytes(fake, inputs())["y"]);
        var fromQdq = Floats(RunBytes(qdq, inputs())["y"]);
        for (int i = 0; i < fromFake.Length; i++) Assert.Equal(fromFake[i], fromQdq[i], 1e-5f);
    }

    [Fact]
    public void AModelWithNothingToQuantize_SaysWhy()
    {
        // Integer weights read by ConvInteger (as ONNX Runtime's dynamic quantizer writes them).
        var quantized = TestModels.Graph("quantized",
            [TestModels.Node("ConvInteger", ["x", "w_int", "x_zero", "w_zero"], ["c"], "conv_int"), TestModels.Node("Cast", ["c"], ["f"], "to_float", "", TestModels.Int("to", 1)),
             TestModels.Node("Mul", ["f", "scale"], ["y"], "rescale")],
            [TestModels.Value("x", OnnxDataType.UInt8, 1, 2, 4, 4)], [TestModels.Value("y", OnnxDataType.Float)],
            TestModels.Raw("w_int", OnnxDataType.UInt8, [3, 2, 1, 1], [1, 2, 3, 4, 5, 6]), TestModels.Raw("x_zero", OnnxDataType.UInt8, [], [0]),
            TestModels.Raw("w_zero", OnnxDataType.UInt8, [], [3]), TestModels.Floats("scale", [], [0.5f]));
        Assert.Equal("no float weights: the model is already quantized (integer weights read by ConvInteger 'conv_int')", Survey(quantized).NothingToQuantize);

        // Float constants, none read as a weight.
        var elementwise = TestModels.Graph("elementwise",
            [TestModels.Node("Mul", ["x", "gain"], ["m"], "gain_mul"), TestModels.Node("Add", ["m", "offset"], ["y"], "offset_add")],
            [TestModels.Value("x", OnnxDataType.Float, 4, 4)], [TestModels.Value("y", OnnxDataType.Float, 4, 4)],
            TestModels.Floats("gain", [4, 4], new float[16]), TestModels.Floats("offset", [4], new float[4]));
        Assert.Equal("no weight read by Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN (its 2 float tensors are read by Mul, Add)", Survey(elementwise).NothingToQuantize);

        // No constants at all.
        var bare = TestModels.Graph("bare", [TestModels.Node("Relu", ["x"], ["y"], "relu")], [TestModels.Value("x", OnnxDataType.Float, 4)], [TestModels.Value("y", OnnxDataType.Float, 4)]);
        Assert.Equal("no float weights: the model holds no float16, bfloat16, float32 or float64 constant tensor", Survey(bare).NothingToQuantize);

        // A weight whose channels are lost on the way is not quantizable by default either, and the reason says so.
        var reshaped = TestModels.Graph("reshaped",
            [TestModels.Node("Reshape", ["w", "shape"], ["w2"], "reshape"), TestModels.Node("MatMul", ["x", "w2"], ["y"], "mm")],
            [TestModels.Value("x", OnnxDataType.Float, 1, 4)], [TestModels.Value("y", OnnxDataType.Float, 1, 3)],
            TestModels.Floats("w", [3, 4], new float[12]), TestModels.Raw("shape", OnnxDataType.Int64, [2], MemoryMarshal.AsBytes(new long[] { 4, 3 }.AsSpan()).ToArray()));
        Assert.Equal("no weight whose channels can be followed: 'w': it is the weight of MatMul 'mm' (through Reshape 'reshape'), but Reshape 'reshape' reshapes [3, 4] to [4, 3], which mixes its channels with other axes",
            Survey(reshaped).NothingToQuantize);

        // A MatMul whose output channels are an axis an Unsqueeze inserted: no channel of the weight is one of them.
        var inserted = TestModels.Graph("inserted",
            [TestModels.Node("Unsqueeze", ["v", "axes"], ["v2"], "unsqueeze"), TestModels.Node("MatMul", ["x", "v2"], ["y"], "mm")],
            [TestModels.Value("x", OnnxDataType.Float, 1, 4)], [TestModels.Value("y", OnnxDataType.Float, 1, 1)],
            TestModels.Floats("v", [4], new float[4]), TestModels.Raw("axes", OnnxDataType.Int64, [1], MemoryMarshal.AsBytes(new long[] { 1 }.AsSpan()).ToArray()));
        Assert.Equal("no weight whose channels can be followed: 'v': it is the weight of MatMul 'mm' (through Unsqueeze 'unsqueeze'), but the output channels of MatMul 'mm' (axis 1 of what it reads) are an axis the chain inserted",
            Survey(inserted).NothingToQuantize);

        Assert.Null(OnnxWeights.Survey(OnnxModel.Load(FixturePath("constant_cnn"))).NothingToQuantize);
    }

    [Fact]
    public void ChannelAxes_FollowTransposeUnsqueezeAndReshape_IntoSubgraphs()
    {
        // A weight of the main graph [5, 2, 3] read inside an If branch through Transpose (perm [1, 2, 0]: [2, 3, 5]),
        // Unsqueeze (axes [0]: [1, 2, 3, 5]) and a Reshape to [6, -1] that merges the axes before the channels: the
        // MatMul's output channels (its last axis, 5) are axis 0 of the weight.
        var branch = TestModels.Graph("then",
            [TestModels.Node("Transpose", ["w"], ["wt"], "transpose", "", new AttributeProto { Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 2, 0 } }),
             TestModels.Node("Unsqueeze", ["wt", "axes"], ["wu"], "unsqueeze"),
             TestModels.Node("Reshape", ["wu", "shape"], ["w2"], "reshape"),
             TestModels.Node("MatMul", ["x", "w2"], ["y_then"], "mm")],
            [], [TestModels.Value("y_then", OnnxDataType.Float, 1, 5)]);
        var otherBranch = TestModels.Graph("else", [TestModels.Node("Identity", ["x5"], ["y_else"], "id")], [], [TestModels.Value("y_else", OnnxDataType.Float, 1, 5)]);
        var main = TestModels.Graph("main",
            [TestModels.Node("If", ["cond"], ["y"], "if", "", TestModels.Graph("then_branch", branch), TestModels.Graph("else_branch", otherBranch))],
            [TestModels.Value("x", OnnxDataType.Float, 1, 6), TestModels.Value("x5", OnnxDataType.Float, 1, 5), TestModels.Value("cond", OnnxDataType.Bool)],
            [TestModels.Value("y", OnnxDataType.Float, 1, 5)],
            TestModels.Floats("w", [5, 2, 3], new float[30]),
            TestModels.Raw("axes", OnnxDataType.Int64, [1], MemoryMarshal.AsBytes(new long[] { 0 }.AsSpan()).ToArray()),
            TestModels.Raw("shape", OnnxDataType.Int64, [2], MemoryMarshal.AsBytes(new long[] { 6, -1 }.AsSpan()).ToArray()));
        var role = Survey(main).Tensors.Single(t => t.Tensor.Name == "w");
        Assert.Equal("the weight of MatMul 'mm' (through Transpose 'transpose', Unsqueeze 'unsqueeze', Reshape 'reshape')", role.Description);
        Assert.Equal(0, role.ChannelAxis);
        var reader = Assert.Single(role.Readers);
        Assert.Equal("then", reader.Reader.Graph.Proto.Name);

        // Without the Transpose the last axis of [1, 5, 2, 3] reshaped to [6, -1] = [6, 5] holds no axis of the weight.
        branch.Node.RemoveAt(0);
        branch.Node[0].Input[0] = "w";
        role = Survey(main).Tensors.Single(t => t.Tensor.Name == "w");
        Assert.Null(role.ChannelAxis);
        Assert.Equal("it is the weight of MatMul 'mm' (through Unsqueeze 'unsqueeze', Reshape 'reshape'), but Reshape 'reshape' reshapes [1, 5, 2, 3] to [6, 5], which mixes its channels with other axes",
            role.Description);
    }

    // Helpers ------------------------------------------------------------------------------------------------------------

    private static OnnxWeightSurvey Survey(GraphProto graph) => OnnxWeights.Survey(OnnxModel.Parse(TestModels.Model(graph, 13).ToByteArray(), graph.Name + ".onnx"));

    private static NpyArray Values(int seed, long[] shape, float scale) => new(shape, TestModels.Seeded(seed, (int)shape.Aggregate(1L, (a, b) => a * b), scale));

    private static float[] Floats(byte[] bytes) => MemoryMarshal.Cast<byte, float>(bytes).ToArray();

    /// <param name="ConstantNode">The name of the Constant node that holds it; null for an initializer.</param>
    private sealed record Held(OnnxDataType Type, long[] Dims, byte[] Bytes, string? ConstantNode)
    {
        public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);
    }

    /// <summary>Every constant tensor of a model (initializers and Constant values, every graph) by the name the graph reads.</summary>
    private static Dictionary<string, Held> ConstantTensors(string path)
    {
        var model = OnnxModel.Load(path);
        return model.ConstantTensors().ToDictionary(t => t.Name, t => new Held(t.DataType, t.Dims, model.ReadElementBytes(t.Tensor, t.Graph).ToArray(), t.Node?.Name));
    }

    /// <summary>Each graph's node op types, in order (the main graph, then subgraphs depth first).</summary>
    private static List<string> NodeTypes(string path) =>
        OnnxModel.Load(path).Graphs().Select(g => $"{g.Path}: {string.Join(" ", g.Proto.Node.Select(n => n.OpType))}").ToList();

    /// <summary>What the .npy path writes for these values with this quantizer, in the values' own type (bfloat16: float32 rounded to nearest even).</summary>
    private static byte[] NpyPath(Held tensor, QuantizerSpec spec)
    {
        long[] shape = tensor.Dims;
        var array = tensor.Type switch
        {
            OnnxDataType.Float => new NpyArray(shape, MemoryMarshal.Cast<byte, float>(tensor.Bytes).ToArray()),
            OnnxDataType.Double => new NpyArray(shape, MemoryMarshal.Cast<byte, double>(tensor.Bytes).ToArray()),
            OnnxDataType.Float16 => new NpyArray(shape, MemoryMarshal.Cast<byte, Half>(tensor.Bytes).ToArray()),
            _ => new NpyArray(shape, MemoryMarshal.Cast<byte, ushort>(tensor.Bytes).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray()),
        };
        using var output = new MemoryStream();
        NpyQuantizer.QuantizeArray(array, "values", output, "out", InferableQuantizer.Create(spec));
        output.Position = 0;
        return NpyArray.Read(output, "out").Data switch
        {
            float[] f when tensor.Type == OnnxDataType.BFloat16 => MemoryMarshal.AsBytes(f.Select(ToBFloat16).ToArray().AsSpan()).ToArray(),
            float[] f => MemoryMarshal.AsBytes(f.AsSpan()).ToArray(),
            double[] d => MemoryMarshal.AsBytes(d.AsSpan()).ToArray(),
            Half[] h => MemoryMarshal.AsBytes(h.AsSpan()).ToArray(),
            var other => throw new InvalidOperationException(other.GetType().Name),
        };
    }

    private static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>
    /// Runs the nodes that compute <paramref name="weight"/> from the qdq format's initializers — in whichever graph they
    /// are — as a model of their own whose output is the weight, and returns its bytes.
    /// </summary>
    private static byte[] RunDequantization(ModelProto qdq, string weight, OnnxDataType type)
    {
        var graph = AllGraphs(qdq.Graph).Single(g => g.Node.Any(n => n.Output.Contains(weight)));
        var nodes = new List<NodeProto>();
        var initializers = new List<TensorProto>();
        Collect(weight);
        var extracted = new GraphProto { Name = "dequantize_" + weight };
        extracted.Node.AddRange(nodes);
        extracted.Initializer.AddRange(initializers);
        extracted.Output.Add(new ValueInfoProto { Name = weight, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } });
        var model = new ModelProto { IrVersion = qdq.IrVersion, Graph = extracted };
        model.OpsetImport.AddRange(qdq.OpsetImport);
        return RunBytes(model.ToByteArray(), [])[weight];

        void Collect(string name)
        {
            var producer = graph.Node.FirstOrDefault(n => n.Output.Contains(name));
            if (producer is null)
            {
                if (!initializers.Any(t => t.Name == name)) initializers.Add(graph.Initializer.Single(t => t.Name == name));
                return;
            }
            if (nodes.Contains(producer)) return;
            foreach (string input in producer.Input.Where(i => i.Length > 0)) Collect(input);
            nodes.Add(producer);
        }
    }

    private static IEnumerable<GraphProto> AllGraphs(GraphProto graph) =>
        new[] { graph }.Concat(graph.Node.SelectMany(n => n.Attribute).Where(a => a.G is not null).SelectMany(a => AllGraphs(a.G)));

    private static List<T> Run<T>(Func<JobHost<T>, object> run, out List<QuantShellException> errors)
    {
        var host = new Collector<T>();
        run(host);
        errors = host.Errors;
        return host.Results;
    }

    private static List<QuantizationResult> Quantize(QuantizeRequest request, string input)
    {
        var results = Run<QuantizationReport>(host => QuantizeJob.Run(request with { Force = true }, [JobInput.File(input)], host), out var errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => e.Message)));
        return results.SelectMany(r => r.TensorResults()).ToList();
    }

    private sealed class Collector<T> : JobHost<T>
    {
        public List<T> Results { get; } = [];
        public List<QuantShellException> Errors { get; } = [];
        public override void WriteResult(T result) => Results.Add(result);
        public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
    }
}
