using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Inspect;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// Model files through the quantize job: every quantized tensor equals what the .npy path gives on the same values, every
/// other tensor is copied byte for byte, the int format dequantizes back to the fake format bit for bit, and the rules decide.
/// The model files are written by the tests (seeded values) in every kind QuantShell writes.
/// </summary>
public sealed class ModelQuantizeTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The kinds the job reads and writes (every model kind registered in TensorFiles.Write).</summary>
    public static TheoryData<TensorFileKind> Kinds() => [TensorFileKind.Npz, TensorFileKind.Safetensors, TensorFileKind.PyTorch];

    private static string Extension(TensorFileKind kind) => kind switch
    {
        TensorFileKind.Npz => ".npz",
        TensorFileKind.Safetensors => ".safetensors",
        _ => ".pt",
    };

    /// <summary>A small model: conv and linear weights in several float types, a bias, an integer buffer.</summary>
    private string WriteModel(TensorFileKind kind, string name = "model", float poison = 0f)
    {
        var random = new Random(29);
        float[] Values(int count, double scale) => Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        var conv = Values(8 * 3 * 3 * 3, 1.5);
        if (poison != 0) conv[7] = poison;
        var tensors = new List<OutputTensor>
        {
            Tensor("conv1.weight", DType.Float32, [8, 3, 3, 3], MemoryMarshal.AsBytes(conv.AsSpan()).ToArray()),
            Tensor("conv1.bias", DType.Float32, [8], MemoryMarshal.AsBytes(Values(8, 0.2).AsSpan()).ToArray()),
            Tensor("fc.weight", DType.Float64, [10, 24], MemoryMarshal.AsBytes(Values(240, 0.8).Select(v => (double)v).ToArray().AsSpan()).ToArray()),
            Tensor("head.weight", DType.Float16, [4, 6], MemoryMarshal.AsBytes(Values(24, 2).Select(v => (Half)v).ToArray().AsSpan()).ToArray()),
            Tensor("steps", DType.Int64, [1], BitConverter.GetBytes(1234L)),
        };
        string path = _temp.File(name + Extension(kind));
        using (var stream = File.Create(path))
            TensorFiles.Write(kind, stream, tensors, new Dictionary<string, string>(), CancellationToken.None);
        return path;
    }

    private static OutputTensor Tensor(string name, DType dtype, long[] shape, byte[] bytes) => new(name, dtype, shape, stream => stream.Write(bytes));

    private static byte[] Bytes(TensorFile file, string tensor)
    {
        using var source = file.OpenTensor(file.Tensor(tensor));
        using var copy = new MemoryStream();
        source.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>
    /// The tensor written as an .npy file, quantized by the .npy path with <paramref name="spec"/>: its data bytes. .npy
    /// has no bfloat16: such a tensor goes through float32 (exact) and its result is rounded back to nearest even.
    /// </summary>
    private byte[] NpyPathBytes(TensorFile file, string tensorName, QuantizerSpec spec)
    {
        var tensor = file.Tensor(tensorName);
        string input = _temp.File($"{tensorName}.{Guid.NewGuid():N}.npy"), output = _temp.File($"{tensorName}.{Guid.NewGuid():N}.q.npy");
        var bytes = Bytes(file, tensorName);
        bool bfloat = tensor.DType.Kind == DTypeKind.BFloat;
        var dtype = bfloat ? DType.Float32 : tensor.DType;
        if (bfloat)
            bytes = MemoryMarshal.AsBytes(MemoryMarshal.Cast<byte, ushort>(bytes).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray().AsSpan()).ToArray();
        using (var stream = File.Create(input))
        {
            if (tensor.FortranOrder)
            {
                NpyHeader.Write(stream, dtype, tensor.Shape, fortranOrder: true);
                stream.Write(bytes);
            }
            else TensorFiles.Write(TensorFileKind.Npy, stream, [Tensor(tensorName, dtype, tensor.Shape, bytes)], new Dictionary<string, string>(), CancellationToken.None);
        }
        NpyQuantizer.QuantizeFile(input, output, InferableQuantizer.Create(spec));
        byte[] result;
        if (tensor.FortranOrder)
        {
            // A rewritten tensor of a model file is written in C order (its header says so): compare the values in C order.
            Assert.Equal(DType.Float32, dtype);
            result = MemoryMarshal.AsBytes(((float[])NpyArray.Read(output).Data).AsSpan()).ToArray();
        }
        else
        {
            using var quantized = TensorFiles.Open(output);
            result = Bytes(quantized, quantized.Tensors[0].Name);
        }
        if (bfloat)
            result = MemoryMarshal.AsBytes(MemoryMarshal.Cast<byte, float>(result).ToArray().Select(ElementConverter.ToBFloat16).ToArray().AsSpan()).ToArray();
        return result;
    }

    private static List<QuantizationResult> Quantize(QuantizeRequest request, params string[] inputs)
    {
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(request, inputs.Select(JobInput.File), host);
        Assert.True(host.Errors.Count == 0, string.Join("\n", host.Errors.Select(e => e.Message)));
        return host.Results.SelectMany(r => r.TensorResults()).ToList();
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Defaults_QuantizeWeightsPerChannelOnAxis0_AndCopyTheRest(TensorFileKind kind)
    {
        string model = WriteModel(kind);
        string output = _temp.File("out" + Extension(kind));
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.Pot }, OutputPath = output }, model);

        Assert.Equal(["conv1.weight", "conv1.bias", "fc.weight", "head.weight", "steps"], results.Select(r => r.TensorName));
        Assert.Equal([false, true, false, false, true], results.Select(r => r.Skipped));
        Assert.Contains("rank 1", results[1].SkipReason);
        Assert.Contains("int64 is not a floating type", results[4].SkipReason);
        // One line each, as PowerShell shows them inside the model's summary.
        Assert.Matches(@"^conv1\.weight \(\d+(, \d+)*\): Weights Pot 8-bit, SQNR \d+\.\d\d dB$", results[0].ToString());
        Assert.Equal($"conv1.bias {results[1].ShapeText}: copied, {results[1].SkipCategory}", results[1].ToString());
        Assert.NotNull(results[1].SkipCategory);
        using var original = TensorFiles.Open(model);
        using var quantized = TensorFiles.Open(output);
        Assert.Equal(kind, quantized.Kind);
        Assert.Equal(original.Tensors.Select(t => (t.Name, t.DType.Name, t.ShapeText)), quantized.Tensors.Select(t => (t.Name, t.DType.Name, t.ShapeText)));
        foreach (var result in results)
        {
            if (result.Skipped)
            {
                Assert.Equal(Bytes(original, result.TensorName!), Bytes(quantized, result.TensorName!));
                continue;
            }
            Assert.True(result.PerChannel);
            Assert.Equal(0, result.ChannelAxis);
            Assert.Equal(QuantizationMethod.Pot, result.Method);
            Assert.NotNull(result.Selection);
            Assert.Equal(NpyPathBytes(original, result.TensorName!, result.Quantizer!), Bytes(quantized, result.TensorName!));
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void IntForm_InChunksOfAFewElements_WritesTheSameCodes(TensorFileKind kind)
    {
        string model = WriteModel(kind);
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Uniform, NumBits = 7 };
        string whole = _temp.File("whole" + Extension(kind)), chunked = _temp.File("chunked" + Extension(kind));
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = whole, Format = OutputFormat.Int }, model);
        // 12 bytes: three float32 elements a chunk, which divides no axis of the model's weights.
        var results = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = chunked, Format = OutputFormat.Int, ChunkBytes = 12 }, model);
        Assert.Equal(3, results.Count(r => !r.Skipped));
        using var wholeFile = TensorFiles.Open(whole);
        using var chunkedFile = TensorFiles.Open(chunked);
        Assert.Equal(wholeFile.Tensors.Select(t => t.Name), chunkedFile.Tensors.Select(t => t.Name));
        foreach (var tensor in wholeFile.Tensors)
            Assert.Equal(Bytes(wholeFile, tensor.Name), Bytes(chunkedFile, tensor.Name));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void IntForm_DequantizesToTheFakeForm_BitForBit(TensorFileKind kind)
    {
        string model = WriteModel(kind);
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 6 };
        string fake = _temp.File("fake" + Extension(kind)), codes = _temp.File("codes" + Extension(kind)), back = _temp.File("back" + Extension(kind));
        var fakeResults = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fake }, model);
        var intResults = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = codes, Format = OutputFormat.Int }, model);
        Assert.Equal(fakeResults.Select(r => r.Quantizer?.ToString()), intResults.Select(r => r.Quantizer?.ToString()));

        using (var file = TensorFiles.Open(codes))
        {
            Assert.True(file.Metadata.ContainsKey(TensorFiles.RecordKey));
            var conv = file.Tensor("conv1.weight");
            Assert.Equal("int8", conv.DType.Name);
            var scales = MemoryMarshal.Cast<byte, float>(Bytes(file, "conv1.weight_scale")).ToArray();
            Assert.Equal(intResults[0].Scale, scales);
            Assert.Equal(new long[] { 8 }, file.Tensor("conv1.weight_zero_point").Shape);
            Assert.All(MemoryMarshal.Cast<byte, int>(Bytes(file, "conv1.weight_zero_point")).ToArray(), z => Assert.Equal(0, z));
            // The codes are the grid's integers: 6-bit signed codes in [-32, 31].
            Assert.All(Bytes(file, "conv1.weight"), b => Assert.InRange((sbyte)b, -32, 31));
        }

        var host = new CollectingHost<DequantizationResult>();
        DequantizeJob.Run(new DequantizeRequest { OutputPath = back }, [JobInput.File(codes)], host);
        Assert.Empty(host.Errors);
        Assert.Equal(5, host.Results.Count);
        Assert.Equal(3, host.Results.Count(r => r.Dequantized));
        using var fakeFile = TensorFiles.Open(fake);
        using var backFile = TensorFiles.Open(back);
        Assert.False(backFile.Metadata.ContainsKey(TensorFiles.RecordKey));
        Assert.Equal(fakeFile.Tensors.Select(t => (t.Name, t.DType.Name, t.ShapeText)), backFile.Tensors.Select(t => (t.Name, t.DType.Name, t.ShapeText)));
        foreach (var tensor in fakeFile.Tensors)
            Assert.Equal(Bytes(fakeFile, tensor.Name), Bytes(backFile, tensor.Name));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void IntForm_SixteenBitUnsignedCodes_UseATypeTheFormatHolds(TensorFileKind kind)
    {
        string model = WriteModel(kind);
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Uniform, NumBits = 16 };
        string fake = _temp.File("fake16" + Extension(kind)), codes = _temp.File("codes16" + Extension(kind)), back = _temp.File("back16" + Extension(kind));
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fake }, model);
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = codes, Format = OutputFormat.Int }, model);
        using (var file = TensorFiles.Open(codes))
            // torch has no uint16 storage: a checkpoint holds the codes as int32.
            Assert.Equal(kind == TensorFileKind.PyTorch ? "int32" : "uint16", file.Tensor("fc.weight").DType.Name);
        var host = new CollectingHost<DequantizationResult>();
        DequantizeJob.Run(new DequantizeRequest { OutputPath = back }, [JobInput.File(codes)], host);
        Assert.Empty(host.Errors);
        using var fakeFile = TensorFiles.Open(fake);
        using var backFile = TensorFiles.Open(back);
        foreach (var tensor in fakeFile.Tensors)
            Assert.Equal(Bytes(fakeFile, tensor.Name), Bytes(backFile, tensor.Name));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void IntForm_OfALut_HoldsIndicesTableAndScale_ThatGiveTheFakeValues(TensorFileKind kind)
    {
        string model = WriteModel(kind);
        // A table listed out of order with a duplicate: codes index the table as listed, first listing wins.
        var arguments = new QuantizerArguments { Method = QuantizationMethod.LutSymmetric, NumBits = 3, LutValues = [50, -128, 0, -40, 100, 0, 127, -90] };
        string fake = _temp.File("lutfake" + Extension(kind)), codes = _temp.File("lutcodes" + Extension(kind)), back = _temp.File("lutback" + Extension(kind));
        Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fake }, model);
        var results = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = codes, Format = OutputFormat.Int }, model);
        Assert.Equal(3, results.Count(r => !r.Skipped));
        using (var file = TensorFiles.Open(codes))
        using (var fakeFile = TensorFiles.Open(fake))
        {
            Assert.Equal("uint8", file.Tensor("conv1.weight").DType.Name);
            Assert.DoesNotContain(file.Tensors, t => t.Name == "conv1.weight_zero_point");
            var lut = MemoryMarshal.Cast<byte, float>(Bytes(file, "conv1.weight_lut")).ToArray();
            Assert.Equal([50f, -128, 0, -40, 100, 0, 127, -90], lut);
            var scales = MemoryMarshal.Cast<byte, float>(Bytes(file, "conv1.weight_scale")).ToArray();
            Assert.Equal(8, scales.Length);
            var indices = Bytes(file, "conv1.weight");
            Assert.DoesNotContain((byte)5, indices); // the second 0 is never chosen
            var expected = MemoryMarshal.Cast<byte, float>(Bytes(fakeFile, "conv1.weight")).ToArray();
            // What a consumer computes from the three tensors, in float32: lut[code] * scale of the code's channel.
            for (int i = 0; i < indices.Length; i++)
                Assert.Equal(BitConverter.SingleToInt32Bits(expected[i]), BitConverter.SingleToInt32Bits(lut[indices[i]] * scales[i / 27]));
        }
        var host = new CollectingHost<DequantizationResult>();
        DequantizeJob.Run(new DequantizeRequest { OutputPath = back }, [JobInput.File(codes)], host);
        Assert.Empty(host.Errors);
        using var fakeAgain = TensorFiles.Open(fake);
        using var backFile = TensorFiles.Open(back);
        foreach (var tensor in fakeAgain.Tensors)
            Assert.Equal(Bytes(fakeAgain, tensor.Name), Bytes(backFile, tensor.Name));
    }

    /// <summary>
    /// The files torch 1.13 and numpy wrote (views, shared storages, nested checkpoints, bfloat16, deflated entries):
    /// every quantized tensor equals the .npy path on its twin, every other tensor is copied as it was, and the int format
    /// dequantizes back to the fake format.
    /// </summary>
    [Fact]
    public void RealFiles_QuantizeAsTheNpyPath_AndRoundTripThroughTheIntForm()
    {
        int quantizedTensors = 0;
        foreach (string fixture in Formats.ModelFixtures.Files)
        {
            string model = Formats.ModelFixtures.PathOf(fixture);
            string extension = Path.GetExtension(fixture);
            string fake = _temp.File("real-fake-" + fixture), codes = _temp.File("real-int-" + fixture), back = _temp.File("real-back-" + fixture);
            var arguments = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 5 };
            var results = Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = fake }, model);
            using var original = TensorFiles.Open(model);
            using var quantized = TensorFiles.Open(fake);
            Assert.Equal(original.Tensors.Count, results.Count);
            foreach (var empty in results.Where(r => r.TensorName is "empty" or "nothing"))
                Assert.Contains("it has no elements", empty.SkipReason);
            foreach (var result in results)
            {
                if (result.Skipped)
                {
                    Assert.Equal(Bytes(original, result.TensorName!), Bytes(quantized, result.TensorName!));
                    continue;
                }
                quantizedTensors++;
                Assert.True(NpyPathBytes(original, result.TensorName!, result.Quantizer!).AsSpan().SequenceEqual(Bytes(quantized, result.TensorName!)),
                    $"{fixture}: tensor {result.TensorName} differs from the .npy path");
            }
            Quantize(new QuantizeRequest { Quantizer = arguments, OutputPath = codes, Format = OutputFormat.Int }, model);
            var host = new CollectingHost<DequantizationResult>();
            DequantizeJob.Run(new DequantizeRequest { OutputPath = back }, [JobInput.File(codes)], host);
            Assert.True(host.Errors.Count == 0, fixture + ": " + string.Join("\n", host.Errors.Select(e => e.Message)));
            using var backFile = TensorFiles.Open(back);
            foreach (var tensor in quantized.Tensors)
                Assert.True(Bytes(quantized, tensor.Name).AsSpan().SequenceEqual(Bytes(backFile, tensor.Name)), $"{fixture}: {tensor.Name}");
        }
        Assert.True(quantizedTensors >= 10, $"only {quantizedTensors} tensors quantized across the fixtures");
    }

    [Fact]
    public void Rules_FirstMatchDecides_WithRankBoundsSkipsAndPerRuleErrorMethods()
    {
        string model = WriteModel(TensorFileKind.Npz);
        var rules = QuantizationRules.Parse("""
            {"rules": [
              {"match": "*.bias", "skip": true},
              {"match": "conv?.*", "minRank": 2, "quantizer": {"target": "weights", "method": "uniform", "numBits": 4, "perChannel": true, "channelAxis": 0}, "errorMethod": "mae"},
              {"match": "*.weight", "maxRank": 2, "quantizer": {"target": "weights", "method": "pot", "numBits": 8, "threshold": [2]}},
              {"match": "*", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 3}}
            ]}
            """, "rules.json");
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, OutputPath = _temp.File("r.npz") }, model);
        var byName = results.ToDictionary(r => r.TensorName!);
        Assert.Equal("rule 0 ('*.bias') skips it", byName["conv1.bias"].SkipReason);
        Assert.Equal(QuantizationMethod.Uniform, byName["conv1.weight"].Method);
        Assert.Equal(Selection.ErrorMethod.Mae, byName["conv1.weight"].Selection!.ErrorMethod);
        Assert.Equal(QuantizationMethod.Pot, byName["fc.weight"].Method);
        Assert.Null(byName["fc.weight"].Selection); // complete: given as is
        Assert.Equal([2.0], byName["fc.weight"].Threshold!);
        Assert.Equal(QuantizationMethod.Pot, byName["head.weight"].Method);
        Assert.True(byName["steps"].Skipped);
        Assert.Contains("not a floating type", byName["steps"].SkipReason);
    }

    [Fact]
    public void Rules_WithoutAMatch_CopyTheTensor()
    {
        string model = WriteModel(TensorFileKind.Npz);
        var rules = QuantizationRules.Parse("""{"rules": [{"match": "fc.*", "quantizer": {"target": "weights", "method": "pot", "numBits": 8}}]}""", "rules");
        var results = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, OutputPath = _temp.File("r.npz") }, model);
        Assert.Equal(["no rule matches it", "no rule matches it", null, "no rule matches it"],
            results.Where(r => r.TensorName != "steps").Select(r => r.SkipReason));
    }

    [Theory]
    [InlineData("""{"rules": [{"match": "*", "quantizer": {"target": "weights", "method": "pot", "numBits": 99}}]}""", "NumBitsOutOfRange")]
    [InlineData("""{"rules": [{"match": "*"}]}""", "RulesInvalid")]
    [InlineData("""{"rules": [{"match": "*", "skip": true, "quantizer": {"target": "weights", "method": "pot", "numBits": 8}}]}""", "RulesInvalid")]
    [InlineData("""{"rules": [{"match": "*", "skip": true, "colour": "red"}]}""", "RulesInvalid")]
    [InlineData("""{"rules": [{"match": "*", "errorMethod": "best", "quantizer": {"target": "weights", "method": "pot", "numBits": 8}}]}""", "RulesInvalid")]
    [InlineData("""{"rules": [{"match": "*", "errorMethod": "mae", "quantizer": {"target": "weights", "method": "pot", "numBits": 8, "threshold": [1]}}]}""", "SelectionOptionNotApplicable")]
    [InlineData("""[1, 2]""", "RulesInvalid")]
    [InlineData("""not json""", "RulesInvalid")]
    public void BadRules_AreRefusedBeforeAnyFileIsRead(string json, string errorId)
    {
        var ex = Assert.ThrowsAny<QuantShellException>(() => QuantizationRules.Parse(json, "rules.json"));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.StartsWith("rules.json", ex.Message);
    }

    [Fact]
    public void Rules_WithQuantizerArguments_AreAConflict()
    {
        var rules = QuantizationRules.Parse("""{"rules": [{"match": "*", "skip": true}]}""", "rules");
        var ex = Assert.ThrowsAny<QuantShellException>(() =>
            new QuantizeJob(new QuantizeRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.Pot }, Rules = rules }, new CollectingHost<QuantizationReport>()));
        Assert.Equal(ErrorIds.OptionConflict, ex.ErrorId);
    }

    [Fact]
    public void NonFiniteWeight_FailsTheWholeFile_AndWritesNothing()
    {
        string model = WriteModel(TensorFileKind.Npz, poison: float.NaN);
        string output = _temp.File("nan.npz");
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments { Threshold = [2.0], PerChannel = false }, OutputPath = output }, [JobInput.File(model)], host);
        var error = Assert.Single(host.Errors);
        Assert.Equal(ErrorIds.NonFiniteInput, error.ErrorId);
        Assert.Contains("tensor 'conv1.weight'", error.Message);
        Assert.Empty(host.Results);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void Measure_OverAModel_MeasuresTheTensorsTheDefaultsSelect()
    {
        string model = WriteModel(TensorFileKind.Npz);
        var host = new CollectingHost<MeasurementResult>();
        MeasureJob.Run(new MeasureRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.Pot } }, [JobInput.File(model)], host);
        Assert.Empty(host.Errors);
        Assert.Equal(["conv1.weight", "fc.weight", "head.weight"], host.Results.Select(r => r.TensorName));
        // The same quantizer as quantize chooses, and metrics of the same values.
        var quantized = Quantize(new QuantizeRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.Pot }, OutputPath = _temp.File("m.npz") }, model)
            .Where(r => !r.Skipped).ToList();
        Assert.Equal(quantized.Select(r => r.Quantizer!.ToString()), host.Results.Select(r => r.Quantizer.ToString()));
        for (int i = 0; i < quantized.Count; i++)
            Assert.Equal(quantized[i].Mse!.Value, host.Results[i].Mse, quantized[i].Mse!.Value * 1e-5);
    }

    [Fact]
    public void Inspect_ListsTensorsFromTheIndex_AndReadsValuesOnlyWhenAsked()
    {
        string model = WriteModel(TensorFileKind.Npz);
        var listed = new CollectingHost<TensorInfo>();
        InspectJob.Run(new InspectRequest(), [JobInput.File(model)], listed);
        Assert.Equal(5, listed.Results.Count);
        Assert.All(listed.Results, info => Assert.Null(info.Min));
        Assert.Equal(8L * 3 * 3 * 3 * 4, listed.Results[0].ByteCount);
        var withStatistics = new CollectingHost<TensorInfo>();
        InspectJob.Run(new InspectRequest { Statistics = true }, [JobInput.File(model)], withStatistics);
        Assert.Equal(1234.0, withStatistics.Results.Single(r => r.TensorName == "steps").Max);
        Assert.All(withStatistics.Results, info => Assert.NotNull(info.Mean));
    }
}

/// <summary>A job host that keeps what it is given.</summary>
internal sealed class CollectingHost<T> : JobHost<T>
{
    public List<T> Results { get; } = [];
    public List<QuantShellException> Errors { get; } = [];

    public override void WriteResult(T result) => Results.Add(result);

    public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
}
