using System.Runtime.InteropServices;
using Google.Protobuf;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Onnx.Tests;

/// <summary>
/// Quantizing the weights of an ONNX model on tests/fixtures/models/small_cnn.onnx, written once by
/// onnx's Python helpers (make_onnx_fixture.py): Conv, Gemm with transB 1 and 0, MatMul, an initializer two MatMuls share,
/// one in an If branch, and initializers that are not weights. The fake format's initializers equal the .npy path's output
/// on the same values; the qdq format runs in ONNX Runtime to the very same outputs; dequantizing it gives the fake format.
/// </summary>
public sealed class WeightQuantizationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string Fixture => Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx");

    /// <summary>The weights the graph names, with their readers' channel axes (docs/model-files.md).</summary>
    private static readonly Dictionary<string, int> Weights = new()
    {
        ["conv.weight"] = 0, ["fc.weight"] = 0, ["proj.weight"] = 1, ["head.weight"] = 1, ["tied"] = 1, ["sub.weight"] = 1,
    };

    private static readonly NpyArray Input = new([1, 3, 8, 8], TestModels.Seeded(41, 192, 2f));

    private string Copy(string name = "m.onnx")
    {
        string path = _temp.File(name);
        File.Copy(Fixture, path);
        return path;
    }

    private static List<T> Run<T>(Func<JobHost<T>, object> run, out List<QuantShellException> errors)
    {
        var host = new Collector<T>();
        run(host);
        errors = host.Errors;
        return host.Results;
    }

    private static List<QuantizationResult> Quantize(QuantizeRequest request, string input)
    {
        var results = Run<QuantizationReport>(host => QuantizeJob.Run(request, [JobInput.File(input)], host), out var errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors.Select(e => e.Message)));
        return results.SelectMany(r => r.TensorResults()).ToList();
    }

    private static Dictionary<string, byte[]> InitializerBytes(string path)
    {
        var model = OnnxModel.Load(path);
        return model.Initializers().ToDictionary(i => i.Name, i => model.ReadElementBytes(i.Tensor, i.Graph).ToArray());
    }

    /// <summary>What the .npy path writes for these values with this quantizer: the data bytes of its output.</summary>
    private static byte[] NpyPath(byte[] values, long[] shape, QuantizerSpec spec)
    {
        var array = new NpyArray(shape, MemoryMarshal.Cast<byte, float>(values).ToArray());
        using var output = new MemoryStream();
        NpyQuantizer.QuantizeArray(array, "values", output, "out", InferableQuantizer.Create(spec));
        output.Position = 0;
        return MemoryMarshal.AsBytes(((float[])NpyArray.Read(output, "out").Data).AsSpan()).ToArray();
    }

    private static float[] RunOrt(string path) => OnnxRuntimeRunner.RunFile(path, "x", Input);

    [Fact]
    public void Defaults_FindTheWeightsFromTheGraph_WithEachReadersChannelAxis_AndMatchTheNpyPath()
    {
        string input = Copy();
        string output = _temp.File("m.q.onnx");
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 6 }, OutputPath = output }, input);

        Assert.Equal(10, results.Count);
        var quantized = results.Where(r => !r.Skipped).ToDictionary(r => r.TensorName!, r => r);
        Assert.Equal(Weights.Keys.Order(), quantized.Keys.Order());
        foreach (var (name, axis) in Weights)
        {
            Assert.True(quantized[name].PerChannel, name);
            Assert.Equal(axis, quantized[name].ChannelAxis);
        }
        var skipped = results.Where(r => r.Skipped).ToDictionary(r => r.TensorName!, r => r.SkipReason!);
        Assert.Contains("not the weight of a Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN (read by Conv 'conv')", skipped["conv.bias"]);
        Assert.Contains("read by Mul 'scale'", skipped["scale_const"]);
        Assert.Contains("bool is not a floating type", skipped["cond"]);

        var before = InitializerBytes(input);
        var after = InitializerBytes(output);
        Assert.Equal(before.Keys, after.Keys);
        var shapes = OnnxModel.Load(input).Initializers().ToDictionary(i => i.Name, i => i.Dims);
        foreach (var (name, bytes) in before)
        {
            byte[] expected = quantized.TryGetValue(name, out var result) ? NpyPath(bytes, shapes[name], result.Quantizer!) : bytes;
            Assert.True(expected.AsSpan().SequenceEqual(after[name]), $"{name} differs");
            if (result is not null) Assert.False(bytes.AsSpan().SequenceEqual(after[name]), $"{name} was not changed");
        }
        // The graph itself is unchanged: same nodes, metadata kept.
        var original = OnnxModel.Load(input).Proto;
        var written = OnnxModel.Load(output).Proto;
        Assert.Equal(original.Graph.Node.Select(n => n.OpType), written.Graph.Node.Select(n => n.OpType));
        Assert.Equal(original.MetadataProps, written.MetadataProps);
        Assert.NotEqual(RunOrt(input), RunOrt(output));
    }

    [Fact]
    public void WeightsBehindIdentityNodes_AreWeights_InBothForms()
    {
        // PyTorch puts Identity nodes between a parameter and its readers when two names share it (tied weights): the
        // Conv reads "w" through one Identity, the MatMul reads "m" through two; "b" reaches only an Add through one.
        var conv = TestModels.Node("Conv", ["x", "w_alias", "bias"], ["c"], "conv");
        var nodes = new[]
        {
            TestModels.Node("Identity", ["w"], ["w_alias"], "alias_w"),
            conv,
            TestModels.Node("Flatten", ["c"], ["f"], "flatten"),
            TestModels.Node("Identity", ["m"], ["m_1"], "alias_m1"),
            TestModels.Node("Identity", ["m_1"], ["m_2"], "alias_m2"),
            TestModels.Node("MatMul", ["f", "m_2"], ["p"], "matmul"),
            TestModels.Node("Identity", ["b"], ["b_alias"], "alias_b"),
            TestModels.Node("Add", ["p", "b_alias"], ["y"], "add"),
        };
        var graph = TestModels.Graph("identities", nodes, [TestModels.Value("x", OnnxDataType.Float, 1, 3, 8, 8)], [TestModels.Value("y", OnnxDataType.Float, 1, 5)],
            TestModels.Floats("w", [4, 3, 3, 3], TestModels.Seeded(51, 108, 0.5f)),
            TestModels.Floats("bias", [4], TestModels.Seeded(52, 4, 0.1f)),
            TestModels.Floats("m", [144, 5], TestModels.Seeded(53, 720, 0.2f)),
            TestModels.Floats("b", [5], TestModels.Seeded(54, 5, 0.1f)));
        string input = _temp.File("identities.onnx");
        File.WriteAllBytes(input, TestModels.Model(graph, 13).ToByteArray());

        var arguments = new QuantizerArguments { Method = QuantizationMethod.Uniform, NumBits = 8 };
        string fake = _temp.File("identities.q.onnx");
        var results = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fake }, input).ToDictionary(r => r.TensorName!);
        Assert.Equal(4, results.Count);
        Assert.False(results["w"].Skipped);
        Assert.Equal(0, results["w"].ChannelAxis);
        Assert.False(results["m"].Skipped);
        Assert.Equal(1, results["m"].ChannelAxis);
        Assert.Contains("read by Add 'add'", results["b"].SkipReason);
        Assert.Contains("read by Conv 'conv'", results["bias"].SkipReason);

        string qdq = _temp.File("identities.qdq.onnx");
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = qdq, Format = OutputFormat.Qdq }, input);
        var x = new NpyArray([1, 3, 8, 8], TestModels.Seeded(55, 192, 2f));
        float[] fromFake = OnnxRuntimeRunner.RunFile(fake, "x", x);
        float[] fromQdq = OnnxRuntimeRunner.RunFile(qdq, "x", x);
        Assert.NotEqual(OnnxRuntimeRunner.RunFile(input, "x", x), fromFake);
        Assert.Equal(fromFake.Length, fromQdq.Length);
        for (int i = 0; i < fromFake.Length; i++) Assert.Equal(fromFake[i], fromQdq[i], 1e-5f);
    }

    public static TheoryData<string, QuantizerArguments, long> Forms() => new()
    {
        { "symmetric 8-bit per channel", new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 8 }, 13 },
        { "pot 4-bit per tensor", new QuantizerArguments { Method = QuantizationMethod.Pot, NumBits = 4, PerChannel = false }, 13 },
        { "uniform 8-bit per channel", new QuantizerArguments { Method = QuantizationMethod.Uniform, NumBits = 8 }, 13 },
        { "uniform 12-bit per channel (uint16 codes, opset 21)", new QuantizerArguments { Method = QuantizationMethod.Uniform, NumBits = 12 }, 21 },
        { "lut-pot 3-bit (table by k-means)", new QuantizerArguments { Method = QuantizationMethod.LutPot, NumBits = 3 }, 13 },
        { "lut-symmetric 4-bit, a given table", new QuantizerArguments { Method = QuantizationMethod.LutSymmetric, NumBits = 4, LutValues = [-100, -60, -30, -10, 0, 10, 30, 60, 100, 127, -128] }, 13 },
    };

    [Fact]
    public void Forms_HaveEveryCase() => Assert.Equal(6, Forms().Count);

    [Theory]
    [MemberData(nameof(Forms))]
    public void QdqAndFake_GiveTheSameOutputs_InOnnxRuntime_AndDequantizingQdqGivesFake(string what, QuantizerArguments arguments, long opset)
    {
        string input = Copy();
        string fake = _temp.File("m.q.onnx"), qdq = _temp.File("m.qdq.onnx"), back = _temp.File("back.onnx");
        var fakeResults = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fake }, input);
        var qdqResults = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = qdq, Format = OutputFormat.Qdq }, input);
        Assert.Equal(fakeResults.Select(r => r.Quantizer?.ToString()), qdqResults.Select(r => r.Quantizer?.ToString()));
        Assert.All(qdqResults.Where(r => !r.Skipped), r => Assert.Equal(OutputFormat.Qdq, r.Format));

        var model = OnnxModel.Load(qdq);
        Assert.Equal(opset, model.DefaultOpset);
        bool lut = arguments.Method is QuantizationMethod.LutPot or QuantizationMethod.LutSymmetric;
        var graphs = model.Graphs().ToList();
        var dequantizers = graphs.SelectMany(g => g.Proto.Node.Where(n => n.OpType == (lut ? "Gather" : "DequantizeLinear")).Select(n => (Graph: g, Node: n))).ToList();
        // One per weight: the shared one once, the If branch's in its own graph.
        Assert.Equal(6, dequantizers.Count);
        Assert.Single(dequantizers, d => !d.Graph.IsMain);
        foreach (string weight in Weights.Keys)
        {
            Assert.DoesNotContain(graphs, g => g.FindInitializer(weight) is not null);
            var producer = graphs.Select(g => g.Producer(weight)).Single(p => p is not null)!;
            Assert.Equal(lut ? "Mul" : "DequantizeLinear", producer.OpType);
            if (!lut && arguments.PerChannel != false)
                Assert.Equal(Weights[weight], producer.Attribute.Single(a => a.Name == "axis").I);
        }
        Assert.Contains(model.Proto.MetadataProps, p => p.Key == TensorFiles.RecordKey);

        // What the runtime computes from the codes is the fake format's weights, bit for bit: the weights of the main graph
        // made graph outputs and read back.
        var fakeBytes = InitializerBytes(fake);
        var exposed = ModelProto.Parser.ParseFrom(File.ReadAllBytes(qdq));
        var mainWeights = Weights.Keys.Where(w => w != "sub.weight").ToList();
        foreach (string weight in mainWeights)
            exposed.Graph.Output.Add(new ValueInfoProto { Name = weight, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Float } } });
        var computed = OnnxRuntimeRunner.RunAll(exposed.ToByteArray(), "x", Input);
        foreach (string weight in mainWeights)
            Assert.True(MemoryMarshal.AsBytes(computed[weight].AsSpan()).SequenceEqual(fakeBytes[weight]), $"{what}: {weight} as the runtime dequantizes it");
        // The outputs agree to float tolerance: the runtime multiplies a constant initializer and a computed weight with
        // different kernels (a constant B is pre-packed), whose sums round differently in the last bits.
        float[] fakeOutput = RunOrt(fake), qdqOutput = RunOrt(qdq);
        Assert.Equal(fakeOutput.Length, qdqOutput.Length);
        for (int i = 0; i < fakeOutput.Length; i++)
            Assert.True(Math.Abs(fakeOutput[i] - qdqOutput[i]) <= 1e-5f * Math.Max(1f, Math.Abs(fakeOutput[i])), $"{what}: output {i}: {fakeOutput[i]} vs {qdqOutput[i]}");

        var dequantized = Run<DequantizationResult>(host => DequantizeJob.Run(new DequantizeRequest { OutputPath = back }, [JobInput.File(qdq)], host), out var errors);
        Assert.Empty(errors);
        Assert.Equal(6, dequantized.Count(r => r.Dequantized));
        var backBytes = InitializerBytes(back);
        Assert.Equal(fakeBytes.Keys.Order(), backBytes.Keys.Order());
        foreach (var (name, bytes) in fakeBytes) Assert.True(bytes.AsSpan().SequenceEqual(backBytes[name]), $"{what}: {name}");
        Assert.DoesNotContain(OnnxModel.Load(back).Proto.MetadataProps, p => p.Key == TensorFiles.RecordKey);
    }

    [Fact]
    public void ExternalData_IsRead_AndWrittenBesideTheOutput()
    {
        // The fixture with conv.weight and fc.weight moved into weights.bin, as onnx's save_as_external_data writes them.
        string inline = Copy("inline.onnx");
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Fixture));
        using (var data = File.Create(_temp.File("weights.bin")))
        {
            foreach (var tensor in proto.Graph.Initializer.Where(t => t.Name is "conv.weight" or "fc.weight"))
            {
                long offset = data.Position;
                data.Write(tensor.RawData.Span);
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString() });
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.ClearRawData();
            }
        }
        string external = _temp.File("external.onnx");
        File.WriteAllBytes(external, proto.ToByteArray());
        byte[] dataBefore = File.ReadAllBytes(_temp.File("weights.bin"));
        Assert.Equal(RunOrt(inline), RunOrt(external));

        var arguments = new QuantizerArguments { Method = QuantizationMethod.Pot, NumBits = 5 };
        string fromInline = _temp.File("inline.q.onnx"), fromExternal = _temp.File("external.q.onnx");
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fromInline }, inline);
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fromExternal }, external);
        Assert.True(File.Exists(fromExternal + ".data"));
        Assert.False(File.Exists(fromInline + ".data"));
        var written = OnnxModel.Load(fromExternal);
        Assert.True(OnnxModel.IsExternal(written.MainGraph.FindInitializer("conv.weight")!));
        var expected = InitializerBytes(fromInline);
        var actual = InitializerBytes(fromExternal);
        foreach (var (name, bytes) in expected) Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), name);
        Assert.Equal(RunOrt(fromInline), RunOrt(fromExternal));
        // The input's data file is untouched.
        Assert.Equal(dataBefore, File.ReadAllBytes(_temp.File("weights.bin")));
    }

    [Fact]
    public void Rules_DecideForOnnxModels_Too()
    {
        string input = Copy();
        var rules = QuantizationRules.Parse("""
            {"rules": [
              {"match": "conv.weight", "quantizer": {"target": "weights", "method": "uniform", "numBits": 4, "perChannel": true, "channelAxis": 0}},
              {"match": "*.bias", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 8}}
            ]}
            """, "rules.json");
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, OutputPath = _temp.File("r.onnx") }, input);
        Assert.Equal(["conv.bias", "conv.weight", "fc.bias"], results.Where(r => !r.Skipped).Select(r => r.TensorName!).Order());
        Assert.Equal("no rule matches it", results.Single(r => r.TensorName == "fc.weight").SkipReason);
    }

    [Fact]
    public void IntForm_IsRefusedForOnnx_WithTheReason()
    {
        string input = Copy();
        Run<QuantizationReport>(host => QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = _temp.File("m.int.onnx"), Format = OutputFormat.Int },
            [JobInput.File(input)], host), out var errors);
        var error = Assert.Single(errors);
        Assert.Equal(ErrorIds.OutputFormatNotSupported, error.ErrorId);
        Assert.Contains("qdq", error.Message);
        Assert.False(File.Exists(_temp.File("m.int.onnx")));
    }

    [Fact]
    public void Qdq_OfAFloat16Weight_DequantizesInFloat32_ThenCastsToFloat16()
    {
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Fixture));
        var tensor = proto.Graph.Initializer.Single(t => t.Name == "proj.weight");
        var halves = MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray().Select(v => (Half)v).ToArray();
        tensor.DataType = (int)OnnxDataType.Float16;
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(halves.AsSpan()));
        string input = _temp.File("half.onnx");
        File.WriteAllBytes(input, proto.ToByteArray());
        string output = _temp.File("half.qdq.onnx");
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = output, Format = OutputFormat.Qdq }, input);
        Assert.Equal("float16", results.Single(r => r.TensorName == "proj.weight").DType);
        // The scale stays float32 (the quantizer's own value); DequantizeLinear gives float32 and a Cast the weight's type.
        var graph = OnnxModel.Load(output).MainGraph;
        var cast = graph.Producer("proj.weight")!;
        Assert.Equal("Cast", cast.OpType);
        Assert.Equal((long)OnnxDataType.Float16, cast.Attribute.Single(a => a.Name == "to").I);
        var dequantize = graph.Producer(cast.Input[0])!;
        Assert.Equal("DequantizeLinear", dequantize.OpType);
        Assert.Equal((int)OnnxDataType.Float, graph.FindInitializer(dequantize.Input[1])!.DataType);
        Assert.Equal("DequantizeLinear", graph.Producer("fc.weight")!.OpType);
    }

    private sealed class Collector<T> : JobHost<T>
    {
        public List<T> Results { get; } = [];
        public List<QuantShellException> Errors { get; } = [];
        public override void WriteResult(T result) => Results.Add(result);
        public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
    }
}
