using System.Text.Json.Serialization;

namespace QuantShell.Core.Quantization;

/// <summary>MCT's quantization methods: three on an integer grid, two with a look-up table of values.</summary>
public enum QuantizationMethod
{
    /// <summary>Power-of-two: symmetric with a threshold that is an exact power of two.</summary>
    [JsonStringEnumMemberName("pot")]
    Pot,
    [JsonStringEnumMemberName("symmetric")]
    Symmetric,
    /// <summary>Uniform (asymmetric): a min/max range moved so that 0 lies on the grid.</summary>
    [JsonStringEnumMemberName("uniform")]
    Uniform,
    /// <summary>Look-up table with a symmetric threshold (weights only).</summary>
    [JsonStringEnumMemberName("lutSymmetric")]
    LutSymmetric,
    /// <summary>Look-up table with a power-of-two threshold.</summary>
    [JsonStringEnumMemberName("lutPot")]
    LutPot,
}
