using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// The standard ONNX nodes that apply an activation quantizer to a float32 value, shared by lowering MCT's models
/// (<see cref="Mct.MctLowering"/>) and quantizing a model's activations from a rules file: each returns the nodes that
/// compute <c>output</c> from <c>input</c> (the caller puts them in the graph) and adds their constants to the graph.
/// <list type="bullet">
/// <item><see cref="Exact"/>: <c>Mul</c> by the float32 reciprocal of the scale, <c>Round</c> (half to even), <c>Add</c>
/// the zero point, <c>Clip</c> to [qmin, qmax], <c>Sub</c>, <c>Mul</c> by the scale: PyTorch's fake-quantize, bit for bit.</item>
/// <item><see cref="Qdq"/>: <c>QuantizeLinear</c> + <c>DequantizeLinear</c> (int8/uint8, int16/uint16 above 8 bits), after
/// a <c>Clip</c> to the grid's range when it is narrower than the storage type; runtimes run these as integer kernels.
/// QuantizeLinear divides by the scale where PyTorch multiplies by its float32 reciprocal: equal for power-of-two scales,
/// otherwise one step apart for values within a rounding of a tie.</item>
/// <item><see cref="Lut"/>: MCT's activation LUT (<c>Div</c> by t + eps, <c>Mul</c> by k, <c>Clip</c>, the nearest
/// entry by <c>ArgMin</c> of the distances to the table as listed, <c>Gather</c> of entry / k, <c>Mul</c> by t): bit for bit,
/// and fake only, since a table has no integer grid for QuantizeLinear.</item>
/// </list>
/// </summary>
internal static class OnnxActivationNodes
{
    /// <summary>
    /// The default opset the nodes of a form need: Round and Clip with inputs 11; 16-bit QuantizeLinear 21. QuantizeLinear
    /// itself exists from 10, but ONNX Runtime's optimizer quantizes a Conv's bias between QDQ pairs with a Round (11), and
    /// refuses a model of opset 10 once it has fused one.
    /// </summary>
    public static long OpsetNeeded(bool qdq, InferableQuantizer quantizer)
    {
        if (!qdq || quantizer is LutQuantizer) return 11;
        var p = ((GridQuantizer)quantizer).Parameters;
        var storage = StorageType(p.QuantMin, p.QuantMax);
        return storage is OnnxDataType.Int16 or OnnxDataType.UInt16 ? 21 : 11;
    }

    /// <summary>The opset a value's type needs around the nodes: 13 for a Cast to or from bfloat16, else none (1).</summary>
    public static long OpsetNeeded(OnnxDataType valueType) => valueType == OnnxDataType.BFloat16 ? 13 : 1;

    /// <summary>
    /// The nodes <paramref name="build"/> makes from a float32 input to a float32 output, for a value of
    /// <paramref name="type"/>: a float16 or bfloat16 value is cast to float32 (exact) first and the result back to its type
    /// (rounded to nearest even: the grid's points are exact in float16 for power-of-two scales within its range). The
    /// quantizer's arithmetic is float32 as MCT's, and QuantizeLinear takes float16 only from opset 19, with a float16 scale.
    /// </summary>
    public static IReadOnlyList<NodeProto> InFloat32(OnnxModel model, string stem, string input, string output, OnnxDataType type,
                                                     Func<string, string, IReadOnlyList<NodeProto>> build)
    {
        if (type is not (OnnxDataType.Float16 or OnnxDataType.BFloat16)) return build(input, output);
        string wide = model.NewName(stem + "/float32"), result = model.NewName(stem + "/quantized_float32");
        return [Cast(model.NewName(stem + "/CastToFloat32"), input, wide, OnnxDataType.Float), .. build(wide, result),
                Cast(model.NewName(stem + "/CastBack"), result, output, type)];
    }

