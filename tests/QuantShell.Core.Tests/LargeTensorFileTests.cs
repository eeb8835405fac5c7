using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// Large float32/float64 tensors read from regular files (positional reads of a model file's tensor at an unaligned
/// offset, a stored zip entry, an .npy file), 17 MB each, so 17 chunks whose boundaries fall inside a channel period:
/// the output must equal the same bytes through a memory stream and the in-memory kernel; the first non-finite value is
/// found past the sixteenth MiB; a checkpoint's entry is still checked against its CRC-32.
/// </summary>
public sealed class LargeTensorFileTests : IDisposable
{
    // 4,250,001 values: 17 MB as float32; 7 channels on the last axis, and a 1 MiB chunk (262,144 float32) is no multiple
    // of 7, so chunks start inside a channel period.
    private static readonly long[] Shape = [607_143, 7];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static float[] Values(int seed)
    {
        var random = new Random(seed);
        var values = new float[Shape[0] * Shape[1]];
        for (int i = 0; i < values.Length; i++) values[i] = (float)((random.NextDouble() * 2 - 1) * 2.5);
        return values;
    }

    private static InferableQuantizer PerChannelLastAxis() =>
        new WeightsSymmetricInferableQuantizer(numBits: 6, perChannel: true, threshold: [0.5, 1, 1.5, 2, 2.5, 3, 0.75], channelAxis: 1);

    [Fact]
    public void Npy_EqualsTheStreamPathAndTheKernel()
    {
        var values = Values(41);
        string input = _temp.File("x.npy"), output = _temp.File("y.npy");
        new NpyArray(Shape, values).Write(input);

        var quantizer = PerChannelLastAxis();
        NpyQuantizer.QuantizeFile(input, output, quantizer);
        var read = new MemoryStream();
        NpyQuantizer.QuantizeStream(new MemoryStream(File.ReadAllBytes(input)), "x.npy", read, "y.npy", quantizer);

        Assert.True(File.ReadAllBytes(output).AsSpan().SequenceEqual(read.ToArray()));
        var expected = new float[values.Length];
        var stats = new KernelStats();
        quantizer.CreatePlan(Shape).Apply<float>(values, expected, 0, ref stats);
        Assert.True(expected.AsSpan().SequenceEqual((float[])NpyArray.Read(output).Data));
    }

