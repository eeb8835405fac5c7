using System.Buffers.Binary;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// The <c>qdq</c> form of one quantized weight, shared by lowering MCT's models and quantizing a model's weights: its
/// integer codes (the plan's <see cref="QuantizationPlan.Encode"/>) in initializers, and the standard nodes that compute
/// the fake-quantized values from them, bit for bit:
/// <list type="bullet">
/// <item>integer grids: <c>NAME_quantized</c> (int8/uint8, int16/uint16 above 8 bits), <c>NAME_scale</c> (float32) and
/// <c>NAME_zero_point</c> into <c>DequantizeLinear</c> (<c>axis</c> = the channel axis when per channel), which computes
/// <c>(q - z) * s</c> in float32 as the kernel does;</item>
/// <item>tables: <c>NAME_lut_index</c> (uint8) → <c>Cast</c> → <c>Gather</c> over <c>NAME_lut</c> (the table as listed) →
/// <c>Mul</c> by <c>NAME_scale</c> = <c>t / 2^(B - signed)</c>: <c>entry * (t / k)</c> and <c>(entry / k) * t</c> are one
/// float32 value because k is a power of two.</item>
/// </list>
/// </summary>
internal static class OnnxQdqWeights
{
    /// <summary>What was added: the nodes (to insert before the weight's readers), the codes' type, the scales and zero points.</summary>
    public sealed record Emitted(IReadOnlyList<NodeProto> Nodes, OnnxDataType Storage, float[] Scale, int[] ZeroPoint, bool Gather);

    /// <summary>The type of the codes: the smallest DequantizeLinear type that holds them; a table's indices are unsigned.</summary>
    public static OnnxDataType StorageType(QuantizationPlan plan)
    {
        var (min, max) = plan.CodeRange;
        return min < 0
            ? min >= sbyte.MinValue && max <= sbyte.MaxValue ? OnnxDataType.Int8 : OnnxDataType.Int16
            : max <= byte.MaxValue ? OnnxDataType.UInt8 : OnnxDataType.UInt16;
    }

    /// <summary>The element type of <see cref="StorageType"/> as tensor files name it.</summary>
    public static DType StorageDType(QuantizationPlan plan) => OnnxDataTypes.ToDType(StorageType(plan));

    /// <summary>The default opset the nodes need: per-axis DequantizeLinear 13, 16-bit types 21, the table's ops 11.</summary>
    public static long OpsetNeeded(QuantizationPlan plan, bool lut)
    {
        if (lut) return 11;
        if (StorageType(plan) is OnnxDataType.Int16 or OnnxDataType.UInt16) return 21;
        return plan.ChannelAxis is null ? 10 : 13;
    }

    /// <summary>
    /// Adds the initializers of a weight's codes to <paramref name="graph"/> (names made from <paramref name="stem"/>) and
    /// returns the nodes (named from <paramref name="nodeStem"/>) that compute <paramref name="output"/> from them, for
    /// <paramref name="plan"/> of <paramref name="spec"/>; the caller puts the nodes in the graph. <paramref name="codeBytes"/>:
    /// the codes, little-endian, in <see cref="StorageType"/> (the initializer's raw_data). Names are made unique in
    /// <paramref name="model"/>.
    /// </summary>
    public static Emitted Emit(OnnxModel model, OnnxGraph graph, string stem, string output, string nodeStem,
                               QuantizationPlan plan, QuantizerSpec spec, byte[] codeBytes)
    {
        var storage = StorageType(plan);
        if (codeBytes.Length != OnnxDataTypes.RawBytes(storage, plan.ElementCount))
            throw new ArgumentException($"{codeBytes.Length} bytes of codes for {plan.ElementCount} {OnnxDataTypes.Name(storage)} codes.", nameof(codeBytes));
        int channels = plan.ChannelAxis is null ? 1 : plan.Channels;
        var scale = Enumerable.Range(0, channels).Select(c => (float)plan.ScaleOf(c)).ToArray();
        var zeroPoint = Enumerable.Range(0, channels).Select(plan.ZeroPointOf).ToArray();
        long[] shape = plan.Shape;
        if (!spec.IsLut)
        {
            long[] parameterDims = plan.ChannelAxis is null ? [] : [channels];
            var zeroBytes = new byte[OnnxDataTypes.RawBytes(storage, channels)];
            for (int c = 0; c < channels; c++) WriteInteger(zeroBytes, storage, c, zeroPoint[c]);
            string codesName = AddInitializer(model, graph, stem + "_quantized", storage, shape, codeBytes);
            string scaleName = AddInitializer(model, graph, stem + "_scale", OnnxDataType.Float, parameterDims, OnnxTensorCodec.EncodeFloats(scale, OnnxDataType.Float));
            string zeroName = AddInitializer(model, graph, stem + "_zero_point", storage, parameterDims, zeroBytes);
            var dequantize = Node("DequantizeLinear", model.NewName($"{nodeStem}/DequantizeLinear"), [codesName, scaleName, zeroName], [output]);
            if (plan.ChannelAxis is int axis) dequantize.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis });
            return new Emitted([dequantize], storage, scale, zeroPoint, Gather: false);
        }
        var table = spec.LutValues!.Select(v => (float)v).ToArray();
        var scaleDims = new long[shape.Length];
        Array.Fill(scaleDims, 1L);
        if (plan.ChannelAxis is int channelAxis) scaleDims[channelAxis] = channels;
        string indicesName = AddInitializer(model, graph, stem + "_lut_index", storage, shape, codeBytes);
        string tableName = AddInitializer(model, graph, stem + "_lut", OnnxDataType.Float, [table.Length], OnnxTensorCodec.EncodeFloats(table, OnnxDataType.Float));
        string lutScaleName = AddInitializer(model, graph, stem + "_scale", OnnxDataType.Float, plan.ChannelAxis is null ? [] : scaleDims, OnnxTensorCodec.EncodeFloats(scale, OnnxDataType.Float));
        string castOut = model.NewName(stem + "_lut_index_int32");
        string gatherOut = model.NewName(stem + "_lut_values");
        var cast = Node("Cast", model.NewName($"{nodeStem}/Cast"), [indicesName], [castOut]);
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)OnnxDataType.Int32 });
        var gather = Node("Gather", model.NewName($"{nodeStem}/Gather"), [tableName, castOut], [gatherOut]);
        var multiply = Node("Mul", model.NewName($"{nodeStem}/Mul"), [gatherOut, lutScaleName], [output]);
        return new Emitted([cast, gather, multiply], storage, scale, [], Gather: true);
    }

    private static string AddInitializer(OnnxModel model, OnnxGraph graph, string stem, OnnxDataType type, long[] dims, byte[] raw)
    {
        string name = model.NewName(stem);
        graph.Proto.Initializer.Add(OnnxTensorCodec.Tensor(name, type, dims, raw));
        return name;
    }

    private static NodeProto Node(string opType, string name, string[] inputs, string[] outputs)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    internal static void WriteInteger(byte[] bytes, OnnxDataType type, int index, int value)
    {
        switch (type)
        {
            case OnnxDataType.Int8: bytes[index] = (byte)(sbyte)value; break;
            case OnnxDataType.UInt8: bytes[index] = (byte)value; break;
            case OnnxDataType.Int16: BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(2 * index), (short)value); break;
            default: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * index), (ushort)value); break;
        }
    }
}
