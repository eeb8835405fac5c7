using System.Runtime.InteropServices;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Runtime;
using QuantShell.Core.Selection;
using static QuantShell.Onnx.Tests.TestModels;
using QuantShell.Core.Jobs.Calibrate;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Rules;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>
/// Calibration end to end on real models in ONNX Runtime: calibrate writes the rules, quantize puts the activation
/// quantizers on the graph, ONNX Runtime runs the result (with its integer kernels where it fuses them).
/// </summary>
public sealed class CalibrationTests
{
    [Fact]
    public void SmallCnn_CalibrateThenQuantizeQdq_RunsInOnnxRuntimeCloseToTheFloatModel()
    {
        using var temp = new TempDirectory();
        string data = Samples.NpyFolder(temp, "data", 6, [1, 3, 8, 8]);
        string rules = temp.File("rules.json");
        var host = new CollectingHost<CalibrationResult>();
        var summary = Fixtures.Calibrate(Fixtures.SmallCnn, data, rules, host);

        // Every value a Conv, Gemm or MatMul reads as data (the If branch's outer value m5 included) and every output of one
        // (the Conv's after its Relu: r; t2, which a Mul reads); weights are not activations, nor the branch's output.
        Assert.Equal(["x", "r", "f", "g", "p", "h", "t1", "t2", "m5"], host.Results.Select(r => r.TensorName));
        Assert.All(host.Results, r => Assert.False(r.Skipped));
        Assert.Equal(9, summary.Activations);
        Assert.Equal("node 'conv' (Conv) of graph 'small_cnn'", host.Results[1].Producer);
        Assert.Empty(host.Results[1].Readers);
        Assert.Equal(["node 'fc' (Gemm) of graph 'small_cnn'"], host.Results[2].Readers);
        Assert.Equal(6, summary.Samples);
        Assert.Equal(6, summary.WeightRules);
        Assert.Equal(6, host.Results[0].Samples);
        Assert.Equal(6 * 3 * 8 * 8, host.Results[0].Count);

        var read = QuantizationRules.Read(rules);
        Assert.Equal(["conv.weight", "fc.weight", "proj.weight", "head.weight", "tied", "sub.weight"], read.Rules.Select(r => r.Match));
        Assert.Equal(host.Results.Select(r => r.TensorName), read.Activations.Select(a => a.Tensor));
        Assert.All(read.Activations, a =>
        {
            Assert.Equal(QuantizationTarget.Activation, a.Quantizer.Target);
            Assert.Equal(QuantizationMethod.Pot, a.Quantizer.Method);
            Assert.True(a.Quantizer.IsComplete);
        });
        // Signedness from the data, as MCT: x (normal samples) is signed, r (after ReLU) unsigned.
        Assert.True(read.Activations[0].Quantizer.IsSigned);
        Assert.False(read.Activations[1].Quantizer.IsSigned);

        string output = temp.File("small_cnn.qdq.onnx");
        var results = Fixtures.Quantize(Fixtures.SmallCnn, rules, output, OutputFormat.Qdq);
        var activations = results.Where(r => r.Activation).ToList();
        Assert.Equal(9, activations.Count);
        Assert.All(activations, r => Assert.Equal(OutputFormat.Qdq, r.Format));
        Assert.Equal(6, results.Count(r => !r.Activation && !r.Skipped));

        var quantized = OnnxModel.Load(output);
        var graph = quantized.Proto.Graph;
        Assert.Equal(9, graph.Node.Count(n => n.OpType == "QuantizeLinear"));
        // Every reader of an activation reads its dequantized value: the Conv reads x through QuantizeLinear/DequantizeLinear.
        var conv = graph.Node.Single(n => n.OpType == "Conv");
        Assert.Equal("DequantizeLinear", graph.Node.Single(n => n.Output.Contains(conv.Input[0])).OpType);

        var sample = Fixtures.Floats("x", [1, 3, 8, 8], Samples.Normal(99, 192));
        var reference = Fixtures.AsFloats(Fixtures.Run(Fixtures.SmallCnn, [sample], optimization: ModelOptimization.All)[0]);
        var candidate = Fixtures.AsFloats(Fixtures.Run(output, [sample], optimization: ModelOptimization.All)[0]);
        double signal = reference.Sum(v => (double)v * v), noise = reference.Zip(candidate, (r, c) => (double)(r - c) * (r - c)).Sum();
        double sqnr = 10 * Math.Log10(signal / noise);
        Assert.InRange(sqnr, 20, 80); // 8-bit weights and activations: close, and not equal
    }

