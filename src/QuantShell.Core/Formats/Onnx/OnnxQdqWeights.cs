using System.Buffers.Binary;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs.Quantize;
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
/// <item>the same arithmetic without DequantizeLinear (<see cref="Dequantizer.Arithmetic"/>, for models whose opset cannot
/// be raised to the one DequantizeLinear needs, and for float64 weights, which the kernel computes in float64 and
/// DequantizeLinear cannot give): <c>Cast</c> of the codes to float32 (float64) → <c>Sub</c> of the zero point (left out
/// when every zero point is 0) → <c>Mul</c> by the scale, both shaped to broadcast along the channel axis; <c>q - z</c> is
/// exact, so the one rounding is the product's, as in the kernel;</item>
/// <item>tables: <c>NAME_lut_index</c> (uint8) → <c>Cast</c> → <c>Gather</c> over <c>NAME_lut</c> (the table as listed) →
/// <c>Mul</c> by <c>NAME_scale</c> = <c>t / 2^(B - signed)</c>: <c>entry * (t / k)</c> and <c>(entry / k) * t</c> are one
/// float32 value because k is a power of two.</item>
/// </list>
/// The scale is always float32: the quantizers' scales are float32 values, which a float16 or bfloat16 scale could not
/// hold. A float16 or bfloat16 weight gets a final <c>Cast</c> to its type, which rounds the float32 value to nearest even
/// exactly as the kernel's fake format does; a float64 weight is computed in float64 (a table's value is a float32 value
/// there too, so tables end with a Cast to float64).
/// </summary>
internal static class OnnxQdqWeights
{
    /// <summary>
    /// What was added: the nodes (to insert where the weight was produced, in order), the codes' type, the scales and zero
    /// points, and the names of the initializers that hold the codes, scale, zero point (null when there is none) and table.
    /// </summary>
    public sealed record Emitted(IReadOnlyList<NodeProto> Nodes, OnnxDataType Storage, float[] Scale, int[] ZeroPoint, bool Gather,
                                 string Codes, string ScaleName, string? ZeroPointName, string? LutName);

    /// <summary>How the codes of an integer grid are turned back into values.</summary>
    public enum Dequantizer
    {
        /// <summary>ONNX's DequantizeLinear (opset 10, per axis 13, 16-bit 21).</summary>
        DequantizeLinear,

        /// <summary>Cast, Sub and Mul: any opset from 7, any output precision.</summary>
        Arithmetic,
    }

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
    /// The default opset the nodes need for a weight of <paramref name="type"/> emitted with <paramref name="dequantizer"/>:
    /// <see cref="OpsetNeeded(QuantizationPlan, bool)"/> for DequantizeLinear and tables; 7 for the arithmetic form
    /// (numpy-style broadcasting), which float64 grids always get, and for tables with it (their indices are never
    /// negative, which is what Gather gained at 11); a Cast to bfloat16 needs 13.
    /// </summary>
    public static long OpsetNeeded(QuantizationPlan plan, bool lut, OnnxDataType type, Dequantizer dequantizer)
    {
        bool arithmetic = dequantizer == Dequantizer.Arithmetic || !lut && type == OnnxDataType.Double;
        long needed = arithmetic ? 7 : OpsetNeeded(plan, lut);
        return type == OnnxDataType.BFloat16 ? Math.Max(needed, 13) : needed;
    }

    /// <summary>
    /// The refusal of group-wise scales, which have no qdq form (<paramref name="source"/> names the tensor, with its file
    /// where the caller has it): one message for every caller.
    /// </summary>
    internal static QuantShellException NoGroupWiseForm(string source, int groupSize) =>
        new($"{source}: group-wise scales ({Parameter.GroupSize} {groupSize}) have no qdq form (DequantizeLinear takes one scale per tensor or per " +
            $"channel); write {Parameter.Format.With(OutputFormat.Fake)}, or give the tensor per-channel values.",
            ErrorIds.GroupSizeInvalid, QuantShellErrorKind.InvalidArgument, Parameter.GroupSize.Name);

