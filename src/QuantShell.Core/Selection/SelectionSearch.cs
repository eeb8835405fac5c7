using System.Text.Json.Serialization;

namespace QuantShell.Core.Selection;

/// <summary>How the values missing from a quantizer are searched for.</summary>
public enum SelectionSearch
{
    /// <summary>
    /// As MCT does (sony/model_optimization's parameter selection with its default configuration): its candidates,
    /// iterations, activation histograms and formulas, giving the float32 values MCT would hand its quantizers
    /// (docs/selection.md lists every rule).
    /// </summary>
    [JsonStringEnumMemberName("mct")]
    Mct,

    /// <summary>QuantShell's own search for the least error on the values themselves, scored with the quantizer's exact arithmetic.</summary>
    [JsonStringEnumMemberName("optimal")]
    Optimal,
}