    [Fact]
    public void Statistics_AreTheSamplesOwn_AndNoClippingCoversThem()
    {
        using var temp = new TempDirectory();
        string data = Samples.NpyFolder(temp, "data", 5, [1, 3, 8, 8], seed: 40);
        var host = new CollectingHost<CalibrationResult>();
        CalibrateJob.Run(new CalibrateRequest
        {
            ModelPath = Fixtures.SmallCnn, DataPath = data, OutputPath = temp.File("rules.json"), Runner = Fixtures.Runner, ErrorMethod = ErrorMethod.NoClipping,
        }, host);
        var values = Enumerable.Range(0, 5).SelectMany(i => Samples.Normal(40 + i, 192)).ToArray();
        var x = host.Results[0];
        Assert.Equal((double)values.Min(), x.Min);
        Assert.Equal((double)values.Max(), x.Max);
        double maxAbs = values.Max(v => Math.Abs((double)v));
        double expected = Math.Pow(2, Math.Ceiling(Math.Log2(maxAbs)));
        Assert.Equal([expected], x.Quantizer!.Threshold!);
        Assert.Equal((float)(expected / 128), x.Scale);
        Assert.True(x.QdqExact);
        Assert.Equal("int8", x.QdqType);
        Assert.Equal([5, 5], host.Progress.Where(p => p.Completed).Select(p => p.Done).Concat(host.Progress.Where(p => p.Completed).Select(p => p.Known)));
        Assert.Equal(Enumerable.Range(0, 5), host.Progress.Where(p => !p.Completed).Select(p => p.Done));
    }

    /// <summary>
    /// x [1,4], flag: If(flag) then MatMul(x, w1) -> Relu -> MatMul(·, w2) else MatMul(x, w3) -> y [1,3]. The then branch's
    /// Relu output is an activation of a subgraph; the else branch's never runs when every sample says true.
    /// </summary>
    private static Core.Formats.Onnx.Protobuf.ModelProto BranchModel()
    {
        var thenGraph = Graph("then_branch",
            [Node("MatMul", ["x", "w1"], ["then_hidden"], "then_matmul1"), Node("Relu", ["then_hidden"], ["then_relu"], "then_relu"), Node("MatMul", ["then_relu", "w2"], ["then_y"], "then_matmul2")],
            [], [Value("then_y", OnnxDataType.Float, 1, 3)],
            Floats("w1", [4, 5], Samples.Normal(1, 20)), Floats("w2", [5, 3], Samples.Normal(2, 15)));
        var elseGraph = Graph("else_branch", [Node("MatMul", ["x", "w3"], ["else_y"], "else_matmul")], [], [Value("else_y", OnnxDataType.Float, 1, 3)],
            Floats("w3", [4, 3], Samples.Normal(3, 12)));
        var main = Graph("branch", [Node("If", ["flag"], ["y"], "branch", "", Graph("then_branch", thenGraph), Graph("else_branch", elseGraph))],
            [Value("x", OnnxDataType.Float, 1, 4), Value("flag", OnnxDataType.Bool)], [Value("y", OnnxDataType.Float, 1, 3)]);
        return Model(main, 13);
    }

    private static OutputTensor Flag(bool value) => new("flag", new DType(DTypeKind.Bool, 1, false), [], stream => stream.WriteByte(value ? (byte)1 : (byte)0));

