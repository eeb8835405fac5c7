using QuantShell.Core.Formats;
using QuantShell.Core.IO;

namespace QuantShell.Cli.Tests;

internal static class NpyAssert
{
    /// <summary>Same shape, same dtype, and the same bits in every element (NaN payloads included).</summary>
    public static void BitIdentical(string expectedPath, string actualPath)
    {
        var expected = NpyArray.Read(expectedPath);
        var actual = NpyArray.Read(actualPath);
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.SourceDType.Name, actual.SourceDType.Name);
        Assert.Equal(expected.DType.Name, actual.DType.Name);
        long[] expectedBits = Bits(expected.Data), actualBits = Bits(actual.Data);
        Assert.Equal(expectedBits.Length, actualBits.Length);
        for (int i = 0; i < expectedBits.Length; i++)
        {
            if (expectedBits[i] != actualBits[i])
                Assert.Fail($"{actualPath}: element {i} differs from {expectedPath}: expected bits 0x{expectedBits[i]:X}, got 0x{actualBits[i]:X} ({Value(expected.Data, i)} vs {Value(actual.Data, i)}).");
        }
    }

    private static long[] Bits(Array data) => data switch
    {
        Half[] h => h.Select(v => (long)BitConverter.HalfToUInt16Bits(v)).ToArray(),
        float[] f => f.Select(v => (long)BitConverter.SingleToUInt32Bits(v)).ToArray(),
        double[] d => d.Select(BitConverter.DoubleToInt64Bits).ToArray(),
        _ => throw new ArgumentException($"Unexpected data type {data.GetType()}."),
    };

    private static object? Value(Array data, int index) => data.GetValue(index);
}
