using QuantShell.Core.Errors;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>The record an int output carries: written with the key <c>format</c>, read with it or the former <c>form</c>.</summary>
public sealed class QuantizationRecordTests
{
    private static QuantizationRecord Record(OutputFormat format) => new()
    {
        Format = format,
        Tensors =
        [
            new QuantizedTensorRecord
            {
                Name = "w",
                DType = "float32",
                Shape = [2, 3],
                Quantizer = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 4, Threshold = [1.0], Signed = true },
                CodeDType = "int8",
                Scale = "w_scale",
            },
        ],
    };

    [Theory]
    [InlineData(OutputFormat.Int)]
    [InlineData(OutputFormat.Qdq)]
    public void Written_WithTheFormatKey_AndReadBack(OutputFormat format)
    {
        string json = Record(format).ToJson();
        Assert.Contains("\"format\":", json);
        Assert.DoesNotContain("\"form\":", json);
        Assert.Equal(format, QuantizationRecord.Parse(json, "m.int.npz").Format);
    }

    [Theory]
    [InlineData(OutputFormat.Int)]
    [InlineData(OutputFormat.Qdq)]
    public void FormerFormKey_StillRead(OutputFormat format)
    {
        string json = Record(format).ToJson().Replace("\"format\":", "\"form\":", StringComparison.Ordinal);
        var record = QuantizationRecord.Parse(json, "m.int.npz");
        Assert.Equal(format, record.Format);
        Assert.Equal("w", Assert.Single(record.Tensors).Name);
    }

    [Fact]
    public void NeitherKey_IsAnInvalidRecord()
    {
        string json = Record(OutputFormat.Int).ToJson().Replace("\"format\":\"int\",", "", StringComparison.Ordinal);
        Assert.DoesNotContain("format", json);
        var error = Assert.Throws<QuantShellException>(() => QuantizationRecord.Parse(json, "m.int.npz"));
        Assert.Equal(ErrorIds.QuantizationRecordMissing, error.ErrorId);
        Assert.Contains("m.int.npz", error.Message);
    }
}
