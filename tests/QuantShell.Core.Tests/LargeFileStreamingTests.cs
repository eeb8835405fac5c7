using System.Runtime.InteropServices;
using QuantShell.Core.IO;
using QuantShell.Core.Kernels;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>
/// Files of several MiB (many 1 MiB chunks, the background writer) quantized by the streaming file path must equal the
/// in-memory path element for element: per channel on every axis, Fortran order, float64 and float16.
/// </summary>
public sealed class LargeFileStreamingTests : IDisposable
{
    private static readonly long[] Shape = { 4, 6, 160, 300 }; // 1,152,000 values: 4.4 MiB as float32
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-large-").FullName;
    private readonly float[] _values;

    public LargeFileStreamingTests()
    {
        var random = new Random(11);
        _values = new float[Shape.Aggregate(1L, (a, b) => a * b)];
        for (int i = 0; i < _values.Length; i++) _values[i] = (float)((random.NextDouble() * 2 - 1) * 3);
    }

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static InferableQuantizer PerChannel(int axis) =>
        new WeightsUniformInferableQuantizer(numBits: 7,
            minRange: Enumerable.Range(0, (int)Shape[axis]).Select(c => -1.0 - 0.1 * c).ToArray(),
            maxRange: Enumerable.Range(0, (int)Shape[axis]).Select(c => 1.5 + 0.05 * c).ToArray(),
            perChannel: true, channelAxis: axis);

    private static T[] InMemory<T>(InferableQuantizer quantizer, T[] values) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
    {
        var output = new T[values.Length];
        var stats = new KernelStats();
        quantizer.CreatePlan(Shape).Apply<T>(values, output, 0, ref stats);
        return output;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Float32_PerChannelEveryAxis_StreamingEqualsInMemory(int axis)
    {
        string input = Path.Combine(_temp, "x.npy"), output = Path.Combine(_temp, "y.npy");
        new NpyArray(Shape, _values).Write(input);
        var quantizer = PerChannel(axis);
        FileQuantizer.QuantizeFile(input, output, quantizer);
        Assert.True(InMemory(quantizer, _values).AsSpan().SequenceEqual((float[])NpyArray.Read(output).Data));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Float64_StreamingEqualsInMemory(int axis)
    {
        var values = _values.Select(v => v * 1.000000001).ToArray();
        string input = Path.Combine(_temp, "x64.npy"), output = Path.Combine(_temp, "y64.npy");
        new NpyArray(Shape, values).Write(input);
        var quantizer = PerChannel(axis);
        FileQuantizer.QuantizeFile(input, output, quantizer);
        Assert.True(InMemory(quantizer, values).AsSpan().SequenceEqual((double[])NpyArray.Read(output).Data));
    }

    [Fact]
    public void Float16_StreamingEqualsInMemory()
    {
        var halves = _values.Select(v => (Half)v).ToArray();
        string input = Path.Combine(_temp, "x16.npy"), output = Path.Combine(_temp, "y16.npy");
        new NpyArray(Shape, halves).Write(input);
        var quantizer = PerChannel(1);
        FileQuantizer.QuantizeFile(input, output, quantizer);
        var expected = InMemory(quantizer, halves.Select(h => (float)h).ToArray()).Select(f => (Half)f).ToArray();
        Assert.Equal(expected, (Half[])NpyArray.Read(output).Data);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void FortranOrder_EqualsInMemoryOfTheCOrderArray(int axis)
    {
        // Write the same logical array in Fortran order: storage index = i0 + d0 * (i1 + d1 * (i2 + d2 * i3)).
        var fortran = new float[_values.Length];
        long d0 = Shape[0], d1 = Shape[1], d2 = Shape[2], d3 = Shape[3];
        for (long i0 = 0; i0 < d0; i0++)
            for (long i1 = 0; i1 < d1; i1++)
                for (long i2 = 0; i2 < d2; i2++)
                    for (long i3 = 0; i3 < d3; i3++)
                        fortran[i0 + d0 * (i1 + d1 * (i2 + d2 * i3))] = _values[((i0 * d1 + i1) * d2 + i2) * d3 + i3];
        string input = NpyBuilder.WriteTemp(_temp, "f.npy", NpyBuilder.Build(NpyBuilder.Dict("<f4", "(4, 6, 160, 300)", fortran: true), MemoryMarshal.AsBytes(fortran.AsSpan()).ToArray()));
        string output = Path.Combine(_temp, "fy.npy");
        var quantizer = PerChannel(axis);
        FileQuantizer.QuantizeFile(input, output, quantizer);
        var result = NpyArray.Read(output);
        Assert.Equal(Shape, result.Shape);
        Assert.True(InMemory(quantizer, _values).AsSpan().SequenceEqual((float[])result.Data));
    }
}
