using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

public sealed class RangeMathTests
{
    [Fact]
    public void Symmetric_Signed8Bit_Threshold4_RepresentsMinus4ToJustBelow4()
    {
        var q = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 4.0 });
        Assert.Equal(4f / 128, q.Parameters.Scales[0]);
        Assert.Equal(-128, q.Parameters.QuantMin);
        Assert.Equal(127, q.Parameters.QuantMax);
        Assert.Equal(0, q.Parameters.ZeroPoints[0]);
    }

    [Fact]
    public void Symmetric_Unsigned_UsesAllLevelsAboveZero()
    {
        var q = new ActivationSymmetricInferableQuantizer(numBits: 4, threshold: 3.0, signed: false);
        Assert.Equal((float)(3.0 / 16), q.Parameters.Scales[0]);
        Assert.Equal((0, 15), (q.Parameters.QuantMin, q.Parameters.QuantMax));
    }

    [Fact]
    public void Uniform_PositiveRange_StartsAtZero()
    {
        Assert.Equal((0f, 3f), RangeMath.AdjustUniformRange(1f, 3f, 8));
        Assert.Equal((-3f, 0f), RangeMath.AdjustUniformRange(-3f, -1f, 8));
    }

    [Theory]
    [InlineData(-1.5f, 2.5f, 8)]
    [InlineData(-0.3f, 0.7f, 3)]
    [InlineData(-7.1f, 0.2f, 5)]
    public void Uniform_AdjustedRange_PutsZeroOnTheGrid(float min, float max, int bits)
    {
        var (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(min, max, bits);
        float step = (max - min) / ((1 << bits) - 1);
        Assert.Equal(step * MathF.Round(min / step), adjustedMin);
        Assert.Equal(max - min + adjustedMin, adjustedMax);
        var (scale, zeroPoint) = RangeMath.UniformWeightsGrid(adjustedMin, adjustedMax, bits);
        Assert.InRange(zeroPoint, 0, (1 << bits) - 1);
        // zero is exactly representable: (0 - z) * s + z * s == 0 and quantizing 0 returns 0
        var q = new WeightsUniformInferableQuantizer(bits, new double[] { min }, new double[] { max });
        var plan = q.CreatePlan(new long[] { 1 });
        var output = new float[1];
        var stats = new Kernels.KernelStats();
        plan.Apply<float>(new[] { 0f }, output, 0, ref stats);
        Assert.Equal(0f, output[0]);
        Assert.True(scale > 0);
    }

    [Fact]
    public void Uniform_Grids_FollowTheWrittenFormula()
    {
        var (wScale, wZero) = RangeMath.UniformWeightsGrid(-3.5f, 4.0f, 4); // s = 7.5/15 = 0.5, -trunc(min'/s) = 7
        Assert.Equal(0.5f, wScale);
        Assert.Equal(7, wZero);
        var (aScale, aZero) = RangeMath.UniformActivationGrid(-1.75f, 2.0f, 4); // s = 0.25, -min'/s = 7
        Assert.Equal(0.25f, aScale);
        Assert.Equal(7, aZero);
    }
}
