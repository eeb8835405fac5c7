using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantShell.Torch.Tests;

public sealed class TensorApiTests
{
    [Fact]
    public void SeedExample_RunsAsWritten()
    {
        // The seed's Python example, almost word for word.
        var quantizer = new WeightsSymmetricInferableQuantizer(numBits: 8, perChannel: true,
                                                               threshold: new[] { 2.0, 4.0, 1.0 }, signed: true);
        using Tensor inputTensor = torch.rand(1, 3, 3, 3) * 100 - 50;
        using Tensor quantized = quantizer.Quantize(inputTensor);
        Assert.Equal(new long[] { 1, 3, 3, 3 }, quantized.shape);
        Assert.True(quantized.max().item<float>() < 4);
        Assert.True(quantized.min().item<float>() >= -4);
    }

    [Fact]
    public void SeedExample_MatchesTheReferenceCase()
    {
        var c = Conformance.PyTorch.Get("e_seed_example");
        var quantizer = new WeightsSymmetricInferableQuantizer(numBits: 8, perChannel: true, threshold: c.Quantizer.Threshold!.ToArray(), signed: true,
                                                               channelAxis: c.Quantizer.ChannelAxis);
        using var input = TensorConversion.ToTensor(NpyArray.Read(c.InputPath));
        using var quantized = quantizer.Quantize(input);
        Conformance.AssertIdentical(NpyArray.Read(c.ExpectedPath), TensorConversion.ToNpyArray(quantized), c.Name);
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float16)]
    public void FusedCpuPath_EqualsComposedOps(ScalarType dtype)
    {
        var q = new WeightsUniformInferableQuantizer(numBits: 4, minRange: new[] { -0.7, -1.1, -0.2, -3 }, maxRange: new[] { 0.9, 0.4, 1.5, 2 }, perChannel: true, channelAxis: 1);
        using var x = (torch.randn(5, 4, 6, generator: new torch.Generator(7)) * 2).to_type(dtype);
        using var fused = q.Quantize(x);
        using var composed = TensorQuantization.QuantizeComposed(q, x, q.CreatePlan(x.shape));
        Assert.Equal(dtype, fused.dtype);
        Assert.True(fused.equal(composed).all().item<bool>(), "fused and composed results differ");
    }

    [Fact]
    public void NonContiguousAndIntegerInputs_AreHandled()
    {
        var q = new ActivationPOTInferableQuantizer(numBits: 8, threshold: 16.0);
        using var x = torch.arange(12, dtype: ScalarType.Float32).reshape(3, 4).t();
        using var y = q.Quantize(x);
        Assert.True(y.equal(x).all().item<bool>()); // small integers are on the grid of s = 8/128
        using var ints = torch.arange(6, dtype: ScalarType.Int32);
        using var yi = q.Quantize(ints);
        Assert.Equal(ScalarType.Float32, yi.dtype);
    }

    [Fact]
    public void NonFinite_ThrowsByDefault_AndIsKeptWhenAllowed()
    {
        var q = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 1.0);
        using var x = torch.tensor(new float[] { 0.5f, float.NaN, float.PositiveInfinity, -0.25f });
        var ex = Assert.Throws<QuantShellException>(() => q.Quantize(x));
        Assert.Equal(ErrorIds.NonFiniteInput, ex.ErrorId);
        Assert.Contains("2 non-finite values", ex.Message);
        Assert.Contains("[1]", ex.Message);
        using var y = q.Quantize(x, allowNonFinite: true);
        var values = y.data<float>().ToArray();
        Assert.True(float.IsNaN(values[1]));
        Assert.Equal(127f / 128, values[2]);
    }

    [Fact]
    public void Quantize_DoesNotLeakTensors_OrDisposeTheCallers()
    {
        var q = new WeightsPOTInferableQuantizer(numBits: 8, threshold: new[] { 1.0, 2.0 }, perChannel: true, channelAxis: 0);
        using var x = torch.randn(2, 100);
        using (var warm = q.Quantize(x)) { }
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var y = q.Quantize(x)) { }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.False(x.IsInvalid);
    }

    [Fact]
    public void ZeroDimensionalTensor_KeepsItsShape()
    {
        var q = new ActivationUniformInferableQuantizer(numBits: 8, minRange: -1, maxRange: 1);
        using var x = torch.tensor(0.3f);
        using var y = q.Quantize(x);
        Assert.Empty(y.shape);
    }

    [Fact]
    public void SignedZeros_AndHugeValues_AreHandledAsOnTheFilePath()
    {
        // -0.0 comes out as +0.0 (a zero code times the scale); |x / s| beyond 2^63 saturates.
        var q = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 1.0 });
        using var x = torch.tensor(new float[] { -0.0f, -1e-9f, 1e20f, -1e20f, 3e38f });
        var y = q.Quantize(x).data<float>().ToArray();
        Assert.Equal(0, BitConverter.SingleToInt32Bits(y[0]));
        Assert.Equal(0, BitConverter.SingleToInt32Bits(y[1]));
        Assert.Equal(new[] { 127f / 128, -1f, 127f / 128 }, y[2..]);
    }
}