    /// <summary>
    /// Adds the initializers of a weight's codes to <paramref name="graph"/> (names made from <paramref name="stem"/>) and
    /// returns the nodes (named from <paramref name="nodeStem"/>) that compute <paramref name="output"/> from them, for
    /// <paramref name="plan"/> of <paramref name="spec"/>; the caller puts the nodes in the graph. <paramref name="codeBytes"/>:
    /// the codes, little-endian, in <see cref="StorageType"/> (the initializer's raw_data). <paramref name="type"/>: the
    /// weight's own type, which <paramref name="output"/> has. Names are made unique in <paramref name="model"/>.
    /// </summary>
    public static Emitted Emit(OnnxModel model, OnnxGraph graph, string stem, string output, string nodeStem,
                               QuantizationPlan plan, QuantizerSpec spec, byte[] codeBytes,
                               OnnxDataType type = OnnxDataType.Float, Dequantizer dequantizer = Dequantizer.DequantizeLinear)
    {
        if (!OnnxDataTypes.IsQuantizable(type)) throw new ArgumentException($"{OnnxDataTypes.Name(type)} is not a float type.", nameof(type));
        if (plan.GroupSize is int groupSize) throw NoGroupWiseForm(stem, groupSize);
        var storage = StorageType(plan);
        if (codeBytes.Length != OnnxDataTypes.RawBytes(storage, plan.ElementCount))
            throw new ArgumentException($"{codeBytes.Length} bytes of codes for {plan.ElementCount} {OnnxDataTypes.Name(storage)} codes.", nameof(codeBytes));
        int channels = plan.ChannelAxis is null ? 1 : plan.Channels;
        var scale = Enumerable.Range(0, channels).Select(c => (float)plan.ScaleOf(c)).ToArray();
        var zeroPoint = Enumerable.Range(0, channels).Select(plan.ZeroPointOf).ToArray();
        long[] shape = plan.Shape;
        // Per-channel parameters of the element-wise forms broadcast along the channel axis: [1, .., C, .., 1].
        var broadcastDims = new long[shape.Length];
        Array.Fill(broadcastDims, 1L);
        if (plan.ChannelAxis is int channelAxis) broadcastDims[channelAxis] = channels;
        long[] elementwiseDims = plan.ChannelAxis is null ? [] : broadcastDims;
        var nodes = new List<NodeProto>();
        // The last node writes the output; a Cast to the weight's type follows when the arithmetic ran in another one.
        string Final(OnnxDataType computed, string what) => computed == type ? output : model.NewName($"{stem}_{what}");
        void CastTo(OnnxDataType computed, string from)
        {
            if (computed == type) return;
            nodes.Add(Cast(model.NewName($"{nodeStem}/Cast_to_{OnnxDataTypes.Name(type)}"), from, output, type));
        }
        if (!spec.IsLut)
        {
            string codesName = AddInitializer(model, graph, stem + "_quantized", storage, shape, codeBytes);
            if (dequantizer == Dequantizer.DequantizeLinear && type != OnnxDataType.Double)
            {
                long[] parameterDims = plan.ChannelAxis is null ? [] : [channels];
                var zeroBytes = new byte[OnnxDataTypes.RawBytes(storage, channels)];
                for (int c = 0; c < channels; c++) WriteInteger(zeroBytes, storage, c, zeroPoint[c]);
                string scaleName = AddInitializer(model, graph, stem + "_scale", OnnxDataType.Float, parameterDims, OnnxTensorCodec.EncodeFloats(scale, OnnxDataType.Float));
                string zeroName = AddInitializer(model, graph, stem + "_zero_point", storage, parameterDims, zeroBytes);
                string dequantized = Final(OnnxDataType.Float, "dequantized");
                var dequantize = Node("DequantizeLinear", model.NewName($"{nodeStem}/DequantizeLinear"), [codesName, scaleName, zeroName], [dequantized]);
                if (plan.ChannelAxis is int axis) dequantize.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = axis });
                nodes.Add(dequantize);
                CastTo(OnnxDataType.Float, dequantized);
                return new Emitted(nodes, storage, scale, zeroPoint, Gather: false, codesName, scaleName, zeroName, null);
            }
            var compute = type == OnnxDataType.Double ? OnnxDataType.Double : OnnxDataType.Float;
            string asFloat = model.NewName($"{stem}_quantized_{OnnxDataTypes.Name(compute)}");
            nodes.Add(Cast(model.NewName($"{nodeStem}/Cast"), codesName, asFloat, compute));
            string? zeroPointName = null;
            string centered = asFloat;
            if (zeroPoint.Any(z => z != 0))
            {
                zeroPointName = AddInitializer(model, graph, stem + "_zero_point", compute, elementwiseDims, Encode(zeroPoint.Select(z => (double)z).ToArray(), compute));
                centered = model.NewName($"{stem}_centered");
                nodes.Add(Node("Sub", model.NewName($"{nodeStem}/Sub"), [asFloat, zeroPointName], [centered]));
            }
            string scaleInitializer = AddInitializer(model, graph, stem + "_scale", compute, elementwiseDims, Encode(scale.Select(v => (double)v).ToArray(), compute));
            string product = Final(compute, "dequantized");
            nodes.Add(Node("Mul", model.NewName($"{nodeStem}/Mul"), [centered, scaleInitializer], [product]));
            CastTo(compute, product);
            return new Emitted(nodes, storage, scale, zeroPoint, Gather: false, codesName, scaleInitializer, zeroPointName, null);
        }
        var table = spec.LutValues!.Select(v => (float)v).ToArray();
        string indicesName = AddInitializer(model, graph, stem + "_lut_index", storage, shape, codeBytes);
        string tableName = AddInitializer(model, graph, stem + "_lut", OnnxDataType.Float, [table.Length], OnnxTensorCodec.EncodeFloats(table, OnnxDataType.Float));
        string lutScaleName = AddInitializer(model, graph, stem + "_scale", OnnxDataType.Float, elementwiseDims, OnnxTensorCodec.EncodeFloats(scale, OnnxDataType.Float));
        string castOut = model.NewName(stem + "_lut_index_int32");
        string gatherOut = model.NewName(stem + "_lut_values");
        nodes.Add(Cast(model.NewName($"{nodeStem}/Cast"), indicesName, castOut, OnnxDataType.Int32));
        nodes.Add(Node("Gather", model.NewName($"{nodeStem}/Gather"), [tableName, castOut], [gatherOut]));
        string values = Final(OnnxDataType.Float, "dequantized");
        nodes.Add(Node("Mul", model.NewName($"{nodeStem}/Mul"), [gatherOut, lutScaleName], [values]));
        CastTo(OnnxDataType.Float, values);
        return new Emitted(nodes, storage, scale, [], Gather: true, indicesName, lutScaleName, null, tableName);
    }

    private static NodeProto Cast(string name, string input, string output, OnnxDataType to)
    {
        var cast = Node("Cast", name, [input], [output]);
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)to });
        return cast;
    }

    private static byte[] Encode(double[] values, OnnxDataType type) =>
        type == OnnxDataType.Double
            ? System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray()
            : OnnxTensorCodec.EncodeFloats(values.Select(v => (float)v).ToArray(), type);

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