    [Fact]
    public void IfBranch_ActivationsObservedThroughTheIf_QuantizedInsideTheBranch()
    {
        using var temp = new TempDirectory();
        string model = temp.File("branch.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(BranchModel()));
        string data = temp.File("data");
        Directory.CreateDirectory(data);
        for (int i = 0; i < 4; i++) Samples.Npz(Path.Combine(data, $"s{i}.npz"), Samples.Tensor("x", [1, 4], Samples.Normal(10 + i, 4)), Flag(true));
        string rules = temp.File("rules.json");
        var host = new CollectingHost<CalibrationResult>();
        Fixtures.Calibrate(model, data, rules, host);

        var byName = host.Results.ToDictionary(r => r.TensorName);
        Assert.Equal(["x", "then_relu"], host.Results.Where(r => !r.Skipped).Select(r => r.TensorName));
        Assert.Equal("branch/branch.then_branch", byName["then_relu"].Graph);
        Assert.Equal(4, byName["then_relu"].Samples);
        Assert.True(byName["then_relu"].Min >= 0);
        // The else branch reads x too, but the value is the main graph's: one activation. Nothing in it was skipped.
        Assert.Equal(2, host.Results.Count);

        string output = temp.File("branch.qdq.onnx");
        Fixtures.Quantize(model, rules, output, OutputFormat.Qdq);
        var quantized = OnnxModel.Load(output);
        var thenBranch = quantized.Proto.Graph.Node.Single(n => n.OpType == "If").Attribute.Single(a => a.Name == "then_branch").G;
        Assert.Contains(thenBranch.Node, n => n.OpType == "QuantizeLinear" && n.Input[0] == "then_relu");
        Assert.StartsWith("then_relu/dequantized", thenBranch.Node.Single(n => n.Name == "then_matmul2").Input[0]);
        foreach (bool flag in new[] { true, false })
        {
            var inputs = new[] { Fixtures.Floats("x", [1, 4], Samples.Normal(77, 4)), new ModelTensor("flag", OnnxDataType.Bool, [], [flag ? (byte)1 : (byte)0]) };
            var reference = Fixtures.AsFloats(Fixtures.Run(model, inputs)[0]);
            var candidate = Fixtures.AsFloats(Fixtures.Run(output, inputs)[0]);
            Assert.Equal(3, candidate.Length);
            Assert.NotEqual(reference, candidate);
            Assert.All(reference.Zip(candidate), p => Assert.True(Math.Abs(p.First - p.Second) < 0.2 * (1 + Math.Abs(p.First)), $"{p.First} vs {p.Second}"));
        }
    }

    /// <summary>
    /// Nodes out of topological order, as float16 converters leave them (the input's Cast appended last): the values
    /// downstream of it are still activations, found, calibrated, quantized, and ONNX Runtime runs the result.
    /// </summary>
    [Fact]
    public void NodesOutOfOrder_ActivationsBehindALaterNode_AreFoundAndQuantized()
    {
        using var temp = new TempDirectory();
        string model = temp.File("unsorted.onnx");
        var graph = Graph("unsorted",
            [Node("MatMul", ["xc", "w1"], ["h"], "matmul1"), Node("Relu", ["h"], ["r"], "relu"), Node("MatMul", ["r", "w2"], ["y"], "matmul2"),
             Node("Identity", ["x"], ["xc"], "input_cast")],
            [Value("x", OnnxDataType.Float, 1, 4)], [Value("y", OnnxDataType.Float, 1, 3)],
            Floats("w1", [4, 5], Samples.Normal(21, 20)), Floats("w2", [5, 3], Samples.Normal(22, 15)));
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(Model(graph, 13)));
        string data = Samples.NpyFolder(temp, "data", 3, [1, 4], seed: 23);
        string rules = temp.File("rules.json");
        var host = new CollectingHost<CalibrationResult>();
        var summary = Fixtures.Calibrate(model, data, rules, host);

        Assert.Equal(["xc", "r"], host.Results.Select(r => r.TensorName));
        Assert.All(host.Results, r => Assert.Equal(3, r.Samples));
        Assert.Equal(2, summary.Activations);

        string output = temp.File("unsorted.qdq.onnx");
        Fixtures.Quantize(model, rules, output, OutputFormat.Qdq);
        Assert.Equal(2, OnnxModel.Load(output).Proto.Graph.Node.Count(n => n.OpType == "QuantizeLinear"));
        var inputs = new[] { Fixtures.Floats("x", [1, 4], Samples.Normal(24, 4)) };
        var reference = Fixtures.AsFloats(Fixtures.Run(model, inputs)[0]);
        var candidate = Fixtures.AsFloats(Fixtures.Run(output, inputs)[0]);
        Assert.NotEqual(reference, candidate);
        Assert.All(reference.Zip(candidate), p => Assert.True(Math.Abs(p.First - p.Second) < 0.2 * (1 + Math.Abs(p.First)), $"{p.First} vs {p.Second}"));
    }

