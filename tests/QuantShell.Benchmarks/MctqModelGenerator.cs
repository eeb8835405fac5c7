using Google.Protobuf;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Benchmarks;

/// <summary>
/// Writes a synthetic model in MCT's export form ("MCTQ"): a stack of 3x3 Conv layers with per-channel symmetric weight
/// quantizers and POT activation quantizers, then a Gemm with a uniform weight quantizer, sized to hold at least the
/// requested megabytes of float32 weights. For benchmarks of <c>dotnet quant lower</c>; nothing is committed.
/// </summary>
internal static class MctqModelGenerator
{
    private const int Channels = 512;

    public static void Run(string path, int megabytes)
    {
        long convBytes = 4L * Channels * Channels * 9;
        int layers = (int)Math.Max(1, (megabytes * 1_000_000L + convBytes - 1) / convBytes);
        var random = new Random(5);
        var graph = new GraphProto { Name = "synthetic_mctq" };
        graph.Input.Add(Value("input", 1, Channels, 8, 8));
        string x = "input";
        for (int l = 0; l < layers; l++)
        {
            string w = $"conv{l}.weight";
            graph.Initializer.Add(Floats(w, [Channels, Channels, 3, 3], random, 0.05f));
            var thresholds = Enumerable.Range(0, Channels).Select(_ => 0.1f + (float)random.NextDouble() * 0.1f).ToArray();
            graph.Node.Add(Constant($"/conv{l}/Constant_output_0", thresholds));
            graph.Node.Add(Node("WeightsSymmetricQuantizer", [w, $"/conv{l}/Constant_output_0"], $"/conv{l}/WeightsSymmetricQuantizer_output_0", "mct_quantizers",
                Int("num_bits", 8), Int("per_channel", 1), Int("channel_axis", 0), Int("signed", 1)));
            graph.Node.Add(Node("Conv", [x, $"/conv{l}/WeightsSymmetricQuantizer_output_0"], $"/conv{l}/Conv_output_0", "", Ints("pads", 1, 1, 1, 1)));
            graph.Node.Add(Node("Relu", [$"/conv{l}/Conv_output_0"], $"/relu{l}_output_0", ""));
            graph.Node.Add(Node("ActivationPOTQuantizer", [$"/relu{l}_output_0"], $"/a{l}/ActivationPOTQuantizer_output_0", "mct_quantizers",
                Int("num_bits", 8), Int("signed", 0), Float("threshold", 4f)));
            x = $"/a{l}/ActivationPOTQuantizer_output_0";
        }
        graph.Node.Add(Node("GlobalAveragePool", [x], "/pool_output_0", ""));
        graph.Node.Add(Node("Flatten", ["/pool_output_0"], "/flatten_output_0", ""));
        graph.Initializer.Add(Floats("fc.weight", [1000, Channels], random, 0.05f));
        graph.Node.Add(Constant("/fc/Constant_output_0", Enumerable.Repeat(-0.2f, 1000).ToArray()));
        graph.Node.Add(Constant("/fc/Constant_1_output_0", Enumerable.Repeat(0.2f, 1000).ToArray()));
        graph.Node.Add(Node("WeightsUniformQuantizer", ["fc.weight", "/fc/Constant_output_0", "/fc/Constant_1_output_0"], "/fc/WeightsUniformQuantizer_output_0", "mct_quantizers",
            Int("num_bits", 8), Int("per_channel", 1), Int("channel_axis", 0), Int("signed", 1)));
        graph.Node.Add(Node("Gemm", ["/flatten_output_0", "/fc/WeightsUniformQuantizer_output_0"], "/fc/Gemm_output_0", "", Int("transB", 1)));
        graph.Node.Add(Node("ActivationSymmetricQuantizer", ["/fc/Gemm_output_0"], "output", "mct_quantizers", Int("num_bits", 8), Int("signed", 1), Float("threshold", 8f)));
        graph.Output.Add(Value("output", 1, 1000));
        var model = new ModelProto { IrVersion = 8, ProducerName = "QuantShell.Benchmarks", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 15 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "mct_quantizers", Version = 1 });
        using (var file = File.Create(path)) model.WriteTo(file);
        Console.WriteLine($"{path}: {layers} conv layers + fc, {new FileInfo(path).Length / 1e6:F1} MB");
    }

    private static TensorProto Floats(string name, long[] dims, Random random, float scale)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        var tensor = new TensorProto { Name = name, DataType = (int)OnnxDataType.Float, RawData = UnsafeByteOperations.UnsafeWrap(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray()) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    private static NodeProto Constant(string output, float[] values)
    {
        var tensor = new TensorProto { DataType = (int)OnnxDataType.Float, RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan())) };
        tensor.Dims.Add(values.Length);
        return Node("Constant", [], output, "", new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
    }

    private static NodeProto Node(string op, string[] inputs, string output, string domain, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = output.Replace("_output_0", "", StringComparison.Ordinal) };
        if (domain.Length > 0) node.Domain = domain;
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        return node;
    }

    private static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    private static ValueInfoProto Value(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)OnnxDataType.Float, Shape = shape } } };
    }
}
