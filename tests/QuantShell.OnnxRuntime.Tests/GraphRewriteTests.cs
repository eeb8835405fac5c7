using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Runtime;
using static QuantShell.Onnx.Tests.TestModels;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>
/// The graph changes quantizing activations needs beyond inserting nodes: raising an old model's opset (the ops whose
/// attributes became inputs rewritten, the outputs unchanged in ONNX Runtime), and keeping clear of ONNX Runtime's
/// transpose-optimizer abort.
/// </summary>
public sealed class GraphRewriteTests
{
    private static AttributeProto Ints(string name, params long[] values) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { values } };

    /// <summary>
    /// Opset 9: x [1,4,6] -> Slice (attributes) -> Clip (attributes) -> Pad (attributes) -> Unsqueeze -> Squeeze -> ReduceMean
    /// (axes attributes) -> Dropout -> MatMul -> Softmax (axis -1) -> y. A 16-bit activation quantizer needs opset 11 in the
    /// fake format (Round, Clip with inputs) and 21 in the qdq format (16-bit QuantizeLinear): the ops that changed on the way
    /// are rewritten.
    /// </summary>
    private static ModelProto OldModel() =>
        Model(Graph("old",
        [
            Node("Slice", ["x"], ["sliced"], "slice", "", Ints("starts", 0, 1), Ints("ends", 1, 5), Ints("axes", 0, 2)),
            Node("Clip", ["sliced"], ["clipped"], "clip", "", Float("min", -0.5f), Float("max", 0.75f)),
            Node("Pad", ["clipped"], ["padded"], "pad", "", Ints("pads", 0, 0, 1, 0, 0, 1), Float("value", 0.25f)),
            Node("Unsqueeze", ["padded"], ["unsqueezed"], "unsqueeze", "", Ints("axes", 0)),
            Node("Squeeze", ["unsqueezed"], ["squeezed"], "squeeze", "", Ints("axes", 0)),
            Node("ReduceMean", ["squeezed"], ["mean"], "mean", "", Ints("axes", 1), Int("keepdims", 0)),
            Node("Dropout", ["mean"], ["dropped"], "dropout"),
            Node("MatMul", ["dropped", "w"], ["logits"], "matmul"),
            Node("Softmax", ["logits"], ["y"], "softmax", "", Int("axis", -1)),
        ],
        [Value("x", OnnxDataType.Float, 1, 4, 6)], [Value("y", OnnxDataType.Float, 1, 3)], Floats("w", [6, 3], Samples.Normal(5, 18))), 9);

    [Theory]
    [InlineData(OutputFormat.Fake)]
    [InlineData(OutputFormat.Qdq)]
    public void OldOpsetModel_RaisedOnTheWay_OtherOpsComputeAsBefore(OutputFormat form)
    {
        using var temp = new TempDirectory();
        string model = temp.File("old.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(OldModel()));
        string rules = temp.File("rules.json");
        // A quantizer so fine (16 bits over a range that holds every value) that it changes nothing but the opset.
        File.WriteAllText(rules, """{"rules": [], "activations": [{"tensor": "logits", "quantizer": {"target": "activation", "method": "pot", "numBits": 16, "threshold": [64], "signed": true}}]}""");
        string output = temp.File("new.onnx");
        Fixtures.Quantize(model, rules, output, form);
        var raised = OnnxModel.Load(output);
        Assert.Equal(form == OutputFormat.Qdq ? 21 : 11, raised.DefaultOpset);
        var nodes = raised.Proto.Graph.Node;
        Assert.Equal(4, nodes.Single(n => n.Name == "slice").Input.Count);
        Assert.Equal(3, nodes.Single(n => n.Name == "clip").Input.Count);
        Assert.Equal(3, nodes.Single(n => n.Name == "pad").Input.Count);
        if (form == OutputFormat.Qdq)
        {
            // 16-bit QDQ needs opset 21: Dropout (12), Unsqueeze, Squeeze (13) and ReduceMean (18) change on the way too.
            Assert.Equal("Identity", nodes.Single(n => n.Name == "dropout").OpType);
            Assert.Equal(2, nodes.Single(n => n.Name == "unsqueeze").Input.Count);
            Assert.Equal(2, nodes.Single(n => n.Name == "mean").Input.Count);
        }
        var rewritten = form == OutputFormat.Qdq ? new[] { "slice", "clip", "pad", "unsqueeze", "squeeze", "mean" } : new[] { "slice", "clip", "pad" };
        Assert.All(nodes.Where(n => rewritten.Contains(n.Name)), n => Assert.DoesNotContain(n.Attribute, a => a.Name is "starts" or "min" or "pads" or "axes"));
        var input = Fixtures.Floats("x", [1, 4, 6], Samples.Normal(8, 24, scale: 2));
        var before = Fixtures.AsFloats(Fixtures.Run(model, [input])[0]);
        var after = Fixtures.AsFloats(Fixtures.Run(output, [input])[0]);
        Assert.Equal(3, before.Length);
        Assert.All(before.Zip(after), p => Assert.Equal(p.First, p.Second, 1e-4f));
    }

    [Fact]
    public void OpsetUpgrade_RefusesAnOpWhoseMeaningChanged_NothingWritten()
    {
        using var temp = new TempDirectory();
        var proto = OldModel();
        proto.Graph.Node.Single(n => n.Name == "softmax").Attribute.Clear(); // axis 1 of a rank-2 input: flattening, before 13
        string model = temp.File("old.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string rules = temp.File("rules.json");
        File.WriteAllText(rules, """{"rules": [], "activations": [{"tensor": "logits", "quantizer": {"target": "activation", "method": "pot", "numBits": 16, "threshold": [64], "signed": true}}]}""");
        var error = Assert.ThrowsAny<Core.Errors.QuantShellException>(() => Fixtures.Quantize(model, rules, temp.File("new.onnx"), OutputFormat.Qdq));
        Assert.Equal(Core.Errors.ErrorIds.OnnxOpsetUpgradeBlocked, error.ErrorId);
        Assert.Contains("'softmax' (Softmax)", error.Message);
        Assert.False(File.Exists(temp.File("new.onnx")));
    }

    [Fact]
    public void ActivationReadThroughATransposeBySubgraphs_IsQuantizedAfterTheTranspose_AndRuns()
    {
        using var temp = new TempDirectory();
        // x [1,4,6] -> Relu -> r -> Transpose -> If (both branches MatMul the transposed value): the LSTM input of silero VAD.
        var thenGraph = Graph("then_branch", [Node("MatMul", ["t", "w"], ["then_y"], "then_matmul")], [], [Value("then_y", OnnxDataType.Float, 6, 1, 2)]);
        var elseGraph = Graph("else_branch", [Node("Neg", ["t"], ["negated"], "neg"), Node("MatMul", ["negated", "w"], ["else_y"], "else_matmul")], [],
            [Value("else_y", OnnxDataType.Float, 6, 1, 2)]);
        var proto = Model(Graph("transpose",
            [
                Node("Relu", ["x"], ["r"], "relu"),
                Node("Transpose", ["r"], ["t"], "transpose", "", Ints("perm", 2, 0, 1)),
                Node("If", ["flag"], ["y"], "branch", "", Graph("then_branch", thenGraph), Graph("else_branch", elseGraph)),
            ],
            [Value("x", OnnxDataType.Float, 1, 4, 6), Value("flag", OnnxDataType.Bool)], [Value("y", OnnxDataType.Float, 6, 1, 2)], Floats("w", [4, 2], Samples.Normal(4, 8))), 13);
        string model = temp.File("transpose.onnx");
        File.WriteAllBytes(model, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        string rules = temp.File("rules.json");
        File.WriteAllText(rules, """{"rules": [], "activations": [{"tensor": "r", "quantizer": {"target": "activation", "method": "pot", "numBits": 8, "threshold": [4], "signed": false}}]}""");
        string qdq = temp.File("qdq.onnx"), fake = temp.File("fake.onnx");
        Fixtures.Quantize(model, rules, qdq, OutputFormat.Qdq);
        Fixtures.Quantize(model, rules, fake, OutputFormat.Fake);
        var nodes = OnnxModel.Load(qdq).Proto.Graph.Node;
        Assert.Equal("r", nodes.Single(n => n.Name == "transpose").Input[0]);
        Assert.Equal("t", nodes.Single(n => n.OpType == "QuantizeLinear").Input[0]);
        foreach (bool flag in new[] { true, false })
        {
            var inputs = new[] { Fixtures.Floats("x", [1, 4, 6], Samples.Normal(21, 24, scale: 3)), new ModelTensor("flag", OnnxDataType.Bool, [], [flag ? (byte)1 : (byte)0]) };
            var fromQdq = Fixtures.AsFloats(Fixtures.Run(qdq, inputs, optimization: ModelOptimization.All)[0]);
            var fromFake = Fixtures.AsFloats(Fixtures.Run(fake, inputs, optimization: ModelOptimization.None)[0]);
            Assert.Equal(12, fromQdq.Length);
            // The same quantized values (a power-of-two scale: QuantizeLinear is exact); the MatMul sums them in its own order.
            Assert.All(fromQdq.Zip(fromFake), p => Assert.Equal(p.Second, p.First, 1e-5f));
        }
    }
}
