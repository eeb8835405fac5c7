using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// The compressed-tensors writer's fast path for values chosen by the no-clipping rule (<see cref="NoClippingRows"/>)
/// against its general path on the same seeded random safetensors files: the same output bytes, the same values, scales,
/// zero points and error sums in every result, the same error (id and message) when the file fails — for bfloat16,
/// float16 and float32 weights, POT, symmetric and uniform, 2 to 8 bits, groups and per channel, chunks of any size,
/// rows of zeros (of both signs), constant rows, infinities (allowed or not) and NaN.
/// </summary>
public sealed class NoClippingRowsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private enum Special { None, Zeros, SignedZeros, Constant, Infinity, NaN, Huge }

    private sealed record Case(string DType, int Rows, int Columns, int? GroupSize, QuantizationMethod Method, int Bits, int ChunkBytes, Special Special, bool AllowNonFinite = false);

    private static IEnumerable<Case> Cases()
    {
        var methods = new[] { QuantizationMethod.Symmetric, QuantizationMethod.Pot, QuantizationMethod.Uniform };
        int i = 0;
        foreach (string dtype in new[] { "BF16", "F16", "F32" })
        foreach (var method in methods)
        {
            // Groups of 128 (the common case), per channel, small groups (left to the general path when their chunk is
            // small), odd widths, bit widths that straddle words; chunks of the default size, a few rows, one row.
            yield return new Case(dtype, 300, 256, 128, method, 4, 1 << 20, Special.None);
            yield return new Case(dtype, 257, 384, null, method, 3 + i % 6, 1 << 20, Special.None);
            yield return new Case(dtype, 300, 256, 128, method, 8, 1 << 20, Special.Zeros);
            yield return new Case(dtype, 700, 192, 64, method, 2 + i % 7, 1 << 16, Special.SignedZeros);
            yield return new Case(dtype, 700, 200, 40, method, 6, 4000, Special.None);
            yield return new Case(dtype, 513, 136, 8, method, 4, 1 << 20, Special.Constant);
            yield return new Case(dtype, 129, 1024, 256, method, 5, 1, Special.None);
            // Wide rows: each half of the chunk in several blocks of rows (an infinity in a later block declines the chunk).
            yield return new Case(dtype, 520, 2048, 128, method, 4, 1 << 22, i % 2 == 0 ? Special.SignedZeros : Special.Infinity, AllowNonFinite: true);
            yield return new Case(dtype, 300, 256, 64, method, 4, 1 << 16, Special.Infinity, AllowNonFinite: true);
            yield return new Case(dtype, 300, 256, 64, method, 4, 1 << 16, Special.Infinity);
            yield return new Case(dtype, 300, 256, 128, method, 4, 1 << 16, Special.NaN, AllowNonFinite: i % 2 == 0);
            yield return new Case(dtype, 50, 100, 64, method, 4, 1 << 20, Special.None); // a ragged group: refused
            if (dtype == "F32") yield return new Case(dtype, 300, 256, 128, method, 4, 1 << 20, Special.Huge);
            i++;
        }
    }

    [Fact]
    public void FastPath_WritesWhatTheGeneralPathWrites_ByteForByte()
    {
        int cases = 0, failing = 0;
        var counter = new PathCounter();
        var random = new Random(20261204);
        foreach (var c in Cases())
        {
            string input = _temp.File($"case{cases}.safetensors");
            WriteFile(input, c, random);
            var fast = Run(input, c, generalOnly: false, counter);
            var general = Run(input, c, generalOnly: true, null);
            Assert.True(fast.Error == general.Error, $"{c}: fast path error '{fast.Error}', general '{general.Error}'");
            Assert.True(fast.Results == general.Results, $"{c}: results differ:\n{fast.Results}\n{general.Results}");
            Assert.True(fast.Bytes.AsSpan().SequenceEqual(general.Bytes), $"{c}: output bytes differ");
            if (general.Error is not null) failing++;
            cases++;
        }
        Assert.Equal(111, cases);
        // NaN fails the tensor; so do infinities not allowed, a ragged group and float32 values whose threshold overflows.
        Assert.Equal(9 + 9 + 9 + 2, failing);
        // The fast path wrote most chunks (block by block, or fused once a weight's direct choice was taken); small groups in
        // small chunks, and chunks with infinities, went the general way.
        Assert.True(counter.Fast > 1500 && counter.Fused > 500 && counter.Declined > 1000,
            $"chunks: {counter.Fast} by the fast path, {counter.Fused} fused, {counter.Declined} left to the general path");
        // Symmetric blocks after a weight's first had their values chosen group by group (the direct choice), not by the general choice;
        // after the first chunk, most are fused (counted above).
        Assert.True(counter.Direct > 50, $"{counter.Direct} blocks chosen directly");
    }

    /// <summary>
    /// The fused route (<see cref="NoClippingRows.TryDirect"/>: symmetric weights once their direct choice is taken, every
    /// half of every chunk a unit of work on any core, 4-bit codes packed as they are made) against the general path, with
    /// many windows of chunks per weight: groups of 32 to 128 and per channel, 3, 4 and 8 bits, chunks split in halves or
    /// not, rows of zeros, constant rows, infinities that send a window back to the block-wise path, NaN.
    /// </summary>
    [Fact]
    public void FusedRoute_WritesWhatTheGeneralPathWrites_ByteForByte()
    {
        int cases = 0, failing = 0;
        var counter = new PathCounter();
        var random = new Random(20261205);
        foreach (string dtype in new[] { "BF16", "F16", "F32" })
        {
            var sym = QuantizationMethod.Symmetric;
            foreach (var c in new[]
            {
                new Case(dtype, 1100, 256, 128, sym, 4, 1 << 15, Special.None),
                new Case(dtype, 1000, 512, 32, sym, 4, 1 << 15, Special.SignedZeros),
                new Case(dtype, 900, 384, null, sym, 4, 1 << 15, Special.Constant),
                new Case(dtype, 1000, 256, 64, sym, 3, 1 << 15, Special.Zeros),
                new Case(dtype, 1000, 256, 128, sym, 8, 1 << 15, Special.Infinity, AllowNonFinite: true),
                new Case(dtype, 1000, 320, 64, sym, 4, 1 << 14, Special.NaN),
                new Case(dtype, 777, 256, 16, sym, 4, 1 << 15, Special.None),
                new Case(dtype, 600, 2048, 128, sym, 4, 1 << 20, Special.SignedZeros),
            })
            {
                string input = _temp.File($"fused{cases}.safetensors");
                WriteFile(input, c, random);
                var fast = Run(input, c, generalOnly: false, counter);
                var general = Run(input, c, generalOnly: true, null);
                Assert.True(fast.Error == general.Error, $"{c}: fast path error '{fast.Error}', general '{general.Error}'");
                Assert.True(fast.Results == general.Results, $"{c}: results differ:\n{fast.Results}\n{general.Results}");
                Assert.True(fast.Bytes.AsSpan().SequenceEqual(general.Bytes), $"{c}: output bytes differ");
                if (general.Error is not null) failing++;
                cases++;
            }
        }
        Assert.Equal(24, cases);
        Assert.Equal(3, failing); // NaN fails its tensor
        // Most chunks went the fused way; those with infinities (and the NaN's) were declined and written block by block.
        Assert.True(counter.Fused > 500 && counter.Declined > 10, $"chunks: {counter.Fused} fused, {counter.Fast} block by block, {counter.Declined} left to the general path");
    }

    private sealed record Outcome(string? Error, string? Results, byte[] Bytes);

    private static Outcome Run(string input, Case c, bool generalOnly, PathCounter? counter)
    {
        var spec = new QuantizerSpec
        {
            Target = QuantizationTarget.Weights, Method = c.Method, NumBits = c.Bits, PerChannel = true, ChannelAxis = 0, GroupSize = c.GroupSize,
        };
        var recipe = QuantizerRecipe.For(spec, new SelectionOptions { ErrorMethod = ErrorMethod.NoClipping });
        var options = new FileQuantizeOptions { ChunkBytes = c.ChunkBytes, AllowNonFinite = c.AllowNonFinite, GeneralPathOnly = generalOnly, PathCounter = counter };
        using var file = TensorFiles.Open(input);
        using var output = new MemoryStream();
        try
        {
            var results = CompressedTensorsWriter.Write(file, output, "out.safetensors", _ => TensorDecision.Quantize(recipe), options, [], [], null, CancellationToken.None);
            var text = new StringBuilder();
            foreach (var r in results)
            {
                text.Append(r.TensorName).Append(' ').Append(r.NonFiniteCount).Append(' ').Append(r.ElementCount).Append(' ')
                    .Append(BitConverter.DoubleToInt64Bits(r.Mse ?? double.NaN)).Append(' ').Append(BitConverter.DoubleToInt64Bits(r.SqnrDb ?? double.NaN)).Append(' ')
                    .Append(JsonSerializer.Serialize(new { r.Threshold, r.MinRange, r.MaxRange, r.Scale, r.ZeroPoint, r.QuantMin, r.QuantMax, r.Signed, r.ChannelAxis, r.GroupSize }))
                    .Append('\n');
            }
            return new Outcome(null, text.ToString(), output.ToArray());
        }
        catch (QuantShellException ex)
        {
            return new Outcome($"{ex.ErrorId}: {ex.Message}", null, []);
        }
    }

    /// <summary>A safetensors file with two weights of the case's shape and dtype (normal values, a few rows made special).</summary>
    private static void WriteFile(string path, Case c, Random random)
    {
        var header = new Dictionary<string, object>();
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (string name in new[] { "model.layers.0.mlp.up_proj.weight", "model.layers.0.mlp.down_proj.weight" })
        {
            var values = new float[c.Rows * c.Columns];
            double scale = Math.Pow(10, random.Next(-4, 1));
            for (int k = 0; k < values.Length; k++) values[k] = (float)(NormalSample(random) * scale);
            // Integers now and then: values on a grid, ties of the rounding.
            for (int k = 0; k < values.Length; k += 97) values[k] = random.Next(-8, 8) * (float)scale;
            Make(values, c, random);
            byte[] bytes = Encode(values, c.DType);
            header[name] = new { dtype = c.DType, shape = new[] { c.Rows, c.Columns }, data_offsets = new[] { offset, offset + bytes.Length } };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        byte[] json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var stream = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(length, json.Length);
        stream.Write(length);
        stream.Write(json);
        foreach (var blob in blobs) stream.Write(blob);
    }

    private static void Make(float[] values, Case c, Random random)
    {
        int Row() => random.Next(c.Rows);
        Span<float> row(int r) => values.AsSpan(r * c.Columns, c.Columns);
        switch (c.Special)
        {
            case Special.Zeros:
                for (int k = 0; k < 3; k++) row(Row()).Clear();
                break;
            case Special.SignedZeros:
                for (int k = 0; k < 5; k++)
                {
                    var span = row(Row());
                    for (int j = 0; j < span.Length; j++) span[j] = random.Next(3) switch { 0 => -0f, 1 => 0f, _ => Math.Abs(span[j]) };
                }
                for (int k = 0; k < 3; k++)
                {
                    var span = row(Row());
                    for (int j = 0; j < span.Length; j++) span[j] = random.Next(2) == 0 ? -0f : 0f;
                }
                break;
            case Special.Constant:
                for (int k = 0; k < 4; k++) row(Row()).Fill(k % 2 == 0 ? 0.25f : -3f);
                break;
            case Special.Infinity:
                for (int k = 0; k < 3; k++) row(Row())[random.Next(c.Columns)] = k % 2 == 0 ? float.PositiveInfinity : float.NegativeInfinity;
                break;
            case Special.NaN:
                row(Row())[random.Next(c.Columns)] = float.NaN;
                row(Row())[random.Next(c.Columns)] = float.PositiveInfinity;
                break;
            case Special.Huge:
                row(Row())[random.Next(c.Columns)] = 3.3e38f;
                break;
        }
    }

    private static byte[] Encode(float[] values, string dtype)
    {
        int size = dtype == "F32" ? 4 : 2;
        var bytes = new byte[values.Length * size];
        for (int k = 0; k < values.Length; k++)
        {
            var at = bytes.AsSpan(k * size);
            switch (dtype)
            {
                case "F32": BinaryPrimitives.WriteSingleLittleEndian(at, values[k]); break;
                case "F16": BinaryPrimitives.WriteHalfLittleEndian(at, (Half)values[k]); break;
                default:
                    uint bits = BitConverter.SingleToUInt32Bits(values[k]);
                    ushort b = float.IsNaN(values[k]) ? (ushort)0x7FC0 : (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
                    BinaryPrimitives.WriteUInt16LittleEndian(at, b);
                    break;
            }
        }
        return bytes;
    }

    private static double NormalSample(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
