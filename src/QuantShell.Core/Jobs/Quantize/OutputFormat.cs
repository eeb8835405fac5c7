using System.Text.Json.Serialization;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>What a quantized output holds (docs/model-files.md, "Output formats").</summary>
public enum OutputFormat
{
    /// <summary>The same file kind, names and dtypes; quantized tensors hold dequantize(quantize(x)).</summary>
    [JsonStringEnumMemberName("fake")]
    Fake,
    /// <summary>Deployable integers: NAME holds the codes, NAME_scale and NAME_zero_point (or NAME_lut) beside it, the quantizers recorded.</summary>
    [JsonStringEnumMemberName("int")]
    Int,
    /// <summary>ONNX only: integer initializers feeding DequantizeLinear.</summary>
    [JsonStringEnumMemberName("qdq")]
    Qdq,
    /// <summary>Model folders: the compressed-tensors pack-quantized layout (int32-packed codes, scales in the weight's dtype) that vLLM and transformers load.</summary>
    [JsonStringEnumMemberName("compressed-tensors")]
    CompressedTensors,
}