    /// <summary>
    /// A float16 network behind a float32 interface (x -> Cast -> MatMul -> Relu -> MatMul -> Cast -> y, float16 weights):
    /// its activations are float16; they are calibrated, and quantized through a Cast to float32 and back, in both formats.
    /// </summary>
    [Theory]
    [InlineData(OutputFormat.Qdq)]
    [InlineData(OutputFormat.Fake)]
    public void Float16Activations_AreCalibratedAndQuantizedInFloat32_AndTheModelRuns(OutputFormat format)
    {
        using var temp = new TempDirectory();
        string model = temp.File("half.onnx");
        static Core.Formats.Onnx.Protobuf.TensorProto Halves(string name, long[] dims, float[] values) => new()
        {
            Name = name, DataType = (int)OnnxDataType.Float16, Dims = { dims },
            RawData = Google.Protobuf.ByteString.CopyFrom(values.SelectMany(v => BitConverter.GetBytes((Half)v)).ToArray()),
        };
        var graph = Graph("half",
            [Node("Cast", ["x"], ["xh"], "to_half", "", Int("to", (long)OnnxDataType.Float16)), Node("MatMul", ["xh", "w1"], ["h"], "matmul1"),
             Node("Relu", ["h"], ["r"], "relu"), Node("MatMul", ["r", "w2"], ["yh"], "matmul2"), Node("Cast", ["yh"], ["y"], "to_float", "", Int("to", (long)OnnxDataType.Float))],
            [Value("x", OnnxDataType.Float, 1, 4)], [Value("y", OnnxDataType.Float, 1, 3)],
            Halves("w1", [4, 5], Samples.Normal(31, 20)), Halves("w2", [5, 3], Samples.Normal(32, 15)));
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(Model(graph, 13)));
        string data = Samples.NpyFolder(temp, "data", 3, [1, 4], seed: 33);
        string rules = temp.File("rules.json");
        var host = new CollectingHost<CalibrationResult>();
        Fixtures.Calibrate(model, data, rules, host);
        // The second MatMul's output too: the graph's output is the Cast of it.
        Assert.Equal(["xh", "r", "yh"], host.Results.Select(r => r.TensorName));

        string output = temp.File("half.q.onnx");
        var results = Fixtures.Quantize(model, rules, output, format);
        Assert.All(results.Where(r => r.Activation), r => Assert.Equal("float16", r.DType));
        var nodes = OnnxModel.Load(output).Proto.Graph.Node;
        // Each activation: Cast to float32, the quantizer's nodes, Cast back to float16; the readers read the float16 result.
        Assert.Equal(3, nodes.Count(n => n.Name.EndsWith("/CastToFloat32", StringComparison.Ordinal)));
        Assert.Equal(3, nodes.Count(n => n.Name.EndsWith("/CastBack", StringComparison.Ordinal) && n.Attribute.Single().I == (long)OnnxDataType.Float16));
        Assert.Equal(format == OutputFormat.Qdq ? 3 : 0, nodes.Count(n => n.OpType == "QuantizeLinear"));
        var matmul2 = nodes.Single(n => n.Name == "matmul2");
        Assert.Equal("CastBack", nodes.Single(n => n.Output.Contains(matmul2.Input[0])).Name.Split('/')[^1]);

