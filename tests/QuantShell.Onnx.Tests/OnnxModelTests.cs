using System.Runtime.InteropServices;
using Google.Protobuf;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using static QuantShell.Onnx.Tests.TestModels;

namespace QuantShell.Onnx.Tests;

/// <summary>The model reader/writer: round trips, unknown fields, subgraphs, typed data, external data, hostile models.</summary>
public sealed class OnnxModelTests
{
    [Fact]
    public void SharedModels_RoundTrip_ByteForByte()
    {
        int checkedModels = 0;
        foreach (var mctq in MctqModels.All)
        {
            byte[] original = File.ReadAllBytes(mctq.ModelPath);
            Assert.Equal(original, OnnxModel.Parse(original, mctq.Name).ToByteArray());
            checkedModels++;
        }
        Assert.Equal(MctqModels.ExpectedCount, checkedModels);
    }

    [Fact]
    public void ModelThroughASymbolicLink_IsReadWhole_AndRecognizedWhateverTheLinkNameLength()
    {
        using var temp = new TempDirectory();
        string model = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx");
        // A link's own length is the length of its target's name: 1 byte for "m", far less than the model.
        string target = temp.File("m");
        File.Copy(model, target);
        string link = temp.File("l.onnx");
        File.CreateSymbolicLink(link, "m");
        // A file recognized by its first bytes, through a link whose own length (1) is below the 8 bytes looked at.
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "examples", "x.npy"), temp.File("x"));
        string shortLink = temp.File("n");
        File.CreateSymbolicLink(shortLink, "x");

        byte[] original = File.ReadAllBytes(model);
        Assert.Equal(original, OnnxModel.Load(link).ToByteArray());
        Assert.Equal(TensorFileKind.Npy, TensorFiles.Recognize(shortLink));
    }

    [Fact]
    public void FieldsWeDoNotModel_SurviveReadingChangingAndWriting()
    {
        // Unknown fields of ONNX messages (model training_info 20, graph metadata_props 16, node metadata_props 9,
        // tensor metadata_props 16) and one no ONNX version has (999), appended to the messages of a real model.
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(MctqModels.Get("mctq_0").ModelPath));
        byte[] nodeExtra = Field(9, "node note"), tensorExtra = Field(16, "tensor note"), graphExtra = Field(16, "graph note"), modelExtra = [.. Field(20, "training"), .. Field(999, "future")];
        var conv = model.Graph.Node.First(n => n.OpType == "Conv");
        model.Graph.Node[model.Graph.Node.IndexOf(conv)] = NodeProto.Parser.ParseFrom([.. conv.ToByteArray(), .. nodeExtra]);
        var bias = model.Graph.Initializer.First(t => t.Name == "conv1.layer.bias");
        model.Graph.Initializer[model.Graph.Initializer.IndexOf(bias)] = TensorProto.Parser.ParseFrom([.. bias.ToByteArray(), .. tensorExtra]);
        var graph = GraphProto.Parser.ParseFrom([.. model.Graph.ToByteArray(), .. graphExtra]);
        model.Graph = graph;
        byte[] bytes = [.. model.ToByteArray(), .. modelExtra];

        var read = OnnxModel.Parse(bytes, "extra.onnx");
        Assert.Equal(bytes, read.ToByteArray());
        Core.Formats.Onnx.Mct.MctLowering.Lower(read, Core.Formats.Onnx.Mct.WeightsForm.Fake, Core.Formats.Onnx.Mct.ActivationsForm.Exact);
        byte[] written = read.ToByteArray();
        Assert.EndsWith(Convert.ToHexString(modelExtra), Convert.ToHexString(written));
        Assert.EndsWith(Convert.ToHexString(nodeExtra), Convert.ToHexString(read.Proto.Graph.Node.First(n => n.OpType == "Conv").ToByteArray()));
        Assert.EndsWith(Convert.ToHexString(tensorExtra), Convert.ToHexString(read.Proto.Graph.Initializer.First(t => t.Name == "conv1.layer.bias").ToByteArray()));
        Assert.EndsWith(Convert.ToHexString(graphExtra), Convert.ToHexString(read.Proto.Graph.ToByteArray()));
    }

    private static byte[] Field(int number, string text)
    {
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteString(text);
        output.Flush();
        return stream.ToArray();
    }

    [Fact]
    public void Initializers_OfSubgraphs_AreEnumerated_WithTheirConsumers()
    {
        var thenBranch = Graph("then", [Node("MatMul", ["x", "w_then"], ["y_then"], "mm_then")], [], [Value("y_then", OnnxDataType.Float, 2, 3)],
            Floats("w_then", [4, 3], new float[12]));
        var elseBranch = Graph("else", [Node("Gemm", ["x", "w"], ["y_else"], "gemm_else", "", Int("transB", 1))], [], [Value("y_else", OnnxDataType.Float, 2, 3)]);
        var main = Graph("main", [
                Node("Conv", ["image", "w"], ["c"], "conv"),
                Node("If", ["cond"], ["y"], "if", "", TestModels.Graph("then_branch", thenBranch), TestModels.Graph("else_branch", elseBranch)),
            ],
            [Value("x", OnnxDataType.Float, 2, 4), Value("image", OnnxDataType.Float, 1, 4, 8, 8), Value("cond", OnnxDataType.Bool)],
            [Value("y", OnnxDataType.Float, 2, 3), Value("c", OnnxDataType.Float)],
            Floats("w", [3, 4], new float[12]));
        var model = OnnxModel.Parse(Model(main).ToByteArray(), "sub.onnx");

        var initializers = model.Initializers().ToList();
        Assert.Equal(["w", "w_then"], initializers.Select(i => i.Name));
        Assert.Equal(["main", "main/if.then_branch"], initializers.Select(i => i.Graph.Path));
        var consumers = initializers[0].Consumers();
        Assert.Equal([("conv", 1), ("gemm_else", 1)], consumers.Select(c => (c.Node.Name, c.InputIndex)));
        Assert.Equal("main/if.else_branch", consumers[1].Graph.Path);
        Assert.Equal(0, consumers[0].WeightChannelAxis(4)); // Conv: output channels on axis 0
        Assert.Equal(0, consumers[1].WeightChannelAxis(2)); // Gemm with transB = 1: output channels on axis 0
        var matMul = initializers[1].Consumers().Single();
        Assert.Equal(1, matMul.WeightChannelAxis(2)); // MatMul: the last axis
    }

    [Fact]
    public void TypedFields_AreRead_AndCheckedAgainstDims()
    {
        var doubles = new TensorProto { Name = "d", DataType = (int)OnnxDataType.Double };
        doubles.Dims.Add(2);
        doubles.DoubleData.Add([1.5, -2.25]);
        var halves = new TensorProto { Name = "h", DataType = (int)OnnxDataType.Float16 };
        halves.Dims.Add(2);
        halves.Int32Data.Add([BitConverter.HalfToUInt16Bits((Half)0.5), BitConverter.HalfToUInt16Bits((Half)(-3))]);
        var brains = new TensorProto { Name = "b", DataType = (int)OnnxDataType.BFloat16 };
        brains.Dims.Add(2);
        brains.Int32Data.Add([0x3FC0, 0xC040]); // 1.5, -3
        var floats = new TensorProto { Name = "f", DataType = (int)OnnxDataType.Float };
        floats.Dims.AddRange([1, 2]);
        floats.FloatData.Add([0.25f, 4f]);
        var longs = new TensorProto { Name = "l", DataType = (int)OnnxDataType.Int64 };
        longs.Dims.Add(3);
        longs.Int64Data.Add([-7, 0, 9]);
        var graph = Graph("g", [], [], [], doubles, halves, brains, floats, longs);
        var model = OnnxModel.Parse(Model(graph).ToByteArray(), "typed.onnx");
        var byName = model.Initializers().ToDictionary(i => i.Name);
        Assert.Equal([1.5, -2.25], (double[])byName["d"].ReadValues().Data);
        Assert.Equal([(Half)0.5, (Half)(-3)], (Half[])byName["h"].ReadValues().Data);
        Assert.Equal([1.5f, -3f], (float[])byName["b"].ReadValues().Data);
        Assert.Equal([0.25f, 4f], (float[])byName["f"].ReadValues().Data);
        Assert.Equal([-7f, 0f, 9f], (float[])byName["l"].ReadValues().Data);

        // bfloat16 written back rounds to nearest even: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 and goes to 1.
        byName["b"].ReplaceValues(new NpyArray([2], new[] { 1f + MathF.Pow(2, -8), -3f }));
        Assert.Equal([1f, -3f], (float[])byName["b"].ReadValues().Data);
    }

    public static TheoryData<string, Action<GraphProto>, string> DataMismatches() => new()
    {
        { "raw_data short", g => g.Initializer[0].RawData = ByteString.CopyFrom(new byte[20]), "raw_data holds 20 bytes but 24 are needed" },
        { "float_data count", g => { g.Initializer[0].ClearRawData(); g.Initializer[0].FloatData.Add([1f, 2f]); }, "typed data field holds 2 values" },
        { "no data", g => g.Initializer[0].ClearRawData(), "typed data field holds 0 values" },
        { "negative dim", g => g.Initializer[0].Dims[0] = -2, "negative dimension" },
        { "unknown data type", g => g.Initializer[0].DataType = 99, "data_type 99" },
    };

    [Theory]
    [MemberData(nameof(DataMismatches))]
    public void TensorData_DisagreeingWithDims_IsAnError_NamingTheTensor(string what, Action<GraphProto> damage, string message)
    {
        var graph = Graph("g", [], [], [], Floats("weights.0", [2, 3], new float[6]));
        damage(graph);
        var error = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Parse(Model(graph).ToByteArray(), "bad.onnx"));
        Assert.Contains("tensor 'weights.0'", error.Message);
        Assert.Contains(message, error.Message);
        Assert.StartsWith("Onnx", error.ErrorId);
        Assert.NotNull(what);
    }

    [Fact]
    public void ExternalData_IsRead_AndWrittenBesideTheOutput()
    {
        using var temp = new TempDirectory();
        var values = Enumerable.Range(0, 6).Select(i => i * 0.5f).ToArray();
        byte[] data = [.. new byte[100], .. MemoryMarshal.AsBytes(values.AsSpan()).ToArray(), .. new byte[3]];
        File.WriteAllBytes(temp.File("weights.bin"), data);
        var tensor = External("w", [2, 3], "weights.bin", 100, 24);
        File.WriteAllBytes(temp.File("model.onnx"), Model(Graph("g", [], [], [], tensor)).ToByteArray());

        var model = OnnxModel.Load(temp.File("model.onnx"));
        var initializer = model.Initializers().Single();
        Assert.True(initializer.IsExternal);
        Assert.Equal(values, (float[])initializer.ReadValues().Data);
        initializer.ReplaceValues(new NpyArray([2, 3], values.Select(v => -v).ToArray()));
        Directory.CreateDirectory(temp.File("out"));
        model.Save(temp.File("out/lowered.onnx"), QuantShell.Core.IO.WriteOptions.Default);

        Assert.True(File.Exists(temp.File("out/lowered.onnx.data")));
        var reread = OnnxModel.Load(temp.File("out/lowered.onnx"));
        Assert.Equal(values.Select(v => -v), (float[])reread.Initializers().Single().ReadValues().Data);
        Assert.Equal(values, (float[])OnnxModel.Load(temp.File("model.onnx")).Initializers().Single().ReadValues().Data); // the input is untouched
        Assert.Equal("0", reread.Initializers().Single().Tensor.ExternalData.Single(e => e.Key == "offset").Value);
    }

    public static TheoryData<string, string, long, long, string> BadExternalData() => new()
    {
        { "parent folder", "../outside.bin", 0, 24, "OnnxExternalDataPathInvalid" },
        { "absolute", "/etc/passwd", 0, 24, "OnnxExternalDataPathInvalid" },
        { "link to outside", "link.bin", 0, 24, "OnnxExternalDataPathInvalid" },
        { "folder link to outside", "linked/outside.bin", 0, 24, "OnnxExternalDataPathInvalid" },
        { "beyond the end", "weights.bin", 10, 24, "OnnxExternalDataOutOfRange" },
        { "length disagrees with dims", "weights.bin", 0, 20, "OnnxTensorDataMismatch" },
        { "missing file", "missing.bin", 0, 24, "OnnxExternalDataInvalid" },
    };

    [Theory]
    [MemberData(nameof(BadExternalData))]
    public void ExternalData_OutsideTheFolderOrBeyondTheFile_IsRefused(string what, string location, long offset, long length, string errorId)
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp.File("model"));
        File.WriteAllBytes(temp.File("model/weights.bin"), new byte[24]);
        File.WriteAllBytes(temp.File("outside.bin"), new byte[24]);
        File.CreateSymbolicLink(temp.File("model/link.bin"), temp.File("outside.bin"));
        Directory.CreateSymbolicLink(temp.File("model/linked"), temp.Path);
        File.WriteAllBytes(temp.File("model/m.onnx"), Model(Graph("g", [], [], [], External("w", [2, 3], location, offset, length))).ToByteArray());
        var error = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Load(temp.File("model/m.onnx")));
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains("tensor 'w'", error.Message);
        Assert.NotNull(what);
    }

    private static TensorProto External(string name, long[] dims, string location, long offset, long length)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)OnnxDataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        tensor.Dims.AddRange(dims);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        return tensor;
    }

    public static TheoryData<string, Func<byte[]>, string> HostileModels() => new()
    {
        { "truncated", () => File.ReadAllBytes(MctqModels.Get("mctq_0").ModelPath)[..4000], "OnnxModelInvalid" },
        { "length field past the end", () => [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x01], "OnnxModelInvalid" },
        { "not protobuf", () => "PK\u0003\u0004 a zip file"u8.ToArray(), "OnnxModelInvalid" },
        { "no graph", () => new ModelProto { IrVersion = 8 }.ToByteArray(), "OnnxModelInvalid" },
        { "cycle", () => Model(Graph("g", [Node("Relu", ["b"], ["a"], "r1"), Node("Relu", ["a"], ["b"], "r2")], [], [Value("a", OnnxDataType.Float)])).ToByteArray(), "OnnxGraphCycle" },
        { "input nothing produces", () => Model(Graph("g", [Node("Relu", ["ghost"], ["a"], "r1")], [], [Value("a", OnnxDataType.Float)])).ToByteArray(), "OnnxGraphInvalid" },
        { "value produced twice", () => Model(Graph("g", [Node("Relu", ["x"], ["a"], "r1"), Node("Relu", ["x"], ["a"], "r2")], [Value("x", OnnxDataType.Float)], [])).ToByteArray(), "OnnxGraphInvalid" },
    };

    [Theory]
    [MemberData(nameof(HostileModels))]
    public void HostileModels_AreRefused_WithTheirErrorId(string what, Func<byte[]> bytes, string errorId)
    {
        var error = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Parse(bytes(), "hostile.onnx"));
        Assert.Equal(errorId, error.ErrorId);
        Assert.StartsWith("hostile.onnx", error.Message);
        Assert.NotNull(what);
    }

    /// <summary>
    /// The same hostile models as files: a file is parsed through a small buffer, not read whole first, and a length field
    /// larger than the rest of the file is refused before anything is allocated for it.
    /// </summary>
    [Theory]
    [MemberData(nameof(HostileModels))]
    public void HostileModelFiles_AreRefused_WithTheirErrorId_AllocatingLittle(string what, Func<byte[]> bytes, string errorId)
    {
        using var temp = new TempDirectory();
        string path = temp.File("hostile.onnx");
        File.WriteAllBytes(path, bytes());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Load(path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(errorId, error.ErrorId);
        Assert.StartsWith(path, error.Message);
        Assert.True(allocated < 16 << 20, $"{what}: {allocated} bytes allocated");
    }

    /// <summary>
    /// A model read from a file whose tensors are larger than the read buffer (raw_data of 3 MiB, and float_data): the
    /// model written back is the file byte for byte; a tensor's data is read without a copy and overwritten in place.
    /// </summary>
    [Fact]
    public void ModelFile_WithTensorsLargerThanTheBuffer_RoundTrips_AndIsOverwrittenInPlace()
    {
        using var temp = new TempDirectory();
        var big = Floats("big", [768, 1024], Seeded(7, 768 * 1024, 1f));
        var typed = new TensorProto { Name = "typed", DataType = (int)OnnxDataType.Float };
        typed.Dims.Add(4);
        typed.FloatData.AddRange([1f, 2f, 3f, 4f]);
        var proto = Model(Graph("g", [Node("Add", ["big", "big"], ["y"], "add"), Node("Identity", ["typed"], ["z"], "id")], [], [Value("y", OnnxDataType.Float), Value("z", OnnxDataType.Float)], big, typed));
        string path = temp.File("big.onnx");
        byte[] original = proto.ToByteArray();
        File.WriteAllBytes(path, original);

        var model = OnnxModel.Load(path);
        Assert.Equal(original, model.ToByteArray());
        var bigHeld = model.MainGraph.Proto.Initializer.Single(t => t.Name == "big");
        var typedHeld = model.MainGraph.Proto.Initializer.Single(t => t.Name == "typed");
        // The tensor's bytes are the message's own, not a copy.
        Assert.True(MemoryMarshal.TryGetArray(model.ReadElementBytes(bigHeld), out var read));
        Assert.True(MemoryMarshal.TryGetArray(bigHeld.RawData.Memory, out var own));
        Assert.Same(own.Array, read.Array);

        var halves = Seeded(7, 768 * 1024, 1f).Select(v => v / 2).ToArray();
        model.OverwriteRawData(bigHeld, MemoryMarshal.AsBytes(halves.AsSpan()));
        model.OverwriteRawData(typedHeld, MemoryMarshal.AsBytes(new[] { 5f, 6f, 7f, 8f }.AsSpan()));
        // Written over the same array; the typed tensor's data moves to raw_data.
        Assert.True(MemoryMarshal.TryGetArray(bigHeld.RawData.Memory, out var after));
        Assert.Same(own.Array, after.Array);
        Assert.Empty(typedHeld.FloatData);

        var again = OnnxModel.Parse(model.ToByteArray(), "again.onnx");
        Assert.Equal(halves, MemoryMarshal.Cast<byte, float>(again.ReadElementBytes(again.MainGraph.Proto.Initializer.Single(t => t.Name == "big")).Span).ToArray());
        Assert.Equal([5f, 6f, 7f, 8f], MemoryMarshal.Cast<byte, float>(again.ReadElementBytes(again.MainGraph.Proto.Initializer.Single(t => t.Name == "typed")).Span).ToArray());
    }

    /// <summary>
    /// Google.Protobuf reads messages nested up to 100 deep and refuses deeper ones (a recursion limit, so no stack
    /// overflow). Here the main graph holds <paramref name="ifs"/> If nodes each nested in the previous one's then_branch:
    /// the graph at level 3k+1, its node at 3k+2, the node's attribute at 3k+3. The innermost graph's output adds its
    /// ValueInfoProto, TypeProto and TypeProto.Tensor, and with a shape its TensorShapeProto: with 32 Ifs, 100 or 101 levels.
    /// </summary>
    private static ModelProto NestedIfs(int ifs, bool innermostShape)
    {
        ValueInfoProto Output(string name, bool shape) => new()
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Float, Shape = shape ? new TensorShapeProto() : null } },
        };
        var graph = Graph("g0", [Node("Identity", ["x"], ["y0"], "id0")], [], [Output("y0", innermostShape)]);
        for (int level = 1; level <= ifs; level++)
        {
            var elseBranch = Graph($"e{level}", [Node("Identity", ["x"], [$"e{level}"], $"ide{level}")], [], [Output($"e{level}", false)]);
            var node = Node("If", ["cond"], [$"y{level}"], $"if{level}", "", TestModels.Graph("then_branch", graph), TestModels.Graph("else_branch", elseBranch));
            graph = Graph(level == ifs ? "main" : $"g{level}", [node], [], [Output($"y{level}", false)]);
        }
        graph.Input.Add(Output("x", false));
        graph.Input.Add(new ValueInfoProto { Name = "cond", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Bool } } });
        return Model(graph);
    }

    [Fact]
    public void Nesting_100Deep_IsRead_101Deep_IsRefused()
    {
        var model = OnnxModel.Parse(NestedIfs(32, innermostShape: false).ToByteArray(), "deep.onnx");
        Assert.Equal(1 + 2 * 32, model.Graphs().Count());

        var error = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Parse(NestedIfs(32, innermostShape: true).ToByteArray(), "deeper.onnx"));
        Assert.Equal(ErrorIds.OnnxModelInvalid, error.ErrorId);
        Assert.Equal("deeper.onnx: not a valid ONNX model: its messages nest more than 100 deep (subgraphs within subgraphs), beyond what is read.", error.Message);

        // The same limit for bare nesting, whatever the messages hold: 100 levels are read, 101 are not.
        Assert.Equal(1 + 33, OnnxModel.Parse(HostileOnnx.NestedMessages(100), "chain.onnx").Graphs().Count());
        var deep = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Parse(HostileOnnx.NestedMessages(101), "chain.onnx"));
        Assert.Equal(ErrorIds.OnnxModelInvalid, deep.ErrorId);
        Assert.Contains("nest more than 100 deep", deep.Message);
        // Far deeper is refused the same way, without recursing into it.
        Assert.Contains("nest more than 100 deep", Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Parse(HostileOnnx.NestedMessages(10_000), "chain.onnx")).Message);
    }

    /// <summary>A file over the protobuf limit of 2 GiB is refused by its size, before a byte of it is read (it is a hole here).</summary>
    [Fact]
    public void ModelOver2GiB_IsRefused_BeforeReading()
    {
        using var temp = new TempDirectory();
        string path = temp.File("big.onnx");
        HostileOnnx.SparseFile(path, (2L << 30) + 1);
        var error = Assert.ThrowsAny<QuantShellException>(() => OnnxModel.Load(path));
        Assert.Equal(ErrorIds.OnnxModelTooLarge, error.ErrorId);
        Assert.Equal($"{path}: the file is 2147483649 bytes; an ONNX protobuf is at most 2 GiB (larger models keep their weights in external data files).", error.Message);
    }

    [Fact]
    public void HostileModelTable_CoversEveryCase()
    {
        Assert.Equal(7, HostileModels().Count);
        Assert.Equal(7, BadExternalData().Count);
        Assert.Equal(5, DataMismatches().Count);
    }
}
