using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// Tensor data in and out of <see cref="TensorProto"/>: element counts from dims, the length checks, decoding raw_data or
/// the typed fields into arrays and encoding quantized values back. Little-endian, as ONNX stores raw_data.
/// </summary>
internal static class OnnxTensorCodec
{
    /// <summary>The element count of dims; negative dims or an overflowing product are errors naming the tensor.</summary>
    public static long ElementCount(TensorProto tensor, string where)
    {
        long count = 1;
        foreach (long dim in tensor.Dims)
        {
            if (dim < 0)
                throw new TensorFormatException(where, $"dims [{string.Join(", ", tensor.Dims)}] hold a negative dimension.", ErrorIds.OnnxTensorShapeInvalid);
            try { count = checked(count * dim); }
            catch (OverflowException)
            {
                throw new TensorFormatException(where, $"dims [{string.Join(", ", tensor.Dims)}] hold more elements than can be addressed.", ErrorIds.OnnxTensorShapeInvalid);
            }
        }
        return count;
    }

    /// <summary>How many values the typed field of <paramref name="type"/> holds, or -1 when the type has none we know.</summary>
    private static long TypedCount(TensorProto tensor, OnnxDataType type) => type switch
    {
        OnnxDataType.Float => tensor.FloatData.Count,
        OnnxDataType.Complex64 => tensor.FloatData.Count / 2,
        OnnxDataType.Double => tensor.DoubleData.Count,
        OnnxDataType.Complex128 => tensor.DoubleData.Count / 2,
        OnnxDataType.Int64 => tensor.Int64Data.Count,
        OnnxDataType.UInt32 or OnnxDataType.UInt64 => tensor.Uint64Data.Count,
        OnnxDataType.String => tensor.StringData.Count,
        OnnxDataType.UInt4 or OnnxDataType.Int4 or OnnxDataType.Float4E2M1 => tensor.Int32Data.Count * 2L,
        OnnxDataType.Undefined => -1,
        _ when Enum.IsDefined(type) => tensor.Int32Data.Count,
        _ => -1,
    };

    /// <summary>
    /// Checks that the data stored in the tensor itself (raw_data or the typed field) holds exactly the element count of
    /// its dims. External tensors are checked against their file by <see cref="OnnxExternalData"/>.
    /// </summary>
    public static void CheckInlineData(TensorProto tensor, string where)
    {
        long count = ElementCount(tensor, where);
        var type = (OnnxDataType)tensor.DataType;
        if (!Enum.IsDefined(type) || type == OnnxDataType.Undefined)
            throw new TensorFormatException(where, $"data_type {tensor.DataType} is not an ONNX data type.", ErrorIds.OnnxTensorDataMismatch);
        if (tensor.HasRawData)
        {
            if (type == OnnxDataType.String)
                throw new TensorFormatException(where, "a string tensor cannot keep its data in raw_data.", ErrorIds.OnnxTensorDataMismatch);
            long expected = OnnxDataTypes.RawBytes(type, count);
            if (tensor.RawData.Length != expected)
                throw Mismatch(where, tensor, type, count, $"raw_data holds {tensor.RawData.Length} bytes but {expected} are needed");
            return;
        }
        long typed = TypedCount(tensor, type);
        bool oddComplex = type == OnnxDataType.Complex64 && tensor.FloatData.Count % 2 != 0 || type == OnnxDataType.Complex128 && tensor.DoubleData.Count % 2 != 0;
        // 4-bit types pack two values per int32_data entry; an odd count leaves half of the last one unused.
        bool fits = type is OnnxDataType.UInt4 or OnnxDataType.Int4 or OnnxDataType.Float4E2M1 ? typed == count || typed == count + 1 : typed == count;
        if (!fits || oddComplex)
            throw Mismatch(where, tensor, type, count, $"its typed data field holds {typed} values");
    }

    private static TensorFormatException Mismatch(string where, TensorProto tensor, OnnxDataType type, long count, string what) =>
        new(where, $"{what}, but dims [{string.Join(", ", tensor.Dims)}] of {OnnxDataTypes.Name(type)} hold {count} elements.", ErrorIds.OnnxTensorDataMismatch);

