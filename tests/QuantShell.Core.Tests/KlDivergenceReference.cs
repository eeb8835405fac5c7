using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// TensorKlErrors' per-candidate steps as they were before candidates were scored through <see cref="MctKlHistogram"/>
/// (main at 2349c97): every edge quantized on the candidate's grid, then <see cref="KlDivergence.Error"/> (MCT's KL error
/// of a histogram, unchanged since, pinned by MCT's own fixtures, and the fast path's fallback). The reference the fast
/// path must equal bit for bit.
/// </summary>
internal static class KlDivergenceReference
{
    /// <summary>TensorKlErrors' error of one candidate as it was: the edges in float64, quantized on the KL range's grid, and <see cref="KlDivergence.Error"/>.</summary>
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
        return KlDivergence.Error(quantized, edges, counts, min, max, wholeCounts: true);
    }
}
