using System.Runtime.InteropServices;
using QuantShell.Core.Formats;
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
        NpyQuantizer.QuantizeFile(input, output, quantizer);
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
        NpyQuantizer.QuantizeFile(input, output, quantizer);
        Assert.True(InMemory(quantizer, values).AsSpan().SequenceEqual((double[])NpyArray.Read(output).Data));
    }

    [Fact]
    public void Float16_StreamingEqualsInMemory()
    {
        var halves = _values.Select(v => (Half)v).ToArray();
        string input = Path.Combine(_temp, "x16.npy"), output = Path.Combine(_temp, "y16.npy");
        new NpyArray(Shape, halves).Write(input);
        var quantizer = PerChannel(1);
        NpyQuantizer.QuantizeFile(input, output, quantizer);
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
        NpyQuantizer.QuantizeFile(input, output, quantizer);
        var result = NpyArray.Read(output);
        Assert.Equal(Shape, result.Shape);
        Assert.True(InMemory(quantizer, _values).AsSpan().SequenceEqual((float[])result.Data));
    }
}

/// <summary>The tiled Fortran-order path against the in-memory result, over shapes, tile budgets, axes and dtypes.</summary>
public sealed class FortranTilingTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-fortran-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private static float[] FortranOf(float[] c, long[] shape)
    {
        var f = new float[c.Length];
        var index = new long[shape.Length];
        for (long i = 0; i < c.LongLength; i++)
        {
            long offset = 0, stride = 1;
            for (int d = 0; d < shape.Length; d++) { offset += index[d] * stride; stride *= shape[d]; }
            f[offset] = c[i];
            for (int d = shape.Length - 1; d >= 0; d--) { if (++index[d] < shape[d]) break; index[d] = 0; }
        }
        return f;
    }

    public static TheoryData<long[], int, int> Cases() => new()
    {
        { new long[] { 7, 5 }, 0, 64 }, { new long[] { 7, 5 }, 1, 1 << 20 }, { new long[] { 3, 1000 }, 1, 200 },
        { new long[] { 1000, 3 }, 0, 200 }, { new long[] { 4, 3, 5, 6 }, 2, 64 }, { new long[] { 4, 3, 5, 6 }, 3, 400 },
        { new long[] { 2, 1, 9, 1, 5 }, 2, 48 }, { new long[] { 33, 17, 9 }, 1, 4096 }, { new long[] { 5, 40, 7 }, 1, 64 },
        { new long[] { 30, 4, 50 }, 2, 64 }, { new long[] { 6, 1, 1 }, 0, 64 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TiledFortran_EqualsInMemory(long[] shape, int axis, int chunkBytes)
    {
        int count = (int)shape.Aggregate(1L, (a, b) => a * b);
        var random = new Random(count + axis);
        var c = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
        string input = NpyBuilder.WriteTemp(_temp, "f.npy", NpyBuilder.Build(NpyBuilder.Dict("<f4", NpyHeader.FormatShape(shape), fortran: true),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(FortranOf(c, shape).AsSpan()).ToArray()));
        var q = new WeightsSymmetricInferableQuantizer(numBits: 5, threshold: Enumerable.Range(0, (int)shape[axis]).Select(k => 1.0 + 0.2 * k).ToArray(), perChannel: true, channelAxis: axis);
        string output = Path.Combine(_temp, "out.npy");
        var result = NpyQuantizer.QuantizeFile(input, output, q, new FileQuantizeOptions { ChunkBytes = chunkBytes, Force = true });
        var expected = new float[count];
        var stats = new KernelStats();
        q.CreatePlan(shape).Apply<float>(c, expected, 0, ref stats);
        var actual = NpyArray.Read(output);
        Assert.Equal(shape, actual.Shape);
        Assert.Equal(expected, (float[])actual.Data);
        Assert.Equal(stats.SumSquaredError / count, result.Mse!.Value, stats.SumSquaredError / count * 1e-5);
    }

    [Fact]
    public void TiledFortran_NonFinite_ReportsTheFirstInCOrder()
    {
        long[] shape = { 6, 4, 5 };
        var c = Enumerable.Range(0, 120).Select(i => i * 0.01f).ToArray();
        c[77] = float.NaN;  // C index 77 = (3, 3, 2)
        c[19] = float.PositiveInfinity; // C index 19 = (0, 3, 4): first in C order, late in Fortran order
        string input = NpyBuilder.WriteTemp(_temp, "nan.npy", NpyBuilder.Build(NpyBuilder.Dict("<f4", "(6, 4, 5)", fortran: true),
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(FortranOf(c, shape).AsSpan()).ToArray()));
        var q = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 2.0);
        string output = Path.Combine(_temp, "nan.out.npy");
        var ex = Assert.Throws<QuantShell.Core.Errors.QuantShellException>(() => NpyQuantizer.QuantizeFile(input, output, q, new FileQuantizeOptions { ChunkBytes = 64 }));
        Assert.Equal("NonFiniteInput", ex.ErrorId);
        Assert.Contains("2 non-finite values", ex.Message);
        Assert.Contains("[0, 3, 4]", ex.Message);
        Assert.False(File.Exists(output));
        var kept = NpyQuantizer.QuantizeFile(input, output, q, new FileQuantizeOptions { ChunkBytes = 64, AllowNonFinite = true });
        Assert.Equal(2, kept.NonFiniteCount);
        var y = (float[])NpyArray.Read(output).Data;
        Assert.True(float.IsNaN(y[77]));
        Assert.Equal(127f / 64, y[19]);
    }
}

