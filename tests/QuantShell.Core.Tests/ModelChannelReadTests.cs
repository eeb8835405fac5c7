using System.Runtime.InteropServices;
using Google.Protobuf;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// Values chosen per channel for a tensor of a model file are chosen from its channels read alone (each channel a run of
/// the data: every axis before the channel axis has length 1), and the tensor is then streamed through the complete
/// quantizer: the same values, results and output bytes as the whole tensor read first
/// (<see cref="ModelQuantizer.WholeTensorOnly"/>, the path before), for every stored type and output form, in ONNX,
/// safetensors, .npz and PyTorch files. Tensors whose channels are not runs (a later axis, group-wise values, per
/// tensor) still take the whole tensor.
/// </summary>
public sealed class ModelChannelReadTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>How a tensor of the test models is quantized, and whether its channels are read alone.</summary>
    private sealed record Weight(string Name, DType Type, long[] Shape, int? Axis, int? GroupSize, bool PerChannel, bool ChannelsAlone);

    private static readonly Weight[] Weights =
    [
        new("h", DType.Float16, [6, 5, 3, 3], null, null, true, true),
        new("b", DType.BFloat16, [4, 3, 7], null, null, true, true),
        new("d", DType.Float64, [5, 24], null, null, true, true),
        new("one", DType.Float32, [1, 8, 10], 1, null, true, true),
        new("late", DType.Float32, [4, 6, 5], 2, null, true, false),
        new("grouped", DType.Float32, [4, 32], null, 8, true, false),
        new("tensor", DType.Float32, [6, 10], null, null, false, false),
    ];

    public static TheoryData<QuantizationMethod, ErrorMethod, SelectionSearch, int, string> Cases()
    {
        var data = new TheoryData<QuantizationMethod, ErrorMethod, SelectionSearch, int, string>();
        var quantizers = new (QuantizationMethod, ErrorMethod, SelectionSearch, int)[]
        {
            (QuantizationMethod.Pot, ErrorMethod.Mse, SelectionSearch.Mct, 8),
            (QuantizationMethod.Symmetric, ErrorMethod.Mse, SelectionSearch.Optimal, 4),
            (QuantizationMethod.Symmetric, ErrorMethod.Kl, SelectionSearch.Mct, 8),
            (QuantizationMethod.Symmetric, ErrorMethod.NoClipping, SelectionSearch.Mct, 8),
            (QuantizationMethod.Uniform, ErrorMethod.Mse, SelectionSearch.Mct, 8),
            (QuantizationMethod.Uniform, ErrorMethod.Mae, SelectionSearch.Optimal, 6),
            (QuantizationMethod.LutSymmetric, ErrorMethod.Mse, SelectionSearch.Mct, 3),
            (QuantizationMethod.LutPot, ErrorMethod.Mse, SelectionSearch.Optimal, 4),
        };
        foreach (var (method, error, search, bits) in quantizers)
            foreach (string form in new[] { "onnx-fake", "onnx-qdq", "safetensors-fake", "safetensors-int", "npz-fake", "pt-int" })
                data.Add(method, error, search, bits, form);
        return data;
    }

    [Fact]
    public void Cases_AreAllThere() => Assert.Equal(48, Cases().Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChannelsReadAlone_ChooseAndWriteAsTheWholeTensor(QuantizationMethod method, ErrorMethod error, SelectionSearch search, int bits, string form)
    {
        bool onnx = form.StartsWith("onnx", StringComparison.Ordinal);
        bool lut = method is QuantizationMethod.LutSymmetric or QuantizationMethod.LutPot;
        // Group-wise values are for POT, symmetric and uniform quantizers, in the fake and int forms; .npz has no bfloat16.
        var weights = Weights.Where(w => !((lut || form == "onnx-qdq") && w.GroupSize is not null) && !(form == "npz-fake" && w.Type == DType.BFloat16)).ToArray();
        string model = onnx ? WriteOnnx(weights) : WriteModel(Kind(form), weights);
        var options = new SelectionOptions { ErrorMethod = error, Search = search };
        TensorDecision Decide(StoredTensor tensor)
        {
            var weight = weights.Single(w => w.Name == tensor.Name);
            var spec = new QuantizerSpec
            {
                Target = QuantizationTarget.Weights, Method = method, NumBits = bits, PerChannel = weight.PerChannel, ChannelAxis = weight.Axis,
                GroupSize = weight.GroupSize,
            };
            return TensorDecision.Quantize(QuantizerRecipe.For(spec, options));
        }

        var (reference, referenceBytes) = Run(model, form, Decide, wholeTensor: true, out var none);
        Assert.Empty(none);
        var (results, bytes) = Run(model, form, Decide, wholeTensor: false, out var alone);

        Assert.Equal(weights.Where(w => w.ChannelsAlone).Select(w => w.Name).Order(), alone.Order());
        Assert.Equal(weights.Length, results.Count);
        Assert.Equal(weights.Length, reference.Count);
        for (int i = 0; i < results.Count; i++)
        {
            Assert.False(results[i].Skipped, results[i].TensorName);
            Assert.Equal(reference[i].TensorName, results[i].TensorName);
            Assert.Equal(QuantizerFile.ToJson(reference[i].Quantizer!), QuantizerFile.ToJson(results[i].Quantizer!));
            Assert.Equal(reference[i].Mse, results[i].Mse);
            Assert.Equal(reference[i].ElementCount, results[i].ElementCount);
            Assert.Equal(reference[i].Selection, results[i].Selection);
            Assert.NotNull(results[i].Selection);
        }
        Assert.True(referenceBytes.AsSpan().SequenceEqual(bytes), "the output files differ");
    }

    /// <summary>Quantizes the model as <paramref name="form"/> says; the results, the output file's bytes, and the tensors whose channels were read alone.</summary>
    private (IReadOnlyList<QuantizationResult> Results, byte[] Output) Run(string model, string form, Func<StoredTensor, TensorDecision> decide, bool wholeTensor,
                                                                          out List<string> channelsAlone)
    {
        var taken = new List<string>();
        channelsAlone = taken;
        string output = _temp.File($"{form}-{wholeTensor}-{Guid.NewGuid():N}{Path.GetExtension(model)}");
        ModelQuantizer.WholeTensorOnly.Value = wholeTensor;
        ModelQuantizer.ChannelsRead.Value = taken.Add;
        try
        {
            IReadOnlyList<QuantizationResult> results;
            if (form.StartsWith("onnx", StringComparison.Ordinal))
            {
                using var file = OnnxTensorFile.Open(model, model);
                results = OnnxModelQuantizer.Quantize(file, form == "onnx-qdq" ? OutputFormat.Qdq : OutputFormat.Fake, output, output, WriteOptions.Default,
                    decide, new FileQuantizeOptions(), null, CancellationToken.None);
            }
            else
            {
                using var file = TensorFiles.Open(model);
                using var stream = File.Create(output);
                results = form.EndsWith("-int", StringComparison.Ordinal)
                    ? ModelQuantizer.WriteInt(file, Kind(form), stream, output, decide, new FileQuantizeOptions(), null, CancellationToken.None)
                    : ModelQuantizer.WriteFake(file, stream, output, decide, new FileQuantizeOptions(), null, CancellationToken.None);
            }
            return (results, File.ReadAllBytes(output));
        }
        finally
        {
            ModelQuantizer.WholeTensorOnly.Value = false;
            ModelQuantizer.ChannelsRead.Value = null;
        }
    }

    /// <summary>Seeded values of a weight, as its stored type holds them (bytes), with a few outliers so that searches clip.</summary>
    private static byte[] Values(Weight weight, int seed)
    {
        var random = new Random(seed);
        long count = weight.Shape.Aggregate(1L, (a, b) => a * b);
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            values[i] = gaussian * (0.05 + 0.1 * (i % 3)) + (i % 17 == 0 ? 0.8 : 0);
        }
        if (weight.Type == DType.Float64) return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        var floats = values.Select(v => (float)v).ToArray();
        if (weight.Type == DType.Float16) return MemoryMarshal.AsBytes(floats.Select(v => (Half)v).ToArray().AsSpan()).ToArray();
        if (weight.Type == DType.BFloat16) return MemoryMarshal.AsBytes(floats.Select(ElementConverter.ToBFloat16).ToArray().AsSpan()).ToArray();
        return MemoryMarshal.AsBytes(floats.AsSpan()).ToArray();
    }

    private static TensorFileKind Kind(string form) => form.Split('-')[0] switch
    {
        "safetensors" => TensorFileKind.Safetensors,
        "npz" => TensorFileKind.Npz,
        _ => TensorFileKind.PyTorch,
    };

    /// <summary>A model file of <paramref name="kind"/> (safetensors, .npz, a PyTorch checkpoint) holding the weights.</summary>
    private string WriteModel(TensorFileKind kind, Weight[] weights)
    {
        string path = _temp.File($"model-{Guid.NewGuid():N}{(kind == TensorFileKind.Safetensors ? ".safetensors" : kind == TensorFileKind.Npz ? ".npz" : ".pt")}");
        var tensors = weights.Select((w, i) =>
        {
            byte[] bytes = Values(w, 40 + i);
            return new OutputTensor(w.Name, w.Type, w.Shape, stream => stream.Write(bytes));
        }).ToList();
        using var stream = File.Create(path);
        TensorFiles.Write(kind, stream, tensors, new Dictionary<string, string>(), CancellationToken.None);
        return path;
    }

    /// <summary>Each weight an initializer read by a MatMul; the float32 ones of rank 2 held in float_data, the rest in raw_data.</summary>
    private string WriteOnnx(Weight[] weights)
    {
        var graph = new GraphProto { Name = "g" };
        graph.Input.Add(new ValueInfoProto { Name = "x" });
        for (int i = 0; i < weights.Length; i++)
        {
            var w = weights[i];
            var type = w.Type == DType.Float16 ? OnnxDataType.Float16 : w.Type == DType.BFloat16 ? OnnxDataType.BFloat16 : w.Type == DType.Float64 ? OnnxDataType.Double : OnnxDataType.Float;
            var tensor = new TensorProto { Name = w.Name, DataType = (int)type };
            tensor.Dims.AddRange(w.Shape);
            byte[] bytes = Values(w, 40 + i);
            if (type == OnnxDataType.Float && w.Shape.Length == 2) tensor.FloatData.AddRange(MemoryMarshal.Cast<byte, float>(bytes).ToArray());
            else tensor.RawData = ByteString.CopyFrom(bytes);
            graph.Initializer.Add(tensor);
            var node = new NodeProto { OpType = "MatMul", Name = "mm_" + w.Name };
            node.Input.AddRange(["x", w.Name]);
            node.Output.Add("y_" + w.Name);
            graph.Node.Add(node);
            graph.Output.Add(new ValueInfoProto { Name = "y_" + w.Name });
        }
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 21 });
        string path = _temp.File($"model-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }
}
