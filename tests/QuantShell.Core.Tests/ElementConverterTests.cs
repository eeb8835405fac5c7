using System.Runtime.InteropServices;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Tests;

/// <summary>
/// float16 data decoded to float32 and float32 encoded to float16 by vectors (TensorPrimitives) against the scalar casts
/// QuantShell used before, <c>(float)half</c> and <c>(Half)f</c>: bit for bit for every half, and for floats on and around
/// every half, every rounding midpoint between two halves (ties to even), the overflow and subnormal edges, NaNs with
/// their payloads, and a stride through all the rest; at lengths that leave partial vectors.
/// </summary>
public sealed class ElementConverterTests
{
    [Fact]
    public void EveryHalf_DecodesAsTheScalarCast()
    {
        var bits = Enumerable.Range(0, 1 << 16).Select(i => (ushort)i).ToArray();
        var bytes = MemoryMarshal.AsBytes(bits.AsSpan()).ToArray();
        int cases = 0;
        // The whole table, and shorter runs that end inside a vector.
        foreach (int length in new[] { 1 << 16, 1, 7, 15, 17, 33, 1000 })
        {
            var output = new float[length];
            ElementConverter.Decode<float>(bytes.AsSpan(0, 2 * length), DType.Float16, output);
            for (int i = 0; i < length; i++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf(bits[i]);
                Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(output[i]),
                    $"half 0x{bits[i]:X4}: {BitConverter.SingleToUInt32Bits(output[i]):X8}, the cast gives {BitConverter.SingleToUInt32Bits(expected):X8}");
                cases++;
            }
        }
        Assert.Equal((1 << 16) + 1 + 7 + 15 + 17 + 33 + 1000, cases);
    }

    /// <summary>The floats where a conversion to float16 can go wrong, and a stride through the rest.</summary>
    private static uint[] EncodeCases()
    {
        var cases = new List<uint>();
        for (int h = 0; h < 1 << 16; h++)
        {
            // Each half's own value and its neighbours; the midpoint above it (a tie) and its neighbours.
            uint at = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h));
            for (int d = -2; d <= 2; d++) cases.Add(at + (uint)d);
            if ((h & 0x7C00) != 0x7C00 && (h & 0x7FFF) != 0x7BFF)
            {
                double mid = ((double)BitConverter.UInt16BitsToHalf((ushort)h) + (double)BitConverter.UInt16BitsToHalf((ushort)(h + 1))) / 2;
                uint m = BitConverter.SingleToUInt32Bits((float)mid);
                for (int d = -2; d <= 2; d++) cases.Add(m + (uint)d);
            }
        }
        // The overflow edge (65504 is the largest half; 65520 rounds to infinity), the subnormal edges, zeros, infinities.
        foreach (float edge in new[] { 65504f, 65520f, 65536f, 6.1035156e-05f, 5.9604645e-08f, 2.9802322e-08f, 0f, float.PositiveInfinity, float.MaxValue, float.Epsilon })
            for (int d = -3; d <= 3; d++)
            {
                cases.Add(BitConverter.SingleToUInt32Bits(edge) + (uint)d);
                cases.Add(BitConverter.SingleToUInt32Bits(-edge) + (uint)d);
            }
        // NaNs: quiet and signalling, both signs, payloads high and low.
        foreach (uint nan in new uint[] { 0x7FC00000, 0x7F800001, 0x7FBFFFFF, 0x7FFFFFFF, 0x7FC02000, 0x7F802000, 0x7FA5A5A5, 0x7FD00001 })
        {
            cases.Add(nan);
            cases.Add(nan | 0x80000000);
        }
        for (ulong u = 0; u <= uint.MaxValue; u += 4093) cases.Add((uint)u);
        return cases.ToArray();
    }

    [Fact]
    public void Floats_EncodeAsTheScalarCast()
    {
        var bits = EncodeCases();
        var floats = MemoryMarshal.Cast<uint, float>(bits.AsSpan()).ToArray();
        int checkedCount = 0;
        foreach (int length in new[] { floats.Length, 1, 9, 31, 65 })
        {
            var output = new byte[2 * length];
            ElementConverter.Encode<float>(floats.AsSpan(0, length), DType.Float16, output);
            var halves = MemoryMarshal.Cast<byte, ushort>(output);
            for (int i = 0; i < length; i++)
            {
                ushort expected = BitConverter.HalfToUInt16Bits((Half)floats[i]);
                Assert.True(expected == halves[i], $"float 0x{bits[i]:X8}: 0x{halves[i]:X4}, the cast gives 0x{expected:X4}");
                checkedCount++;
            }
        }
        // 65,536 halves x 5 and the midpoints below infinity x 5, the edges, NaNs and 1,049,347 strided floats.
        Assert.True(checkedCount > 1_600_000, $"{checkedCount}");
        Assert.Equal(floats.Length + 1 + 9 + 31 + 65, checkedCount);
    }
}
