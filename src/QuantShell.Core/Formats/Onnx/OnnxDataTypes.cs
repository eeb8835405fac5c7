namespace QuantShell.Core.Formats.Onnx;

/// <summary>Facts about <see cref="OnnxDataType"/> values: sizes, names, which typed field holds them.</summary>
public static class OnnxDataTypes
{
    /// <summary>Bits per element in <c>raw_data</c> (4 for the packed 4-bit types); 0 for strings and unknown types.</summary>
    public static int BitsPerElement(OnnxDataType type) => type switch
    {
        OnnxDataType.Float or OnnxDataType.Int32 or OnnxDataType.UInt32 => 32,
        OnnxDataType.UInt8 or OnnxDataType.Int8 or OnnxDataType.Bool => 8,
        OnnxDataType.Float8E4M3FN or OnnxDataType.Float8E4M3FNUZ or OnnxDataType.Float8E5M2 or OnnxDataType.Float8E5M2FNUZ => 8,
        OnnxDataType.UInt16 or OnnxDataType.Int16 or OnnxDataType.Float16 or OnnxDataType.BFloat16 => 16,
        OnnxDataType.Int64 or OnnxDataType.UInt64 or OnnxDataType.Double or OnnxDataType.Complex64 => 64,
        OnnxDataType.Complex128 => 128,
        OnnxDataType.UInt4 or OnnxDataType.Int4 or OnnxDataType.Float4E2M1 => 4,
        _ => 0,
    };

    /// <summary>Bytes of <c>raw_data</c> that <paramref name="elements"/> elements take (4-bit types pack two per byte).</summary>
    public static long RawBytes(OnnxDataType type, long elements)
    {
        int bits = BitsPerElement(type);
        return bits == 4 ? (elements + 1) / 2 : checked(elements * (bits / 8));
    }

    /// <summary>The floating types QuantShell quantizes: float16, bfloat16, float32, float64.</summary>
    public static bool IsQuantizable(OnnxDataType type) =>
        type is OnnxDataType.Float or OnnxDataType.Double or OnnxDataType.Float16 or OnnxDataType.BFloat16;

    /// <summary>The element type as QuantShell's tensor files name it; types it never reads are opaque (copied as they are).</summary>
    public static DType ToDType(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => DType.Float32,
        OnnxDataType.Double => DType.Float64,
        OnnxDataType.Float16 => DType.Float16,
        OnnxDataType.BFloat16 => DType.BFloat16,
        OnnxDataType.Int8 => DType.Int8,
        OnnxDataType.UInt8 => DType.UInt8,
        OnnxDataType.Int16 => DType.Int16,
        OnnxDataType.UInt16 => DType.UInt16,
        OnnxDataType.Int32 => DType.Int32,
        OnnxDataType.Int64 => DType.Int64,
        OnnxDataType.UInt32 => new DType(DTypeKind.UnsignedInteger, 4, false),
        OnnxDataType.UInt64 => new DType(DTypeKind.UnsignedInteger, 8, false),
        OnnxDataType.Bool => new DType(DTypeKind.Bool, 1, false),
        _ => DType.Opaque(Name(type), Math.Max(1, BitsPerElement(type) / 8)),
    };

    /// <summary>NumPy-style name: float32, bfloat16, int8, ...</summary>
    public static string Name(OnnxDataType type) => type switch
    {
        OnnxDataType.Float => "float32",
        OnnxDataType.Double => "float64",
        OnnxDataType.Float16 => "float16",
        OnnxDataType.BFloat16 => "bfloat16",
        OnnxDataType.UInt8 => "uint8",
        OnnxDataType.Int8 => "int8",
        OnnxDataType.UInt16 => "uint16",
        OnnxDataType.Int16 => "int16",
        OnnxDataType.Int32 => "int32",
        OnnxDataType.Int64 => "int64",
        OnnxDataType.UInt32 => "uint32",
        OnnxDataType.UInt64 => "uint64",
        OnnxDataType.Bool => "bool",
        OnnxDataType.String => "string",
        OnnxDataType.Complex64 => "complex64",
        OnnxDataType.Complex128 => "complex128",
        _ => Enum.IsDefined(type) ? type.ToString().ToLowerInvariant() : $"data type {(int)type}",
    };
}
