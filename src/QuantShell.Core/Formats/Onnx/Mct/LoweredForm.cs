using System.Text.Json.Serialization;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>What one quantizer node became.</summary>
public enum LoweredForm
{
    /// <summary>A weight initializer holding the fake-quantized values.</summary>
    [JsonStringEnumMemberName("fake")]
    Fake,
    /// <summary>Integer codes, scale and zero point into DequantizeLinear (weights), or QuantizeLinear + DequantizeLinear (activations).</summary>
    [JsonStringEnumMemberName("qdq")]
    Qdq,
    /// <summary>A LUT weight: table indices, Gather over the table, times the per-channel scale.</summary>
    [JsonStringEnumMemberName("gather")]
    Gather,
    /// <summary>An activation as Mul, Round, Add, Clip, Sub, Mul: PyTorch's fake-quantize bit for bit.</summary>
    [JsonStringEnumMemberName("exact")]
    Exact,
}
