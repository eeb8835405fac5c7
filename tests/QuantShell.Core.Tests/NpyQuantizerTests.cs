using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

public sealed class NpyQuantizerTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-files-").FullName;
    private readonly InferableQuantizer _quantizer = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 2.0);

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private string Input(string name, params float[] values)
    {
        string path = Path.Combine(_temp, name);
        new NpyArray(new long[] { values.Length }, values).Write(path);
        return path;
    }

    [Fact]
    public void QuantizeFile_ReportsShapeScaleAndError()
    {
        string input = Input("x.npy", 0.1f, -0.7f, 1.99f, 0.5f);
        var result = NpyQuantizer.QuantizeFile(input, Path.Combine(_temp, "y.npy"), _quantizer);
        Assert.Equal(new long[] { 4 }, result.Shape);
        Assert.Equal("float32", result.DType);
        Assert.Equal(new[] { 2f / 128 }, result.Scale);
        Assert.True(result.Mse > 0 && result.Mse < (2.0 / 128) * (2.0 / 128));
        Assert.True(result.SqnrDb > 30);
        Assert.Equal(Path.Combine(_temp, "y.npy"), result.OutputPath);
    }

    [Fact]
    public void DefaultOutputPath_IsBesideTheInput()
    {
        Assert.Equal(Path.Combine("a", "b", "x.q.npy"), QuantizeJob.DefaultOutputPath(Path.Combine("a", "b", "x.npy")));
    }

    [Fact]
    public void ExistingOutput_IsRefusedWithoutForce_AndLeftIdentical()
    {
        string input = Input("x.npy", 1f);
        string output = Path.Combine(_temp, "out.npy");
        File.WriteAllBytes(output, new byte[] { 1, 2, 3 });
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(input, output, _quantizer));
        Assert.Equal("OutputExists", ex.ErrorId);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(output));
        NpyQuantizer.QuantizeFile(input, output, _quantizer, new FileQuantizeOptions { Force = true });
        Assert.Equal(new[] { 1f }, (float[])NpyArray.Read(output).Data);
    }

    [Fact]
    public void OutputSameAsInput_IsRefused()
    {
        string input = Input("x.npy", 1f);
        byte[] before = File.ReadAllBytes(input);
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(input, Path.Combine(_temp, ".", "x.npy"), _quantizer, new FileQuantizeOptions { Force = true }));
        Assert.Equal("OutputIsInput", ex.ErrorId);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    [Fact]
    public void NonFiniteFile_FailsWithoutLeavingAnyFile()
    {
        string input = Input("x.npy", 1f, float.NaN, 2f);
        string output = Path.Combine(_temp, "y.npy");
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(input, output, _quantizer));
        Assert.Equal("NonFiniteInput", ex.ErrorId);
        Assert.Contains(input, ex.Message);
        Assert.Contains("[1]", ex.Message);
        Assert.Equal(new[] { "x.npy" }, Directory.GetFiles(_temp).Select(Path.GetFileName));
        var result = NpyQuantizer.QuantizeFile(input, output, _quantizer, new FileQuantizeOptions { AllowNonFinite = true });
        Assert.Equal(1, result.NonFiniteCount);
        Assert.True(float.IsNaN(((float[])NpyArray.Read(output).Data)[1]));
    }

    [Fact]
    public void MalformedInput_FailsWithoutLeavingAnyFile()
    {
        string input = NpyBuilder.WriteTemp(_temp, "bad.npy", NpyBuilder.Build(NpyBuilder.Dict("<f4", "(10,)"), new byte[12]));
        var ex = Assert.Throws<TensorFormatException>(() => NpyQuantizer.QuantizeFile(input, Path.Combine(_temp, "y.npy"), _quantizer));
        Assert.Equal("NpyDataTruncated", ex.ErrorId);
        Assert.Equal(new[] { "bad.npy" }, Directory.GetFiles(_temp).Select(Path.GetFileName));
    }

    [Fact]
    public void ChannelMismatch_NamesTheFile()
    {
        string input = Input("x.npy", 1f, 2f, 3f);
        var q = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 1.0, 2.0 }, perChannel: true);
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(input, Path.Combine(_temp, "y.npy"), q));
        Assert.Equal("ChannelCountMismatch", ex.ErrorId);
        Assert.StartsWith(input, ex.Message);
    }

    [Fact]
    public void Cancellation_LeavesNoPartialFile()
    {
        string input = Input("x.npy", Enumerable.Range(0, 100_000).Select(i => i * 1e-5f).ToArray());
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => NpyQuantizer.QuantizeFile(input, Path.Combine(_temp, "y.npy"), _quantizer, null, cts.Token));
        Assert.Equal(new[] { "x.npy" }, Directory.GetFiles(_temp).Select(Path.GetFileName));
    }

    [Fact]
    public void IntegerInput_GivesFloat32Output()
    {
        string input = NpyBuilder.WriteTemp(_temp, "i.npy", NpyBuilder.Build(NpyBuilder.Dict(">i2", "(3,)"), new byte[] { 0, 1, 255, 255, 0, 3 }));
        string output = Path.Combine(_temp, "o.npy");
        var result = NpyQuantizer.QuantizeFile(input, output, new ActivationPOTInferableQuantizer(numBits: 8, threshold: 4.0));
        Assert.Equal("int16", result.DType);
        Assert.Equal("float32", result.OutputDType);
        Assert.Equal(new[] { 1f, -1f, 3f }, (float[])NpyArray.Read(output).Data);
    }
}

public sealed class NonFiniteCountTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-nonfinite-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void NonFiniteInManyChunks_ErrorCountsThemAll()
    {
        var values = Enumerable.Range(0, 10_000).Select(i => i * 1e-4f).ToArray();
        foreach (int at in new[] { 5, 3000, 9999 }) values[at] = float.NaN;
        string input = Path.Combine(_temp, "x.npy");
        new NpyArray(new long[] { 100, 100 }, values).Write(input);
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(input, Path.Combine(_temp, "y.npy"),
            new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 1.0), new FileQuantizeOptions { ChunkBytes = 400 }));
        Assert.Contains("3 non-finite values", ex.Message);
        Assert.Contains("[0, 5]", ex.Message);
        Assert.Equal(new[] { "x.npy" }, Directory.GetFiles(_temp).Select(Path.GetFileName));
    }
}
