using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

public sealed class QuantizerValidationTests
{
    private static QuantizerSpec Spec(QuantizationTarget target = QuantizationTarget.Weights, QuantizationMethod method = QuantizationMethod.Symmetric,
        int bits = 8, double[]? threshold = null, double[]? min = null, double[]? max = null, bool perChannel = false, int? axis = null) =>
        new() { Target = target, Method = method, NumBits = bits, Threshold = threshold, MinRange = min, MaxRange = max, PerChannel = perChannel, ChannelAxis = axis };

    public static IEnumerable<object[]> InvalidSpecs() => new[]
    {
        new object[] { Spec(bits: 0, threshold: new[] { 1.0 }), "NumBits", "NumBitsOutOfRange", "0" },
        new object[] { Spec(bits: 17, threshold: new[] { 1.0 }), "NumBits", "NumBitsOutOfRange", "17" },
        new object[] { Spec(threshold: new[] { 0.0 }), "Threshold", "ThresholdNotPositive", "0" },
        new object[] { Spec(threshold: new[] { -2.0 }), "Threshold", "ThresholdNotPositive", "-2" },
        new object[] { Spec(threshold: new[] { double.NaN }), "Threshold", "ThresholdNotFinite", "NaN" },
        new object[] { Spec(threshold: new[] { double.PositiveInfinity }), "Threshold", "ThresholdNotFinite", "Infinity" },
        new object[] { Spec(method: QuantizationMethod.Pot, threshold: new[] { 3.0 }), "Threshold", "ThresholdNotPowerOfTwo", "3" },
        new object[] { Spec(method: QuantizationMethod.Pot, threshold: new[] { 2.0, 0.75 }, perChannel: true), "Threshold", "ThresholdNotPowerOfTwo", "0.75" },
        new object[] { Spec(), "Threshold", "ThresholdMissing", "Threshold" },
        new object[] { Spec(threshold: new[] { 1.0, 2.0 }), "Threshold", "ValueCountMismatch", "2 were given" },
        new object[] { Spec(method: QuantizationMethod.Uniform, min: new[] { 1.0 }, max: new[] { 1.0 }), "MinRange", "RangeMinNotBelowMax", "1" },
        new object[] { Spec(method: QuantizationMethod.Uniform, min: new[] { 2.0 }, max: new[] { -1.0 }), "MinRange", "RangeMinNotBelowMax", "-1" },
        new object[] { Spec(method: QuantizationMethod.Uniform, min: new[] { -1.0, -2 }, max: new[] { 1.0 }, perChannel: true), "MaxRange", "RangeCountMismatch", "2 values" },
        new object[] { Spec(method: QuantizationMethod.Uniform, min: new[] { -1.0 }), "MaxRange", "RangeMissing", "MaxRange" },
        new object[] { Spec(method: QuantizationMethod.Uniform, min: new[] { double.NaN }, max: new[] { 1.0 }), "MinRange", "RangeNotFinite", "NaN" },
        new object[] { Spec(method: QuantizationMethod.Uniform, threshold: new[] { 1.0 }, min: new[] { 0.0 }, max: new[] { 1.0 }), "Threshold", "ParameterNotApplicable", "Threshold" },
        new object[] { Spec(threshold: new[] { 1.0 }, min: new[] { 0.0 }), "MinRange", "ParameterNotApplicable", "MinRange" },
        new object[] { Spec(target: QuantizationTarget.Activation, threshold: new[] { 1.0, 2.0 }, perChannel: true), "PerChannel", "PerChannelActivationNotSupported", "activation" },
        new object[] { Spec(target: QuantizationTarget.Activation, threshold: new[] { 1.0, 2.0 }), "Threshold", "ValueCountMismatch", "2" },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void Create_InvalidSpec_ThrowsNamingParameterAndValue(QuantizerSpec spec, string parameter, string errorId, string valueText)
    {
        var ex = Assert.Throws<QuantizerValidationException>(() => InferableQuantizer.Create(spec));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(parameter, ex.ParameterName);
        Assert.Equal(QuantShellErrorKind.InvalidArgument, ex.Kind);
        Assert.Contains(valueText, ex.Message);
    }

    [Fact]
    public void WeightsPot_NonPowerOfTwoThreshold_Throws()
    {
        var ex = Assert.Throws<QuantizerValidationException>(() => new WeightsPOTInferableQuantizer(numBits: 8, threshold: new[] { 3.0 }));
        Assert.Equal("Threshold must be a power of two for a POT quantizer but is 3.", ex.Message);
    }

    [Fact]
    public void PerChannel_CountNotMatchingAxis_ThrowsWithShapeAndAxis()
    {
        var q = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 1.0, 2.0 }, perChannel: true, channelAxis: 0);
        var ex = Assert.Throws<QuantizerValidationException>(() => q.CreatePlan(new long[] { 3, 4 }));
        Assert.Equal("ChannelCountMismatch", ex.ErrorId);
        Assert.Contains("(3, 4)", ex.Message);
        Assert.Contains("2 values", ex.Message);
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(-3, 2)]
    [InlineData(0, 0)]
    public void PerChannel_AxisOutOfRange_Throws(int axis, int rank)
    {
        var q = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 1.0 }, perChannel: true, channelAxis: axis);
        var ex = Assert.Throws<QuantizerValidationException>(() => q.CreatePlan(Enumerable.Repeat(1L, rank).ToArray()));
        Assert.Equal("ChannelAxisOutOfRange", ex.ErrorId);
        Assert.Equal("ChannelAxis", ex.ParameterName);
    }

    [Fact]
    public void PerChannel_DefaultAxisIsLast()
    {
        var q = new WeightsSymmetricInferableQuantizer(numBits: 8, threshold: new[] { 1.0, 2.0, 4.0 }, perChannel: true);
        Assert.Equal(3, q.CreatePlan(new long[] { 1, 5, 3 }).ChannelAxis!.Value + 1);
    }
}
