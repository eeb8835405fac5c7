using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// <see cref="KlDivergence.Error"/> as it was before candidates were scored through <see cref="MctKlHistogram"/> (main at
/// 2349c97, unchanged but for its name and <see cref="TensorError{T}"/>, TensorKlErrors' per-candidate steps of then):
/// the reference the fast path must equal bit for bit.
/// MCT's KL error between a histogram and its quantized edges (<c>error_functions._kl_error_histogram</c>), with NumPy's
/// precisions:
/// <list type="number">
/// <item>+∞ when no edge is ≥ the range's minimum or none is below its maximum; the bins kept run from one before the
/// first edge ≥ the minimum (at least 0) up to, not including, the last edge below the maximum; 0 when that is one edge;
/// +∞ when the kept bins are all empty.</item>
/// <item>The data's distribution: the kept counts, the mass below piled onto the first and the mass from the last edge
/// on piled onto the last, divided by their sum.</item>
/// <item>The quantized distribution: for each distinct quantized edge value, its kept bins share their count
/// evenly among the non-empty ones (count / (non-empty + 1e-6), rounded to float32), divided by their sum.</item>
/// <item>Both smoothed in float32 (zeros get min/(2n), the others give that mass up evenly) and
/// Σ p·log(p/q) summed in float32 with NumPy's float32 logarithm (<see cref="NumpyLogF"/>).</item>
/// </list>
/// A distribution MCT's smoothing rejects (its asserts) scores +∞ here.
/// </summary>
internal static class KlDivergenceReference
{
    /// <summary>TensorKlErrors' error of one candidate as it was: the edges in float64, quantized on the KL range's grid, and <see cref="Error"/>.</summary>
    public static MctLoss TensorError<T>(NumpyHistogram<T> histogram, in MctCandidate candidate, int numBits)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (candidate.KlMax <= candidate.KlMin) return MctLoss.Infinity;
        bool single = typeof(T) == typeof(float) && !(candidate.KlPrecision == ParameterPrecision.Double && candidate.KlArray);
        double min = single ? (float)candidate.KlMin : candidate.KlMin, max = single ? (float)candidate.KlMax : candidate.KlMax;
        var edges = new double[histogram.Edges.Length];
        for (int i = 0; i < edges.Length; i++) edges[i] = double.CreateTruncating(histogram.Edges[i]);
        var grid = MctGrid.FromRange(candidate.KlMin, candidate.KlMax, numBits, candidate.KlPrecision, single);
        var quantized = new double[edges.Length];
        grid.Quantize<double>(edges, quantized);
        var counts = new double[histogram.Counts.Length];
        for (int i = 0; i < counts.Length; i++) counts[i] = histogram.Counts[i];
        return Error(quantized, edges, counts, min, max, wholeCounts: true);
    }

    /// <param name="quantizedEdges">Each edge quantized (float32 values when NumPy quantized in float32).</param>
    /// <param name="edges">The histogram's edges (one more than the counts).</param>
    /// <param name="counts">The histogram's counts.</param>
    /// <param name="rangeMin">The range's minimum, as NumPy compares it with the edges (already rounded to float32 where it does).</param>
    /// <param name="rangeMax">The range's maximum, likewise.</param>
    /// <param name="wholeCounts">Counts are integers (NumPy int64: sums exact) rather than float64 (pairwise sums).</param>
    public static MctLoss Error(ReadOnlySpan<double> quantizedEdges, ReadOnlySpan<double> edges, ReadOnlySpan<double> counts,
                                double rangeMin, double rangeMax, bool wholeCounts)
    {
        int firstAtLeast = -1, lastBelow = -1;
        for (int i = 0; i < edges.Length; i++)
        {
            if (firstAtLeast < 0 && edges[i] >= rangeMin) firstAtLeast = i;
            if (edges[i] < rangeMax) lastBelow = i;
        }
        if (firstAtLeast < 0 || lastBelow < 0) return MctLoss.Infinity;
        int first = Math.Max(firstAtLeast - 1, 0), last = lastBelow;
        if (first == last) return new MctLoss(0.0, false);
        if (first > last) return MctLoss.Infinity; // MCT's assert fails
        int length = last - first;
        var kept = counts.Slice(first, length);
        bool any = false;
        foreach (double c in kept) any |= c != 0;
        if (!any) return MctLoss.Infinity;

        var data = kept.ToArray();
        data[0] += Sum(counts[..first], wholeCounts);
        data[^1] += Sum(counts[last..], wholeCounts);

        // The quantized distribution: the bins of each distinct quantized edge value, as NumPy's mask takes them (edges
        // quantize monotonically, so equal values are adjacent, but a value seen again later joins its first bins: hence
        // groups by value, each in index order; -0 and +0 are one value, NaN none). One pass, whatever the groups.
        var quantized = new double[length];
        var groups = new Dictionary<double, List<int>>();
        var inOrder = new List<List<int>>();
        for (int i = 0; i < length; i++)
        {
            double value = quantizedEdges[first + i];
            if (double.IsNaN(value)) continue;
            double key = value == 0 ? 0.0 : value;
            if (!groups.TryGetValue(key, out var members))
            {
                members = [];
                groups[key] = members;
                inOrder.Add(members);
            }
            members.Add(i);
        }
        foreach (var members in inOrder)
        {
            var group = new double[members.Count];
            float nonEmpty = 0;
            for (int k = 0; k < group.Length; k++)
            {
                group[k] = kept[members[k]];
                if (group[k] > 0) nonEmpty++;
            }
            double share = Sum(group, wholeCounts) / ((double)nonEmpty + 1e-6);
            float shareSingle = (float)share;
            foreach (int i in members) quantized[i] = kept[i] > 0 ? shareSingle : 0f;
        }

        double quantizedTotal = NumpySum.Sum(quantized);
        for (int i = 0; i < length; i++) quantized[i] /= quantizedTotal;
        double dataTotal = Sum(data, wholeCounts);
        for (int i = 0; i < length; i++) data[i] /= dataTotal;
        var q = Smooth(quantized);
        var p = Smooth(data);
        if (q is null || p is null) return MctLoss.Infinity;
        var terms = new float[length];
        for (int i = 0; i < length; i++) terms[i] = p[i] * NumpyLogF.Log(p[i] / q[i]);
        return new MctLoss(NumpySum.Sum(terms), true);
    }

    private static double Sum(ReadOnlySpan<double> values, bool whole)
    {
        if (!whole) return NumpySum.Sum(values);
        long total = 0;
        foreach (double v in values) total += (long)v;
        return total;
    }

    /// <summary>MCT's <c>_smooth_distribution</c>; null where it would raise (no non-zero value, a term not above 0, a result ≤ 0).</summary>
    private static float[]? Smooth(double[] probability)
    {
        int n = probability.Length;
        double smallest = double.PositiveInfinity;
        bool anyNonZero = false;
        var nonZeroFlags = new float[n];
        for (int i = 0; i < n; i++)
        {
            double v = probability[i];
            if (v == 0) continue;
            nonZeroFlags[i] = 1f;
            if (double.IsNaN(v) || double.IsNaN(smallest)) smallest = double.NaN; // np.min propagates NaN
            else if (v < smallest) smallest = v;
            anyNonZero = true;
        }
        if (!anyNonZero) return null;
        double term = smallest / (2.0 * n);
        if (!(term > 0)) return null;
        float nonZero = NumpySum.Sum(nonZeroFlags);
        double zeros = n - (double)nonZero;
        double reduce = term * zeros / nonZero;
        float termSingle = (float)term, reduceSingle = (float)-reduce;
        var smoothed = new float[n];
        for (int i = 0; i < n; i++)
        {
            float correction = termSingle * (1f - nonZeroFlags[i]) + reduceSingle * nonZeroFlags[i];
            smoothed[i] = (float)probability[i] + correction;
            if (smoothed[i] <= 0) return null;
        }
        return smoothed;
    }
}
