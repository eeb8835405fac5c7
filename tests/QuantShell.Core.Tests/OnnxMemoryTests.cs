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

namespace QuantShell.Core.Tests;

/// <summary>
/// How an ONNX model held whole in memory is quantized without a second copy of its tensors: the fake format rewrites
/// each tensor over its own bytes (whatever holds them: raw_data, a typed field, an external file, a Constant node), the
/// qdq format lets go of each replaced weight's float bytes, and garbage is collected once enough was allocated.
/// </summary>
public sealed class OnnxMemoryTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static float[] Seeded(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    private static TensorProto Raw(string name, long[] dims, float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)OnnxDataType.Float, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    /// <summary>
    /// Four MatMul weights, one held each way: raw_data larger than a chunk (2 MiB), float_data, an external file, and a
    /// Constant node's value. Written to model.onnx (and weights.bin) in the temporary folder.
    /// </summary>
    private (string Path, Dictionary<string, float[]> Values) WriteModel()
    {
        var values = new Dictionary<string, float[]>
        {
            ["raw"] = Seeded(1, 512 * 1024), ["typed"] = Seeded(2, 64 * 16), ["external"] = Seeded(3, 64 * 16), ["constant"] = Seeded(4, 64 * 16),
        };
        var graph = new GraphProto { Name = "g" };
        graph.Initializer.Add(Raw("raw", [64, 8192], values["raw"]));
        var typed = new TensorProto { Name = "typed", DataType = (int)OnnxDataType.Float };
        typed.Dims.AddRange([64, 16]);
        typed.FloatData.AddRange(values["typed"]);
        graph.Initializer.Add(typed);
        var external = new TensorProto { Name = "external", DataType = (int)OnnxDataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        external.Dims.AddRange([64, 16]);
        File.WriteAllBytes(_temp.File("weights.bin"), MemoryMarshal.AsBytes(values["external"].AsSpan()).ToArray());
        external.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        external.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        external.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (64 * 16 * 4).ToString(System.Globalization.CultureInfo.InvariantCulture) });
        graph.Initializer.Add(external);
        var constant = new NodeProto { OpType = "Constant", Name = "c" };
        constant.Output.Add("constant");
        constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = Raw("", [64, 16], values["constant"]) });
        graph.Node.Add(constant);
        graph.Input.Add(new ValueInfoProto { Name = "x" });
        graph.Input.Add(new ValueInfoProto { Name = "x2" });
        foreach (var (weight, input) in new[] { ("raw", "x"), ("typed", "x2"), ("external", "x2"), ("constant", "x2") })
        {
            var node = new NodeProto { OpType = "MatMul", Name = "mm_" + weight };
            node.Input.AddRange([input, weight]);
            node.Output.Add("y_" + weight);
            graph.Node.Add(node);
            graph.Output.Add(new ValueInfoProto { Name = "y_" + weight });
        }
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 15 });
        string path = _temp.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return (path, values);
    }

    private static float[] ValuesOf(OnnxTensorFile file, StoredTensor tensor) =>
        MemoryMarshal.Cast<byte, float>(file.Model.ReadElementBytes(file.Source(tensor).Proto, file.Source(tensor).Graph).Span).ToArray();

    /// <summary>
    /// Rewriters read each element before they write it, at the same offset, in chunks or whole: both give the values
    /// written, and a raw_data tensor keeps its array (written over, no second one); the others become raw_data (or stay
    /// external) with the new values.
    /// </summary>
    [Theory]
    [InlineData(4096)]
    [InlineData(int.MaxValue)]
    public void Rewrite_WritesOverTheTensorsOwnBytes_WhateverHoldsThem(int chunk)
    {
        var (path, values) = WriteModel();
        using var file = OnnxTensorFile.Open(path, path);
        Assert.Equal(["raw", "typed", "external", "constant"], file.Tensors.Select(t => t.Name));
        var rawProto = file.Source(file.Tensors[0]).Proto;
        Assert.True(MemoryMarshal.TryGetArray(rawProto.RawData.Memory, out var before));
        foreach (var tensor in file.Tensors)
        {
            file.Rewrite(tensor, (_, source, destination) =>
            {
                var buffer = new byte[Math.Min(chunk, (int)tensor.ByteCount)];
                for (int n; (n = source.Read(buffer)) > 0;)
                {
                    var floats = MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, n));
                    for (int i = 0; i < floats.Length; i++) floats[i] = -2 * floats[i];
                    destination.Write(buffer, 0, n);
                }
                // Written over the tensor's own bytes as it goes, not into a buffer copied over them afterwards.
                if (tensor.Name == "raw")
                    Assert.Equal(values["raw"].Select(v => -2 * v), MemoryMarshal.Cast<byte, float>(rawProto.RawData.Span).ToArray());
            });
        }
        foreach (var tensor in file.Tensors)
            Assert.Equal(values[tensor.Name].Select(v => -2 * v), ValuesOf(file, tensor));
        Assert.True(MemoryMarshal.TryGetArray(rawProto.RawData.Memory, out var after));
        Assert.Same(before.Array, after.Array);
        var typed = file.Source(file.Tensors[1]).Proto;
        Assert.Empty(typed.FloatData);
        Assert.True(typed.HasRawData);
        Assert.True(OnnxModel.IsExternal(file.Source(file.Tensors[2]).Proto));

        // Written out and read back: the new values, the input's data file untouched.
        string output = _temp.File("out.onnx");
        file.Model.Save(output, WriteOptions.Default);
        using var written = OnnxTensorFile.Open(output, output);
        foreach (var tensor in written.Tensors) Assert.Equal(values[tensor.Name].Select(v => -2 * v), ValuesOf(written, tensor));
        Assert.Equal(MemoryMarshal.AsBytes(values["external"].AsSpan()).ToArray(), File.ReadAllBytes(_temp.File("weights.bin")));
    }

    /// <summary>A rewriter that writes fewer bytes than the tensor holds is an error, not a shorter tensor.</summary>
    [Fact]
    public void Rewrite_OfTooFewBytes_Fails()
    {
        var (path, _) = WriteModel();
        using var file = OnnxTensorFile.Open(path, path);
        var error = Assert.Throws<InvalidOperationException>(() => file.Rewrite(file.Tensors[1], (_, _, destination) => destination.Write(new byte[8])));
        Assert.Equal("The rewriter of 'typed' wrote 8 bytes, not 4096.", error.Message);
    }

    /// <summary>
    /// The qdq format replaces each quantized weight by its codes; the tensor file still lists the weight, so its float
    /// bytes are let go of explicitly (and counted), while what is not quantized keeps its data.
    /// </summary>
    [Fact]
    public void Qdq_LetsGoOfEachReplacedWeightsFloatBytes()
    {
        var (path, values) = WriteModel();
        using var file = OnnxTensorFile.Open(path, path);
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 8, Threshold = [1.0], Signed = true };
        var quantized = new HashSet<string> { "raw", "typed", "constant" };
        string output = _temp.File("qdq.onnx");
        var results = OnnxModelQuantizer.Quantize(file, OutputFormat.Qdq, output, output, WriteOptions.Default,
            t => quantized.Contains(t.Name) ? TensorDecision.Quantize(QuantizerRecipe.For(spec)) : TensorDecision.Skip("not in this test", "test"),
            new FileQuantizeOptions(), null, CancellationToken.None);
        Assert.Equal(3, results.Count(r => !r.Skipped));
        foreach (var tensor in file.Tensors)
        {
            var proto = file.Source(tensor).Proto;
            if (quantized.Contains(tensor.Name))
            {
                Assert.True(proto.RawData.IsEmpty, tensor.Name);
                Assert.Empty(proto.FloatData);
            }
            else Assert.Equal(values[tensor.Name], ValuesOf(file, tensor));
        }
        // The output holds every weight's codes.
        var written = OnnxModel.Load(output);
        Assert.Equal(3, written.MainGraph.Proto.Node.Count(n => n.OpType == "DequantizeLinear"));
    }

    /// <summary>After a tensor of a model held whole, a full collection follows once 16 MiB were allocated since the last.</summary>
    [Fact]
    public void AfterModelTensor_CollectsOnceEnoughWasAllocated()
    {
        int before = GC.CollectionCount(GC.MaxGeneration);
        var garbage = new byte[WholeTensorMemory.CollectFromAllocatedBytes + 1];
        GC.KeepAlive(garbage);
        WholeTensorMemory.AfterModelTensor();
        Assert.True(GC.CollectionCount(GC.MaxGeneration) > before);
    }
}
