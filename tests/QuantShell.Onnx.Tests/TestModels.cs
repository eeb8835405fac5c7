using System.Runtime.InteropServices;
using Google.Protobuf;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Onnx.Tests;

/// <summary>Small ONNX models built with the protobuf types, for tests that need a model of a particular shape.</summary>
internal static class TestModels
{
    public static ModelProto Model(GraphProto graph, long opset = 15, params (string Domain, long Version)[] extraOpsets)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "QuantShell.Onnx.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var (domain, version) in extraOpsets) model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        return model;
    }

    public static GraphProto Graph(string name, IEnumerable<NodeProto> nodes, IEnumerable<ValueInfoProto> inputs, IEnumerable<ValueInfoProto> outputs, params TensorProto[] initializers)
    {
        var graph = new GraphProto { Name = name };
        graph.Node.AddRange(nodes);
        graph.Input.AddRange(inputs);
        graph.Output.AddRange(outputs);
        graph.Initializer.AddRange(initializers);
        return graph;
    }

    public static TensorProto Floats(string name, long[] dims, float[] values) =>
        Raw(name, OnnxDataType.Float, dims, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static TensorProto Raw(string name, OnnxDataType type, long[] dims, byte[] raw)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    public static NodeProto Node(string opType, string[] inputs, string[] outputs, string name = "", string domain = "", params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        if (domain.Length > 0) node.Domain = domain;
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Text(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Graph(string name, GraphProto graph) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = graph };

    public static AttributeProto Tensor(string name, TensorProto tensor) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = tensor };

    public static ValueInfoProto Value(string name, OnnxDataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    /// <summary>A Constant node producing a float32 tensor.</summary>
    public static NodeProto Constant(string output, long[] dims, float[] values) =>
        Node("Constant", [], [output], output + "_node", "", Tensor("value", Floats("", dims, values)));

    /// <summary>One MCT activation quantizer between a graph input and output: the smallest model to lower.</summary>
    public static ModelProto Activation(string opType, int numBits, params AttributeProto[] values)
    {
        var attributes = new List<AttributeProto> { Int("num_bits", numBits), Text("mctq_version", "1.6.0") };
        attributes.AddRange(values);
        var node = Node(opType, ["x"], ["y"], "/act/" + opType, "mct_quantizers", [.. attributes]);
        return Model(Graph("activation", [node], [Value("x", OnnxDataType.Float, 1, 1 << 16)], [Value("y", OnnxDataType.Float, 1, 1 << 16)]),
            15, ("mct_quantizers", 1));
    }

    public static float[] Seeded(int seed, int count, float scale)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * scale);
        return values;
    }
}
