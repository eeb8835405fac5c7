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
    /// <summary>
    /// Minimize MCT's KL divergence between the histogram of the data (2048 bins) and that histogram quantized: the
    /// clipped mass piled on the range's edge bins, each level's mass spread over the non-empty bins it stands for.
    /// </summary>
    [JsonStringEnumMemberName("kl")]
    Kl,
    /// <summary>
    /// Cover a share of the data (see <see cref="SelectionOptions.Percentile"/>), as ONNX Runtime's and TensorRT's
    /// percentile calibrators do: the threshold is that percentile of |x| (POT: the next power of two); a uniform range
    /// leaves (100 - percentile) / 2 percent of the values out on each side.
    /// </summary>
    [JsonStringEnumMemberName("percentile")]
    Percentile,
}
