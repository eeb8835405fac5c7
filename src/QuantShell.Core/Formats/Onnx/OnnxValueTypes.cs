using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// The element type of every value of a model, as far as the model says it or simple rules give it: the types of graph
/// inputs, outputs, value_info, initializers and Constant nodes, then for each node's outputs the type its op gives
/// (Cast's <c>to</c>, Shape's int64, comparisons' bool, QuantizeLinear's zero point type, DequantizeLinear's scale type,
/// the branches' and bodies' outputs of If, Loop and Scan) or else the type of its first typed input, which is what
/// most ops (arithmetic, Conv, Gemm, MatMul, activations, reshaping) give. Runtimes infer types themselves; this is
/// for the places where QuantShell must state one (a subgraph output it adds, a value it quantizes).
/// </summary>
internal sealed class OnnxValueTypes
{
    private readonly Dictionary<GraphProto, Dictionary<string, OnnxDataType>> _types = new(ReferenceEqualityComparer.Instance);

    private OnnxValueTypes() { }

    public static OnnxValueTypes Infer(OnnxModel model)
    {
        var types = new OnnxValueTypes();
        types.InferGraph(model.MainGraph, null);
        return types;
    }

    /// <summary>The type of <paramref name="name"/> as seen from <paramref name="graph"/> (its own values, then the enclosing graphs'); Undefined when unknown.</summary>
    public OnnxDataType Of(OnnxGraph graph, string name)
    {
        for (var g = graph; g is not null; g = g.Parent)
        {
            if (_types.TryGetValue(g.Proto, out var own) && own.TryGetValue(name, out var type)) return type;
        }
        return OnnxDataType.Undefined;
    }

    private void InferGraph(OnnxGraph graph, IReadOnlyList<OnnxDataType>? formalInputTypes)
    {
        var own = _types[graph.Proto] = new Dictionary<string, OnnxDataType>(StringComparer.Ordinal);
        var proto = graph.Proto;
        for (int i = 0; i < proto.Input.Count; i++)
        {
            var declared = Declared(proto.Input[i]);
            own[proto.Input[i].Name] = declared != OnnxDataType.Undefined || formalInputTypes is null || i >= formalInputTypes.Count ? declared : formalInputTypes[i];
        }
        foreach (var tensor in proto.Initializer) own[tensor.Name] = (OnnxDataType)tensor.DataType;
        var declaredValues = new Dictionary<string, OnnxDataType>(StringComparer.Ordinal);
        foreach (var value in proto.ValueInfo.Concat(proto.Output))
        {
            var type = Declared(value);
            if (type != OnnxDataType.Undefined) declaredValues[value.Name] = type;
        }
        foreach (var node in proto.Node)
        {
            var outputs = OutputTypes(graph, node);
            for (int i = 0; i < node.Output.Count; i++)
            {
                if (node.Output[i].Length == 0) continue;
                own[node.Output[i]] = declaredValues.TryGetValue(node.Output[i], out var declared) ? declared : i < outputs.Count ? outputs[i] : OnnxDataType.Undefined;
            }
        }
    }

    private static OnnxDataType Declared(ValueInfoProto value) =>
        value.Type?.TensorType is { } tensor && tensor.ElemType != 0 ? (OnnxDataType)tensor.ElemType : OnnxDataType.Undefined;

    private OnnxDataType Input(OnnxGraph graph, NodeProto node, int index) =>
        index < node.Input.Count && node.Input[index].Length > 0 ? Of(graph, node.Input[index]) : OnnxDataType.Undefined;

    private IReadOnlyList<OnnxDataType> OutputTypes(OnnxGraph graph, NodeProto node)
    {
        bool standard = node.Domain is "" or "ai.onnx";
        var subgraphs = OnnxModel.Subgraphs(graph, node).ToList();
        if (standard && node.OpType is "Loop" or "Scan")
        {
            // Bodies see their formal inputs as the node's inputs give them: Loop (iteration, condition, carried...), Scan (state..., scan slices...).
            var formal = node.OpType == "Loop"
                ? new List<OnnxDataType> { OnnxDataType.Int64, OnnxDataType.Bool }.Concat(node.Input.Skip(2).Select((_, i) => Input(graph, node, i + 2))).ToList()
                : node.Input.Select((_, i) => Input(graph, node, i)).ToList();
            foreach (var sub in subgraphs) InferGraph(sub, formal);
            var body = subgraphs.FirstOrDefault();
            if (body is null) return [];
            var bodyOutputs = body.Proto.Output.Select(o => Of(body, o.Name)).ToList();
            return node.OpType == "Loop" ? bodyOutputs.Skip(1).ToList() : bodyOutputs;
        }
        foreach (var sub in subgraphs) InferGraph(sub, null);
        if (!standard) return [];
        var first = node.Input.Select(n => n.Length > 0 ? Of(graph, n) : OnnxDataType.Undefined).FirstOrDefault(t => t != OnnxDataType.Undefined);
        int Int(string name, long fallback) => (int)(node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? fallback);
        switch (node.OpType)
        {
            case "If":
                var branch = subgraphs.FirstOrDefault();
                return branch is null ? [] : branch.Proto.Output.Select(o => Of(branch, o.Name)).ToList();
            case "Constant":
                var attribute = node.Attribute.FirstOrDefault();
                return [attribute?.Name switch
                {
                    "value" => (OnnxDataType)(attribute.T?.DataType ?? 0),
                    "value_float" or "value_floats" => OnnxDataType.Float,
                    "value_int" or "value_ints" => OnnxDataType.Int64,
                    "value_string" or "value_strings" => OnnxDataType.String,
                    _ => OnnxDataType.Undefined,
                }];
            case "Cast":
                return [(OnnxDataType)Int("to", 0)];
            case "CastLike":
                return [Input(graph, node, 1)];
            case "Shape" or "Size" or "NonZero" or "ArgMax" or "ArgMin" or "NonMaxSuppression":
                return [OnnxDataType.Int64];
            case "TopK":
                return [first, OnnxDataType.Int64];
            case "Unique":
                return [first, OnnxDataType.Int64, OnnxDataType.Int64, OnnxDataType.Int64];
            case "Equal" or "Less" or "Greater" or "LessOrEqual" or "GreaterOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf":
                return [OnnxDataType.Bool];
            case "QuantizeLinear":
                var zeroType = Input(graph, node, 2);
                int outputType = Int("output_dtype", 0);
                return [zeroType != OnnxDataType.Undefined ? zeroType : outputType != 0 ? (OnnxDataType)outputType : OnnxDataType.UInt8];
            case "DequantizeLinear":
                return [Input(graph, node, 1)];
            case "DynamicQuantizeLinear":
                return [OnnxDataType.UInt8, OnnxDataType.Float, OnnxDataType.UInt8];
            case "ConstantOfShape":
                var value = node.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
                return [value is null ? OnnxDataType.Float : (OnnxDataType)value.DataType];
            case "RandomNormal" or "RandomUniform" or "EyeLike" or "RandomNormalLike" or "RandomUniformLike" or "Multinomial" or "Bernoulli":
                var dtype = node.Attribute.FirstOrDefault(a => a.Name == "dtype");
                return [dtype is not null ? (OnnxDataType)dtype.I : node.OpType is "RandomNormal" or "RandomUniform" ? OnnxDataType.Float : first];
            default:
                return Enumerable.Repeat(first, Math.Max(1, node.Output.Count)).ToList();
        }
    }
}