public sealed class FortranDTypeTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-fortran-dtype-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Theory]
    [InlineData("<f8")]
    [InlineData(">f8")]
    [InlineData("<f2")]
    [InlineData(">i2")]
    [InlineData("|u1")]
    public void TiledFortran_OtherDTypes_EqualTheCOrderFile(string descr)
    {
        // The same values written in C order and in Fortran order must quantize to identical outputs.
        long[] shape = { 6, 7, 5 };
        int size = descr[2] - '0';
        var random = new Random(descr.Sum(c => c) * 31 + descr.Length); // a fixed seed per dtype (string.GetHashCode differs per process)
        var values = Enumerable.Range(0, 210).Select(_ => random.Next(0, 200) - (descr == "|u1" ? 0 : 100)).ToArray();
        byte[] Encode(IEnumerable<int> order) => order.SelectMany(v => descr[1] switch
        {
            'f' when size == 8 => Endian(BitConverter.GetBytes(v * 0.01), descr[0] == '>'),
            'f' => Endian(BitConverter.GetBytes((Half)(v * 0.01)), descr[0] == '>'),
            'i' => Endian(BitConverter.GetBytes((short)v), descr[0] == '>'),
            _ => new[] { (byte)v },
        }).ToArray();
        var fortranOrder = new List<int>();
        for (int k = 0; k < 5; k++) for (int j = 0; j < 7; j++) for (int i = 0; i < 6; i++) fortranOrder.Add(values[(i * 7 + j) * 5 + k]);
        string c = NpyBuilder.WriteTemp(_temp, "c.npy", NpyBuilder.Build(NpyBuilder.Dict(descr, "(6, 7, 5)"), Encode(values)));
        string f = NpyBuilder.WriteTemp(_temp, "f.npy", NpyBuilder.Build(NpyBuilder.Dict(descr, "(6, 7, 5)", fortran: true), Encode(fortranOrder)));
        var q = new WeightsUniformInferableQuantizer(numBits: 6, minRange: new[] { -1.0, -0.5, -2, -1, -0.3 }, maxRange: new[] { 1.0, 2, 0.5, 1.5, 0.7 }, perChannel: true, channelAxis: -1);
        var options = new FileQuantizeOptions { ChunkBytes = 32 };
        NpyQuantizer.QuantizeFile(c, Path.Combine(_temp, "c.out.npy"), q, options);
        NpyQuantizer.QuantizeFile(f, Path.Combine(_temp, "f.out.npy"), q, options);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_temp, "c.out.npy")), File.ReadAllBytes(Path.Combine(_temp, "f.out.npy")));
        Assert.Equal(shape, NpyArray.Read(Path.Combine(_temp, "f.out.npy")).Shape);
    }

    private static byte[] Endian(byte[] bytes, bool big) => big ? bytes.Reverse().ToArray() : bytes;
}
