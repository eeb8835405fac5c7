using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace QuantShell.Core.Formats;

/// <summary>Converts raw .npy element bytes to the compute type (float or double) and back.</summary>
internal static class ElementConverter
{
    /// <summary>Decodes <c>destination.Length</c> elements of <paramref name="dtype"/> from <paramref name="source"/>.</summary>
    public static void Decode<T>(ReadOnlySpan<byte> source, DType dtype, Span<T> destination) where T : unmanaged
    {
        if (typeof(T) == typeof(double))
        {
            var target = MemoryMarshal.Cast<T, double>(destination);
            if (dtype.Kind != DTypeKind.Float || dtype.ItemSize != 8) throw new InvalidOperationException("float64 is decoded only from float64 data.");
            MemoryMarshal.Cast<byte, double>(source).CopyTo(target);
            if (dtype.BigEndian) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<double, long>(target), MemoryMarshal.Cast<double, long>(target));
            return;
        }
        if (typeof(T) != typeof(float)) throw new NotSupportedException(typeof(T).Name);
        var output = MemoryMarshal.Cast<T, float>(destination);
        int n = output.Length;
        switch (dtype.Kind, dtype.ItemSize)
        {
            case (DTypeKind.Float, 4):
                MemoryMarshal.Cast<byte, float>(source)[..n].CopyTo(output);
                if (dtype.BigEndian) BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<float, int>(output), MemoryMarshal.Cast<float, int>(output));
                break;
            case (DTypeKind.Float, 2) when !dtype.BigEndian && BitConverter.IsLittleEndian:
                // By vectors, bit for bit (float)half (ElementConverterTests: all 65,536 halves).
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source)[..n], output);
                break;
            case (DTypeKind.Float, 2):
                for (int i = 0; i < n; i++)
                {
                    ushort bits = dtype.BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source[(2 * i)..]) : BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]);
                    output[i] = (float)BitConverter.UInt16BitsToHalf(bits);
                }
                break;
            case (DTypeKind.Float, 8):
                for (int i = 0; i < n; i++)
                {
                    long bits = dtype.BigEndian ? BinaryPrimitives.ReadInt64BigEndian(source[(8 * i)..]) : BinaryPrimitives.ReadInt64LittleEndian(source[(8 * i)..]);
                    output[i] = (float)BitConverter.Int64BitsToDouble(bits);
                }
                break;
            case (DTypeKind.BFloat, 2):
                for (int i = 0; i < n; i++)
                {
                    ushort bits = dtype.BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source[(2 * i)..]) : BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]);
                    output[i] = BitConverter.Int32BitsToSingle(bits << 16);
                }
                break;
            case (DTypeKind.Bool, _):
                for (int i = 0; i < n; i++) output[i] = source[i] != 0 ? 1f : 0f;
                break;
            case (DTypeKind.SignedInteger, 1):
                for (int i = 0; i < n; i++) output[i] = (sbyte)source[i];
                break;
            case (DTypeKind.UnsignedInteger, 1):
                for (int i = 0; i < n; i++) output[i] = source[i];
                break;
            case (DTypeKind.SignedInteger, 2):
                for (int i = 0; i < n; i++) output[i] = dtype.BigEndian ? BinaryPrimitives.ReadInt16BigEndian(source[(2 * i)..]) : BinaryPrimitives.ReadInt16LittleEndian(source[(2 * i)..]);
                break;
            case (DTypeKind.UnsignedInteger, 2):
                for (int i = 0; i < n; i++) output[i] = dtype.BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source[(2 * i)..]) : BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]);
                break;
            case (DTypeKind.SignedInteger, 4):
                for (int i = 0; i < n; i++) output[i] = dtype.BigEndian ? BinaryPrimitives.ReadInt32BigEndian(source[(4 * i)..]) : BinaryPrimitives.ReadInt32LittleEndian(source[(4 * i)..]);
                break;
            case (DTypeKind.UnsignedInteger, 4):
                for (int i = 0; i < n; i++) output[i] = dtype.BigEndian ? BinaryPrimitives.ReadUInt32BigEndian(source[(4 * i)..]) : BinaryPrimitives.ReadUInt32LittleEndian(source[(4 * i)..]);
                break;
            case (DTypeKind.SignedInteger, 8):
                for (int i = 0; i < n; i++) output[i] = dtype.BigEndian ? BinaryPrimitives.ReadInt64BigEndian(source[(8 * i)..]) : BinaryPrimitives.ReadInt64LittleEndian(source[(8 * i)..]);
                break;
            case (DTypeKind.UnsignedInteger, 8):
                for (int i = 0; i < n; i++) output[i] = dtype.BigEndian ? BinaryPrimitives.ReadUInt64BigEndian(source[(8 * i)..]) : BinaryPrimitives.ReadUInt64LittleEndian(source[(8 * i)..]);
                break;
            default:
                throw new NotSupportedException(dtype.Descr);
        }
    }

    /// <summary>Encodes values as little-endian <paramref name="dtype"/> (a float dtype) into <paramref name="destination"/>.</summary>
    public static void Encode<T>(ReadOnlySpan<T> values, DType dtype, Span<byte> destination) where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("QuantShell writes .npy files on little-endian machines only.");
        if (typeof(T) == typeof(double) && dtype.ItemSize == 8 || typeof(T) == typeof(float) && dtype.ItemSize == 4)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }
        if (typeof(T) == typeof(float) && dtype.Kind == DTypeKind.BFloat)
        {
            var floats = MemoryMarshal.Cast<T, float>(values);
            var words = MemoryMarshal.Cast<byte, ushort>(destination);
            for (int i = 0; i < floats.Length; i++) words[i] = ToBFloat16(floats[i]);
            return;
        }
        if (typeof(T) == typeof(float) && dtype.ItemSize == 2)
        {
            var floats = MemoryMarshal.Cast<T, float>(values);
            var halves = MemoryMarshal.Cast<byte, Half>(destination);
            // By vectors, bit for bit (Half)f: rounded to nearest even, NaN payloads kept (ElementConverterTests).
            TensorPrimitives.ConvertToHalf(floats, halves[..floats.Length]);
            return;
        }
        throw new NotSupportedException($"{typeof(T).Name} as {dtype.Descr}");
    }

    /// <summary>float32 to bfloat16 bits, rounded to nearest even as PyTorch's <c>.to(torch.bfloat16)</c>; NaN stays a (quiet) NaN.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
