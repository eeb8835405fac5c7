using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>Behaviours docs/semantics.md promises at the edges: saturation, signed zeros, the weights zero point.</summary>
public sealed class EdgeCaseTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    // One grid; long runs per channel (broadcast constants); a short period (per-lane grid tables).
    public static TheoryData<string> Layouts() => ["per-tensor", "axis 0", "last axis"];

    private static InferableQuantizer Symmetric(string layout) => layout switch
    {
        "per-tensor" => new WeightsSymmetricInferableQuantizer(8, [0.5]),
        "axis 0" => new WeightsSymmetricInferableQuantizer(8, [0.5, 1, 2], perChannel: true, channelAxis: 0),
        _ => new WeightsSymmetricInferableQuantizer(8, [0.5, 1, 2], perChannel: true, channelAxis: -1),
    };

    private static long[] ShapeFor(string layout, int length) => layout == "axis 0" ? [3, length / 3] : [length / 3, 3];

    [Theory]
    [MemberData(nameof(Layouts))]
    public void HugeInputs_SaturateToTheEndsOfTheRange_Float32(string layout)
    {
        // |x / s| beyond 2^63, where an integer conversion would overflow (1e20 / s), and a product that is infinite
        // (3e38 / s): the result is qmin * s or qmax * s.
        var quantizer = Symmetric(layout);
        float[] pattern = [3e38f, -3e38f, 1e20f, -1e20f];
        var values = Enumerable.Range(0, 96).Select(i => pattern[i % 4]).ToArray();
        var output = new float[values.Length];
        var stats = new KernelStats();
        var plan = quantizer.CreatePlan(ShapeFor(layout, values.Length));
        plan.Apply<float>(values, output, 0, ref stats);
        for (int i = 0; i < values.Length; i++)
        {
            var (min, max) = plan.RangeOf(plan.ChannelOf(i));
            Assert.Equal(values[i] > 0 ? (float)max : (float)min, output[i]);
        }
        Assert.Equal(0, stats.NonFinite);
    }

    [Fact]
    public void HugeInputs_SaturateToTheEndsOfTheRange_Float64()
    {
        var quantizer = new ActivationUniformInferableQuantizer(8, -1.0, 3.0);
        double[] values = [1e300, -1e300, double.MaxValue, -double.MaxValue, 1e19, -1e19];
        var output = new double[values.Length];
        var stats = new KernelStats();
        var plan = quantizer.CreatePlan([values.Length]);
        plan.Apply<double>(values, output, 0, ref stats);
        var (min, max) = plan.RangeOf(0);
        Assert.Equal(values.Select(v => v > 0 ? max : min), output);
    }

    [Theory]
    [InlineData("symmetric")]
    [InlineData("pot")]
    [InlineData("uniform")]
    public void NegativeZero_AndValuesRoundingToZero_ComeOutAsPositiveZero(string method)
    {
        // PyTorch rounds to an integer code and multiplies it back: a zero code is +0.0 whatever the sign of x.
        var quantizer = InferableQuantizer.Create(method switch
        {
            "uniform" => new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = 8, MinRange = [-1.0], MaxRange = [3.0] },
            "pot" => new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = 8, Threshold = [2.0] },
            _ => new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 8, Threshold = [1.5] },
        });
        float[] values = [-0.0f, 0.0f, -1e-9f, 1e-9f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -1e-12f];
        string input = _temp.File($"zeros-{method}.npy"), output = _temp.File($"zeros-{method}.q.npy");
        new NpyArray([values.Length], values).Write(input);
        NpyQuantizer.QuantizeFile(input, output, quantizer);
        foreach (float y in (float[])NpyArray.Read(output).Data)
            Assert.Equal(0, BitConverter.SingleToInt32Bits(y)); // +0.0, not -0.0
    }

    [Fact]
    public void WeightsUniform_ZeroPoint_TruncatesWhereActivationsRound()
    {
        // 5 bits, [-9.4865456, 3.1190026]: min' / s is -22.999998 in float32. Weights take -trunc (22), activations
        // -round (23): docs/semantics.md, as MCT computes them.
        const float min = -9.48654556274414f, max = 3.1190025806427f;
        var weights = new WeightsUniformInferableQuantizer(5, [min], [max]);
        var activations = new ActivationUniformInferableQuantizer(5, min, max);
        Assert.Equal(22, ((GridQuantizer)weights).Parameters.ZeroPoints[0]);
        Assert.Equal(23, ((GridQuantizer)activations).Parameters.ZeroPoints[0]);

        // The file path applies the truncated zero point: the formula written out, in float32.
        var (adjustedMin, adjustedMax) = RangeMath.AdjustUniformRange(min, max, 5);
        float scale = (adjustedMax - adjustedMin) / 31f, inverse = 1f / scale;
        var random = new Random(19);
        var values = Enumerable.Range(0, 257).Select(_ => (float)(random.NextDouble() * 16 - 10)).ToArray();
        string input = _temp.File("w.npy"), output = _temp.File("w.q.npy");
        new NpyArray([values.Length], values).Write(input);
        NpyQuantizer.QuantizeFile(input, output, weights);
        var quantized = (float[])NpyArray.Read(output).Data;
        for (int i = 0; i < values.Length; i++)
        {
            float q = Math.Clamp(MathF.Round(values[i] * inverse, MidpointRounding.ToEven) + 22f, 0f, 31f);
            Assert.Equal((q - 22f) * scale, quantized[i]);
        }
    }
}
