using System.Text.Json.Serialization;

namespace QuantShell.Core.Quantization;

/// <summary>What a quantizer is applied to: MCT has weights quantizers (per-tensor or per-channel) and activation quantizers (per-tensor only).</summary>
public enum QuantizationTarget
{
    [JsonStringEnumMemberName("weights")]
    Weights,
    [JsonStringEnumMemberName("activation")]
    Activation,
}