    /// <summary>
    /// The values of a tensor whose data is checked: float16 as <c>Half[]</c>, float64 as <c>double[]</c>, everything else
    /// numeric (bfloat16, integers, bool) as <c>float[]</c> (exact for bfloat16 and integers below 2^24).
    /// <paramref name="raw"/> is the external data when the tensor keeps it in a file, else null.
    /// </summary>
    public static NpyArray Decode(TensorProto tensor, byte[]? raw, string where)
    {
        long count = ElementCount(tensor, where);
        var type = (OnnxDataType)tensor.DataType;
        if (count > Array.MaxLength)
            throw new TensorFormatException(where, $"{count} elements are too many to hold in memory at once.", ErrorIds.TensorTooLarge);
        int n = (int)count;
        long[] shape = tensor.Dims.ToArray();
        ReadOnlySpan<byte> bytes = raw is not null ? raw : tensor.HasRawData ? tensor.RawData.Span : default;
        bool fromBytes = raw is not null || tensor.HasRawData;
        switch (type)
        {
            case OnnxDataType.Double:
                return new NpyArray(shape, fromBytes ? MemoryMarshal.Cast<byte, double>(bytes).ToArray() : tensor.DoubleData.ToArray());
            case OnnxDataType.Float16:
            {
                var values = new Half[n];
                if (fromBytes) MemoryMarshal.Cast<byte, Half>(bytes).CopyTo(values);
                else for (int i = 0; i < n; i++) values[i] = BitConverter.UInt16BitsToHalf((ushort)tensor.Int32Data[i]);
                return new NpyArray(shape, values);
            }
            case OnnxDataType.Float:
                return new NpyArray(shape, fromBytes ? MemoryMarshal.Cast<byte, float>(bytes).ToArray() : tensor.FloatData.ToArray());
        }
        var floats = new float[n];
        switch (type)
        {
            case OnnxDataType.BFloat16:
                for (int i = 0; i < n; i++)
                    floats[i] = BFloat16ToSingle(fromBytes ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) : (ushort)tensor.Int32Data[i]);
                break;
            case OnnxDataType.Int8:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? (sbyte)bytes[i] : tensor.Int32Data[i];
                break;
            case OnnxDataType.UInt8 or OnnxDataType.Bool:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? bytes[i] : tensor.Int32Data[i];
                break;
            case OnnxDataType.Int16:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? BinaryPrimitives.ReadInt16LittleEndian(bytes[(2 * i)..]) : tensor.Int32Data[i];
                break;
            case OnnxDataType.UInt16:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) : tensor.Int32Data[i];
                break;
            case OnnxDataType.Int32:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]) : tensor.Int32Data[i];
                break;
            case OnnxDataType.UInt32:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[(4 * i)..]) : tensor.Uint64Data[i];
                break;
            case OnnxDataType.Int64:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]) : tensor.Int64Data[i];
                break;
            case OnnxDataType.UInt64:
                for (int i = 0; i < n; i++) floats[i] = fromBytes ? BinaryPrimitives.ReadUInt64LittleEndian(bytes[(8 * i)..]) : tensor.Uint64Data[i];
                break;
            default:
                throw new TensorFormatException(where, $"{OnnxDataTypes.Name(type)} data cannot be read as numbers; QuantShell reads float16, bfloat16, float32, float64, integers and bool.", ErrorIds.OnnxDataTypeNotSupported);
        }
        return new NpyArray(shape, floats);
    }

    /// <summary>
    /// The tensor's elements as little-endian bytes of its own type, C order, whichever field holds them: raw_data (or the
    /// external data in <paramref name="raw"/>) as it is, not copied (raw_data is the parsed message's own memory: read
    /// only), a typed field converted. 4-bit and string tensors have no such form and are refused.
    /// </summary>
    public static ReadOnlyMemory<byte> ElementBytes(TensorProto tensor, byte[]? raw, string where)
    {
        var type = (OnnxDataType)tensor.DataType;
        long count = ElementCount(tensor, where);
        int size = OnnxDataTypes.BitsPerElement(type) / 8;
        if (size == 0 || OnnxDataTypes.BitsPerElement(type) % 8 != 0)
            throw new TensorFormatException(where, $"{OnnxDataTypes.Name(type)} data cannot be read element by element.", ErrorIds.OnnxDataTypeNotSupported);
        if (count * size > Array.MaxLength)
            throw new TensorFormatException(where, $"{count} elements are too many to hold in memory at once.", ErrorIds.TensorTooLarge);
        if (raw is not null) return raw;
        if (tensor.HasRawData) return tensor.RawData.Memory;
        int n = (int)count;
        var bytes = new byte[n * size];
        var span = bytes.AsSpan();
        switch (type)
        {
            case OnnxDataType.Float or OnnxDataType.Complex64:
                for (int i = 0; i < tensor.FloatData.Count; i++) BinaryPrimitives.WriteSingleLittleEndian(span[(4 * i)..], tensor.FloatData[i]);
                break;
            case OnnxDataType.Double or OnnxDataType.Complex128:
                for (int i = 0; i < tensor.DoubleData.Count; i++) BinaryPrimitives.WriteDoubleLittleEndian(span[(8 * i)..], tensor.DoubleData[i]);
                break;
            case OnnxDataType.Int64:
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteInt64LittleEndian(span[(8 * i)..], tensor.Int64Data[i]);
                break;
            case OnnxDataType.UInt64:
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt64LittleEndian(span[(8 * i)..], tensor.Uint64Data[i]);
                break;
            case OnnxDataType.UInt32:
                for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(4 * i)..], (uint)tensor.Uint64Data[i]);
                break;
            default:
                // int32_data holds every other type, one element per entry, in its low bytes (float16/bfloat16 as their bits).
                for (int i = 0; i < n; i++)
                {
                    int value = tensor.Int32Data[i];
                    switch (size)
                    {
                        case 1: bytes[i] = (byte)value; break;
                        case 2: BinaryPrimitives.WriteInt16LittleEndian(span[(2 * i)..], (short)value); break;
                        default: BinaryPrimitives.WriteInt32LittleEndian(span[(4 * i)..], value); break;
                    }
                }
                break;
        }
        return bytes;
    }

    /// <summary>Little-endian raw_data of float values stored as <paramref name="type"/> (float32, float16 or bfloat16; rounded to nearest even).</summary>
    public static byte[] EncodeFloats(ReadOnlySpan<float> values, OnnxDataType type)
    {
        switch (type)
        {
            case OnnxDataType.Float:
                return MemoryMarshal.AsBytes(values).ToArray();
            case OnnxDataType.Float16:
            {
                var bytes = new byte[values.Length * 2];
                ElementConverter.Encode(values, DType.Float16, bytes);
                return bytes;
            }
            case OnnxDataType.BFloat16:
            {
                var bytes = new byte[values.Length * 2];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), SingleToBFloat16(values[i]));
                return bytes;
            }
            default:
                throw new ArgumentException($"{type} is not a float type encoded from float32.", nameof(type));
        }
    }

    /// <summary>The raw bytes of an array's values in its own type (float16, float32, float64).</summary>
    public static byte[] Encode(NpyArray array) => array.Data switch
    {
        Half[] h => MemoryMarshal.AsBytes(h.AsSpan()).ToArray(),
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()).ToArray(),
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()).ToArray(),
        _ => throw new ArgumentException(array.Data.GetType().Name, nameof(array)),
    };

    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>float32 to bfloat16, rounding to nearest even; NaN stays a quiet NaN.</summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint roundingBias = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + roundingBias) >> 16);
    }

    /// <summary>A tensor that holds <paramref name="raw"/> as its raw_data.</summary>
    public static TensorProto Tensor(string name, OnnxDataType type, IEnumerable<long> dims, byte[] raw)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