    [Fact]
    public void Npy_NonFiniteLate_SameErrorAsTheStreamPath()
    {
        var values = Values(43);
        values[4_200_001] = float.NaN; // row 600000, column 1: past the first 16 MiB
        values[4_200_005] = float.PositiveInfinity;
        string input = _temp.File("nan.npy");
        new NpyArray(Shape, values).Write(input);
        var quantizer = PerChannelLastAxis();

        var fromFile = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(input, _temp.File("nan.q.npy"), quantizer));
        var fromStream = Assert.Throws<QuantShellException>(() =>
            NpyQuantizer.QuantizeStream(new MemoryStream(File.ReadAllBytes(input)), input, new MemoryStream(), "out", quantizer));
        Assert.Equal(fromStream.Message, fromFile.Message);
        Assert.Equal(fromStream.ErrorId, fromFile.ErrorId);
        Assert.Contains("2 non-finite values (NaN or ±infinity) found, the first at index [600000, 1]", fromFile.Message);
        Assert.False(File.Exists(_temp.File("nan.q.npy")));
    }

    [Fact]
    public void Safetensors_LargeTensorsAtUnalignedOffsets_EqualTheNpyReadPath()
    {
        var big = Values(47);
        var big64 = Values(53).Take(2_100_007).Select(v => (double)v * 1.0000001).ToArray(); // 16.8 MB
        long[] shape64 = [300_001, 7];
        var tensors = new List<OutputTensor>
        {
            new("a.bias", DType.Float32, [3], s => s.Write(MemoryMarshal.AsBytes(new float[] { 1, 2, 3 }.AsSpan()))),
            new("big.weight", DType.Float32, Shape, s => s.Write(MemoryMarshal.AsBytes(big.AsSpan()))),
            new("big64.weight", DType.Float64, shape64, s => s.Write(MemoryMarshal.AsBytes(big64.AsSpan()))),
        };
        string model = _temp.File("m.safetensors"), output = _temp.File("m.q.safetensors");
        using (var stream = File.Create(model))
            TensorFiles.Write(TensorFileKind.Safetensors, stream, tensors, new Dictionary<string, string>(), CancellationToken.None);

        var arguments = new QuantizerArguments
        {
            Method = QuantizationMethod.Symmetric, NumBits = 6, PerChannel = true, ChannelAxis = 1,
            Threshold = [0.5, 1, 1.5, 2, 2.5, 3, 0.75],
        };
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, OutputPath = output }, [JobInput.File(model)], host);
        Assert.True(host.Errors.Count == 0, string.Join("\n", host.Errors.Select(e => e.Message)));
        Assert.Equal(3, host.Results.SelectMany(r => r.TensorResults()).Count());

        using var quantized = TensorFiles.Open(output);
        var quantizer = PerChannelLastAxis();
        Assert.Equal(ReadPath(quantizer, DType.Float32, Shape, MemoryMarshal.AsBytes(big.AsSpan()).ToArray()), Bytes(quantized, "big.weight"));
        Assert.Equal(ReadPath(quantizer, DType.Float64, shape64, MemoryMarshal.AsBytes(big64.AsSpan()).ToArray()), Bytes(quantized, "big64.weight"));
        Assert.Equal(MemoryMarshal.AsBytes(new float[] { 1, 2, 3 }.AsSpan()).ToArray(), Bytes(quantized, "a.bias"));
    }

    [Fact]
    public void PyTorchCheckpoint_LargeStoredEntry_EqualsTheReadPath_AndItsCrcIsChecked()
    {
        var big = Values(59);
        var tensors = new List<OutputTensor>
        {
            new("a.bias", DType.Float32, [3], s => s.Write(MemoryMarshal.AsBytes(new float[] { 1, 2, 3 }.AsSpan()))),
            new("big.weight", DType.Float32, Shape, s => s.Write(MemoryMarshal.AsBytes(big.AsSpan()))),
        };
        string model = _temp.File("m.pt"), output = _temp.File("m.q.pt");
        using (var stream = File.Create(model))
            TensorFiles.Write(TensorFileKind.PyTorch, stream, tensors, new Dictionary<string, string>(), CancellationToken.None);
        var arguments = new QuantizerArguments
        {
            Method = QuantizationMethod.Symmetric, NumBits = 6, PerChannel = true, ChannelAxis = 1,
            Threshold = [0.5, 1, 1.5, 2, 2.5, 3, 0.75],
        };

        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, OutputPath = output }, [JobInput.File(model)], host);
        Assert.True(host.Errors.Count == 0, string.Join("\n", host.Errors.Select(e => e.Message)));
        using (var quantized = TensorFiles.Open(output))
            Assert.Equal(ReadPath(PerChannelLastAxis(), DType.Float32, Shape, MemoryMarshal.AsBytes(big.AsSpan()).ToArray()), Bytes(quantized, "big.weight"));

        // One byte of the stored entry changed past the sixteenth MiB: only the entry's CRC-32 can tell.
        byte[] file = File.ReadAllBytes(model);
        int data = file.AsSpan().IndexOf(MemoryMarshal.AsBytes(big.AsSpan(0, 8)));
        Assert.True(data > 0);
        file[data + 16_900_000] ^= 0x01; // of 17,000,004 bytes
        File.WriteAllBytes(model, file);
        string corruptOutput = _temp.File("corrupt.q.pt");
        var failed = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, OutputPath = corruptOutput }, [JobInput.File(model)], failed);
        var error = Assert.Single(failed.Errors);
        Assert.Equal(ErrorIds.ArchiveInvalid, error.ErrorId);
        Assert.Contains("CRC-32", error.Message);
        Assert.False(File.Exists(corruptOutput));
    }

    // The .npy path through a memory stream: the data bytes of its output.
    private static byte[] ReadPath(InferableQuantizer quantizer, DType dtype, long[] shape, byte[] data)
    {
        var input = new MemoryStream();
        NpyHeader.Write(input, dtype, shape);
        long headerBytes = input.Length;
        input.Write(data);
        input.Position = 0;
        var output = new MemoryStream();
        NpyQuantizer.QuantizeStream(input, "t.npy", output, "t.q.npy", quantizer);
        return output.ToArray().AsSpan((int)headerBytes).ToArray();
    }

    private static byte[] Bytes(TensorFile file, string tensor)
    {
        using var source = file.OpenTensor(file.Tensor(tensor));
        using var copy = new MemoryStream();
        source.CopyTo(copy);
        return copy.ToArray();
    }
}