        var x = Samples.Normal(34, 4);
        var reference = Fixtures.AsFloats(Fixtures.Run(model, [Fixtures.Floats("x", [1, 4], x)])[0]);
        var candidate = Fixtures.AsFloats(Fixtures.Run(output, [Fixtures.Floats("x", [1, 4], x)])[0]);
        Assert.NotEqual(reference, candidate);
        Assert.All(reference.Zip(candidate), p => Assert.True(Math.Abs(p.First - p.Second) < 0.2 * (1 + Math.Abs(p.First)), $"{p.First} vs {p.Second}"));
    }

    [Fact]
    public void SubgraphNeverRun_IsSkippedWithItsReason_AndLeftOutOfTheRules()
    {
        using var temp = new TempDirectory();
        var proto = BranchModel();
        // The else branch gets a Relu before its MatMul, so that it has an activation of its own.
        var elseGraph = proto.Graph.Node[0].Attribute.Single(a => a.Name == "else_branch").G;
        elseGraph.Node.Insert(0, Node("Relu", ["x"], ["else_relu"], "else_relu"));
        elseGraph.Node[1].Input[0] = "else_relu";
        string model = temp.File("branch.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string data = temp.File("data");
        Directory.CreateDirectory(data);
        Samples.Npz(Path.Combine(data, "s0.npz"), Samples.Tensor("x", [1, 4], Samples.Normal(5, 4)), Flag(true));
        var host = new CollectingHost<CalibrationResult>();
        var summary = Fixtures.Calibrate(model, data, temp.File("rules.json"), host);
        var skipped = host.Results.Single(r => r.Skipped);
        Assert.Equal("else_relu", skipped.TensorName);
        Assert.Contains("no sample produced a value", skipped.SkipReason);
        Assert.Equal(1, summary.Skipped);
        Assert.DoesNotContain(QuantizationRules.Read(temp.File("rules.json")).Activations, a => a.Tensor == "else_relu");
    }

    [Fact]
    public void LoopBody_ActivationsObservedAsScanOutputs_OverEveryIteration()
    {
        using var temp = new TempDirectory();
        // x [1,4] -> Loop 3 times { state -> MatMul(w) -> Relu -> state } -> y: the body's MatMul reads its carried state.
        var body = Graph("body",
            [Node("Identity", ["cond_in"], ["cond_out"], "cond"), Node("MatMul", ["state", "w"], ["product"], "body_matmul"), Node("Relu", ["product"], ["next"], "body_relu")],
            [Value("iteration", OnnxDataType.Int64), Value("cond_in", OnnxDataType.Bool), Value("state", OnnxDataType.Float, 1, 4)],
            [Value("cond_out", OnnxDataType.Bool), Value("next", OnnxDataType.Float, 1, 4)]);
        var proto = Model(Graph("loop", [Node("Loop", ["trips", "", "x"], ["y"], "loop", "", Graph("body", body))],
            [Value("x", OnnxDataType.Float, 1, 4)], [Value("y", OnnxDataType.Float, 1, 4)],
            Floats("w", [4, 4], Samples.Normal(3, 16, scale: 0.8f)), Raw("trips", OnnxDataType.Int64, [], BitConverter.GetBytes(3L))), 13);
        string model = temp.File("loop.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string data = temp.File("data");
        Directory.CreateDirectory(data);
        for (int i = 0; i < 2; i++) Samples.Npy(Path.Combine(data, $"s{i}.npy"), [1, 4], Samples.Normal(30 + i, 4));
        var host = new CollectingHost<CalibrationResult>();
        Fixtures.Calibrate(model, data, temp.File("rules.json"), host);
        var state = Assert.Single(host.Results, r => r.TensorName == "state");
        Assert.Equal("loop/loop.body", state.Graph);
        // Three iterations of [1, 4] in each of 2 samples, stacked by the Loop: 24 values.
        Assert.Equal(24, state.Count);
        Assert.Equal([3L, 1, 4], state.Shape!);
        // x is read by the Loop, not by a quantizable op; the MatMul's output (after its Relu) is the body's output, the next
        // state: an output of its graph stays as it is.
        Assert.Equal(["state"], host.Results.Select(r => r.TensorName));
        string output = temp.File("loop.qdq.onnx");
        Fixtures.Quantize(model, temp.File("rules.json"), output, OutputFormat.Qdq);
        var input = Fixtures.Floats("x", [1, 4], Samples.Normal(31, 4));
        var reference = Fixtures.AsFloats(Fixtures.Run(model, [input])[0]);
        var candidate = Fixtures.AsFloats(Fixtures.Run(output, [input], optimization: ModelOptimization.All)[0]);
        Assert.All(reference.Zip(candidate), p => Assert.True(Math.Abs(p.First - p.Second) < 0.1 * (1 + Math.Abs(p.First)), $"{p.First} vs {p.Second}"));
    }
}
