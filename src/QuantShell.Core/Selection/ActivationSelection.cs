using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Selection;

/// <summary>
/// Chooses an activation quantizer's values (threshold or range) from the statistics collected while calibrating
/// (<see cref="ActivationHistogram"/>). The one place where calibration turns statistics into a quantizer.
/// </summary>
/// <remarks>
/// With <see cref="SelectionSearch.Mct"/> MCT's own selection runs on the histogram (as MCT scores activations). With
/// <see cref="SelectionSearch.Optimal"/> (and for Percentile) signedness follows MCT: signed iff the smallest value seen
/// is negative, and the values are chosen by the same search as for data given as arrays (<see cref="ParameterSelector"/>), run on a stand-in for the data made from the histogram: each
/// bin's centre repeated in proportion to its count (at most <see cref="MaxValues"/> values in all, counts rounded by
/// largest remainder), plus the exact minimum and maximum, so that NoClipping covers exactly what was seen.
/// </remarks>
public static class ActivationSelection
{
    /// <summary>The most values the stand-in for the data holds.</summary>
    public const int MaxValues = 1 << 16;

    /// <summary>
    /// The complete quantizer for an activation: <paramref name="request"/> (an activation spec whose values are left
    /// out) with its threshold or range chosen from <paramref name="statistics"/> as <paramref name="options"/> say.
    /// </summary>
    public static QuantizerSpec Choose(ActivationHistogram statistics, QuantizerSpec request, SelectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(options);
        if (request.Target != QuantizationTarget.Activation)
            throw new ArgumentException("An activation quantizer is chosen for activations.", nameof(request));
        if (statistics.Count == 0)
            throw new QuantShellException("No value was seen to choose the quantizer from.", ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidData);
        // As MCT does: its own search on the histogram itself (signed iff a non-empty bin's left edge is negative).
        if (options.Search == SelectionSearch.Mct && options.ErrorMethod != ErrorMethod.Percentile)
        {
            var edges = new double[statistics.Bins + 1];
            for (int b = 0; b <= statistics.Bins; b++) edges[b] = statistics.Edge(b);
            return ParameterSelector.FromMct(request, MctSelection.ChooseActivation(request, new Mct.ActivationHistogram(edges, statistics.Counts.ToArray()), options));
        }
        var spec = request.Method == QuantizationMethod.Uniform ? request with { Signed = null } : request with { Signed = request.Signed ?? statistics.Min < 0 };
        return ParameterSelector.Select(spec, [StandIn(statistics)], options with { Calibrate = false });
    }

    /// <summary>Bin centres weighted by the bins' counts (see the class remarks), plus the exact extremes.</summary>
    internal static NpyArray StandIn(ActivationHistogram statistics)
    {
        if (statistics.Min == statistics.Max) return new NpyArray([1], new[] { statistics.Min });
        var counts = statistics.Counts;
        double total = 0;
        foreach (double c in counts) total += c;
        long target = (long)Math.Min(MaxValues - 2, Math.Round(Math.Min(total, statistics.Count)));
        target = Math.Max(target, 1);
        var copies = new long[counts.Length];
        var remainders = new (double Remainder, int Bin)[counts.Length];
        long assigned = 0;
        for (int b = 0; b < counts.Length; b++)
        {
            double exact = total > 0 ? counts[b] * target / total : 0;
            copies[b] = (long)Math.Floor(exact);
            assigned += copies[b];
            remainders[b] = (exact - copies[b], b);
        }
        // Largest remainders first; ties to the lower bin, so the result does not depend on anything but the counts.
        foreach (var (_, bin) in remainders.OrderByDescending(r => r.Remainder).ThenBy(r => r.Bin).Take((int)Math.Max(0, target - assigned)))
            copies[bin]++;
        var values = new double[copies.Sum() + 2];
        int at = 0;
        values[at++] = statistics.Min;
        values[at++] = statistics.Max;
        for (int b = 0; b < counts.Length; b++)
        {
            if (copies[b] == 0) continue;
            double centre = Math.Clamp((statistics.Edge(b) + statistics.Edge(b + 1)) / 2, statistics.Min, statistics.Max);
            for (long k = 0; k < copies[b]; k++) values[at++] = centre;
        }
        return new NpyArray([values.Length], values);
    }
}
