using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

public sealed class QuantizerFileTests
{
    [Fact]
    public void Parse_CamelAndSnakeCase_GiveTheSameSpec()
    {
        var camel = QuantizerFile.Parse("""{"target": "weights", "method": "symmetric", "numBits": 8, "threshold": [2, 4, 1], "signed": true, "perChannel": true, "channelAxis": 1}""");
        var snake = QuantizerFile.Parse("""{"target": "Weights", "method": "SYMMETRIC", "num_bits": 8, "threshold": [2, 4, 1], "signed": true, "per_channel": true, "channel_axis": 1}""");
        Assert.Equal(QuantizerFile.ToJson(camel), QuantizerFile.ToJson(snake));
        Assert.Equal(new[] { 2.0, 4, 1 }, camel.Threshold);
        Assert.Equal(1, camel.ChannelAxis);
    }

    [Fact]
    public void ToJson_ThenParse_RoundTrips()
    {
        var spec = new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = 8, MinRange = new[] { -1.5 }, MaxRange = new[] { 2.5 } };
        var back = QuantizerFile.Parse(QuantizerFile.ToJson(spec));
        Assert.Equal(spec.MinRange, back.MinRange);
        Assert.Equal(spec.MaxRange, back.MaxRange);
        Assert.Equal(spec.Target, back.Target);
        Assert.Contains("\"minRange\"", QuantizerFile.ToJson(spec));
    }

    [Theory]
    [InlineData("not json", "QuantizerFileInvalid")]
    [InlineData("[1, 2]", "QuantizerFileInvalid")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 8, "threshold": [2], "colour": "red"}""", "QuantizerFieldUnknown")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": "8", "threshold": [2]}""", "QuantizerFieldInvalid")]
    [InlineData("""{"target": "weights", "method": "cubic", "numBits": 8, "threshold": [2]}""", "QuantizerFieldInvalid")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 8}""", "ThresholdMissing")]
    [InlineData("""{"method": "pot", "numBits": 8, "threshold": [2]}""", "QuantizerFieldMissing")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 8, "threshold": [3]}""", "ThresholdNotPowerOfTwo")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 8.5, "threshold": [2]}""", "QuantizerFieldInvalid")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 8, "num_bits": 8, "threshold": [2]}""", "QuantizerFieldDuplicate")]
    public void Parse_Invalid_NamesSourceAndProblem(string json, string errorId)
    {
        var ex = Assert.Throws<QuantShellException>(() => QuantizerFile.Parse(json, "q.json"));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.StartsWith("q.json: ", ex.Message);
    }
}

public sealed class QuantizerSpecTextTests
{
    [Fact]
    public void ToString_IsTheQuantizerFileOnOneLine()
    {
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = 8, Threshold = new[] { 2.0, 4 }, PerChannel = true };
        Assert.Equal("{\"target\":\"weights\",\"method\":\"pot\",\"numBits\":8,\"threshold\":[2,4],\"signed\":true,\"perChannel\":true}", spec.ToString());
        var request = new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = 4 };
        Assert.Equal("{\"target\":\"activation\",\"method\":\"uniform\",\"numBits\":4}", request.ToString());
    }
}
