using System.Text.Json.Serialization;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>What a lowered activation quantizer becomes.</summary>
public enum ActivationsForm
{
    /// <summary>Elementary ops that reproduce PyTorch's fake-quantize bit for bit: Mul by the float32 reciprocal, Round, Add, Clip, Sub, Mul.</summary>
    [JsonStringEnumMemberName("exact")]
    Exact,
    /// <summary>QuantizeLinear + DequantizeLinear, which runtimes accelerate; QuantizeLinear divides, so near ties it may land one step off PyTorch.</summary>
    [JsonStringEnumMemberName("qdq")]
    Qdq,
}
