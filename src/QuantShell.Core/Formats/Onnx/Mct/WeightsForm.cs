using System.Text.Json.Serialization;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>What a lowered weight quantizer becomes.</summary>
public enum WeightsForm
{
    /// <summary>The weight initializer holds its fake-quantized values; the quantizer node is gone.</summary>
    [JsonStringEnumMemberName("fake")]
    Fake,
    /// <summary>Integer codes with scale and zero point feeding DequantizeLinear (per axis when per channel); LUT weights a Gather over the table times the scale.</summary>
    [JsonStringEnumMemberName("qdq")]
    Qdq,
}
