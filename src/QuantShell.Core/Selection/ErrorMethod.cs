using System.Text.Json.Serialization;

namespace QuantShell.Core.Selection;

/// <summary>How a threshold or range is chosen from data when none is given.</summary>
public enum ErrorMethod
{
    /// <summary>Cover the data: symmetric t = max|x|, POT t = the smallest power of two ≥ max|x|, uniform [min, max].</summary>
    [JsonStringEnumMemberName("noClipping")]
    NoClipping,
    /// <summary>Minimize the mean squared error between x and its fake-quantized self.</summary>
    [JsonStringEnumMemberName("mse")]
    Mse,
    /// <summary>Minimize the mean absolute error.</summary>
    [JsonStringEnumMemberName("mae")]
    Mae,
    /// <summary>Minimize the mean of |error|^p (see <see cref="SelectionOptions.P"/>).</summary>
    [JsonStringEnumMemberName("lp")]
    Lp,
}