    private static NodeProto Cast(string name, string input, string output, OnnxDataType to)
    {
        var node = Node("Cast", name, [input], [output]);
        node.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)to });
        return node;
    }

    /// <summary>PyTorch's fake-quantize in float32 ops (see the class summary).</summary>
    public static IReadOnlyList<NodeProto> Exact(OnnxModel model, OnnxGraph graph, string input, string output, string stem, QuantizationParameters p)
    {
        float scale = p.Scales[0];
        int zero = p.ZeroPoints[0];
        string inverse = AddScalar(model, graph, stem + "/inverse_scale", 1f / scale);
        string zeroPoint = AddScalar(model, graph, stem + "/zero_point", zero);
        string low = AddScalar(model, graph, stem + "/quant_min", p.QuantMin);
        string high = AddScalar(model, graph, stem + "/quant_max", p.QuantMax);
        string scaleName = AddScalar(model, graph, stem + "/scale", scale);
        string scaled = model.NewName(stem + "/scaled"), rounded = model.NewName(stem + "/rounded"), shifted = model.NewName(stem + "/shifted");
        string clamped = model.NewName(stem + "/clamped"), centered = model.NewName(stem + "/centered");
        return
        [
            Node("Mul", model.NewName(stem + "/MulInverseScale"), [input, inverse], [scaled]),
            Node("Round", model.NewName(stem + "/Round"), [scaled], [rounded]),
            Node("Add", model.NewName(stem + "/AddZeroPoint"), [rounded, zeroPoint], [shifted]),
            Node("Clip", model.NewName(stem + "/Clip"), [shifted, low, high], [clamped]),
            Node("Sub", model.NewName(stem + "/SubZeroPoint"), [clamped, zeroPoint], [centered]),
            Node("Mul", model.NewName(stem + "/MulScale"), [centered, scaleName], [output]),
        ];
    }

    /// <summary>QuantizeLinear + DequantizeLinear on the quantizer's grid (see the class summary); returns the codes' type too.</summary>
    public static (IReadOnlyList<NodeProto> Nodes, OnnxDataType Storage) Qdq(OnnxModel model, OnnxGraph graph, string input, string output, string stem, QuantizationParameters p)
    {
        float scale = p.Scales[0];
        int zero = p.ZeroPoints[0];
        var storage = StorageType(p.QuantMin, p.QuantMax);
        var (typeMin, typeMax) = Range(storage);
        var nodes = new List<NodeProto>();
        if (p.QuantMin > typeMin || p.QuantMax < typeMax)
        {
            // QuantizeLinear saturates to its type's range; a narrower grid (fewer bits) is clipped to first, in float32.
            string low = AddScalar(model, graph, stem + "/range_min", (p.QuantMin - zero) * scale);
            string high = AddScalar(model, graph, stem + "/range_max", (p.QuantMax - zero) * scale);
            string clipped = model.NewName(stem + "/clipped");
            nodes.Add(Node("Clip", model.NewName(stem + "/Clip"), [input, low, high], [clipped]));
            input = clipped;
        }
        string scaleInit = AddScalar(model, graph, stem + "/scale", scale);
        var zeroBytes = new byte[OnnxDataTypes.RawBytes(storage, 1)];
        OnnxQdqWeights.WriteInteger(zeroBytes, storage, 0, zero);
        string zeroInit = AddInitializer(model, graph, stem + "/zero_point", storage, [], zeroBytes);
        string codes = model.NewName(stem + "/quantized");
        nodes.Add(Node("QuantizeLinear", model.NewName(stem + "/QuantizeLinear"), [input, scaleInit, zeroInit], [codes]));
        nodes.Add(Node("DequantizeLinear", model.NewName(stem + "/DequantizeLinear"), [codes, scaleInit, zeroInit], [output]));
        return (nodes, storage);
    }

    /// <summary>MCT's activation LUT in float32 ops (see the class summary); <paramref name="opset"/> decides how Unsqueeze takes its axes.</summary>
    public static IReadOnlyList<NodeProto> Lut(OnnxModel model, OnnxGraph graph, string input, string output, string stem, LutQuantizer quantizer, long opset)
    {
        var plan = (LutPlan)quantizer.CreatePlan([1]);
        var table = quantizer.Table;
        float divisor = plan.DivisorOf<float>(0);
        float threshold = (float)quantizer.Spec.Threshold![0];
        var listed = quantizer.LutValues.Select(v => (float)v).ToArray();
        var levels = quantizer.LutValues.Select(v => (float)(v / table.Scale)).ToArray();
        string divisorName = AddScalar(model, graph, stem + "/divisor", divisor);
        string k = AddScalar(model, graph, stem + "/lut_scale", (float)table.Scale);
        string low = AddScalar(model, graph, stem + "/lut_min", (float)table.Low);
        string high = AddScalar(model, graph, stem + "/lut_max", (float)table.High);
        string entries = AddInitializer(model, graph, stem + "/lut", OnnxDataType.Float, [listed.Length], OnnxTensorCodec.EncodeFloats(listed, OnnxDataType.Float));
        string levelsName = AddInitializer(model, graph, stem + "/lut_levels", OnnxDataType.Float, [levels.Length], OnnxTensorCodec.EncodeFloats(levels, OnnxDataType.Float));
        string thresholdName = AddScalar(model, graph, stem + "/threshold", threshold);
        string divided = model.NewName(stem + "/divided"), scaled = model.NewName(stem + "/scaled"), clamped = model.NewName(stem + "/clamped");
        string expanded = model.NewName(stem + "/expanded"), difference = model.NewName(stem + "/difference"), distance = model.NewName(stem + "/distance");
        string index = model.NewName(stem + "/index"), level = model.NewName(stem + "/level");
        var unsqueeze = Node("Unsqueeze", model.NewName(stem + "/Unsqueeze"), [clamped], [expanded]);
        if (opset >= 13)
            unsqueeze.Input.Add(AddInitializer(model, graph, stem + "/last_axis", OnnxDataType.Int64, [1], BitConverter.GetBytes(-1L)));
        else
            unsqueeze.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { -1L } });
        var argMin = Node("ArgMin", model.NewName(stem + "/ArgMin"), [distance], [index]);
        argMin.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 });
        argMin.Attribute.Add(new AttributeProto { Name = "keepdims", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        return
        [
            Node("Div", model.NewName(stem + "/Div"), [input, divisorName], [divided]),
            Node("Mul", model.NewName(stem + "/MulLutScale"), [divided, k], [scaled]),
            Node("Clip", model.NewName(stem + "/Clip"), [scaled, low, high], [clamped]),
            unsqueeze,
            Node("Sub", model.NewName(stem + "/Sub"), [expanded, entries], [difference]),
            Node("Abs", model.NewName(stem + "/Abs"), [difference], [distance]),
            argMin,
            Node("Gather", model.NewName(stem + "/Gather"), [levelsName, index], [level]),
            Node("Mul", model.NewName(stem + "/MulThreshold"), [level, thresholdName], [output]),
        ];
    }

    /// <summary>The smallest integer type of QuantizeLinear/DequantizeLinear that holds [qmin, qmax].</summary>
    public static OnnxDataType StorageType(int quantMin, int quantMax) =>
        quantMin < 0
            ? quantMin >= sbyte.MinValue && quantMax <= sbyte.MaxValue ? OnnxDataType.Int8 : OnnxDataType.Int16
            : quantMax <= byte.MaxValue ? OnnxDataType.UInt8 : OnnxDataType.UInt16;

    private static (int Min, int Max) Range(OnnxDataType type) => type switch
    {
        OnnxDataType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        OnnxDataType.UInt8 => (byte.MinValue, byte.MaxValue),
        OnnxDataType.Int16 => (short.MinValue, short.MaxValue),
        _ => (ushort.MinValue, ushort.MaxValue),
    };

    private static string AddInitializer(OnnxModel model, OnnxGraph graph, string stem, OnnxDataType type, long[] dims, byte[] raw)
    {
        string name = model.NewName(stem);
        graph.Proto.Initializer.Add(OnnxTensorCodec.Tensor(name, type, dims, raw));
        return name;
    }

    private static string AddScalar(OnnxModel model, OnnxGraph graph, string stem, float value) =>
        AddInitializer(model, graph, stem, OnnxDataType.Float, [], OnnxTensorCodec.EncodeFloats([value], OnnxDataType.Float));

    private static NodeProto Node(string opType, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }
}
