using System.Text.Json.Serialization;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Jobs.Dequantize;

/// <summary>One tensor of a dequantized file: the result object of Invoke-Dequantize and a line of <c>dotnet quant dequantize --json</c>.</summary>
public sealed record DequantizationResult
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }
    public required string TensorName { get; init; }
    public required long[] Shape { get; init; }

    /// <summary>The output's dtype: the tensor's original one for dequantized tensors.</summary>
    [JsonPropertyName("dtype")]
    public required string DType { get; init; }

    /// <summary>True when integer codes were turned back into values; false for a tensor copied as it was.</summary>
    public required bool Dequantized { get; init; }

    /// <summary>The dtype of the codes read (int8, uint8, ...); null for copied tensors.</summary>
    [JsonPropertyName("codeDtype")]
    public string? CodeDType { get; init; }

    /// <summary>The quantizer the codes were made with, as the file recorded it; null for copied tensors.</summary>
    public QuantizerSpec? Quantizer { get; init; }

    [JsonIgnore]
    public string ShapeText => NpyHeader.FormatShape(Shape);
}
