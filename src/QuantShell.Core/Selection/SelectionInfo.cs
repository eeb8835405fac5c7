using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>How a quantizer's values were chosen from data.</summary>
public sealed record SelectionInfo
{
    public required ErrorMethod ErrorMethod { get; init; }

    /// <summary>As MCT does, or QuantShell's search for the least error.</summary>
    public required SelectionSearch Search { get; init; }

    /// <summary>The exponent of <see cref="ErrorMethod.Lp"/>; null for the other methods.</summary>
    public double? P { get; init; }

    /// <summary>The share of the data covered by <see cref="ErrorMethod.Percentile"/>, in percent; null for the other methods.</summary>
    public double? Percentile { get; init; }

    /// <summary>Chosen once from all inputs pooled.</summary>
    public required bool Calibrated { get; init; }

    /// <summary>How many inputs the values were chosen from.</summary>
    public required int InputCount { get; init; }

    public override string ToString()
    {
        string method = EnumNames.Json(ErrorMethod) + (P is double p ? " p=" + p.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "")
                        + (Percentile is double percent ? " " + percent.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "%" : "");
        method += ", search " + EnumNames.Json(Search);
        return Calibrated ? $"calibrated over {InputCount} input{(InputCount == 1 ? "" : "s")}, {method}" : $"chosen from the data, {method}";
    }
}
