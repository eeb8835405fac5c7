using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// The histogram MCT scores activations on, made as its statistics collector makes it: every batch (each input array)
/// is cast to float64 and binned by <c>np.histogram(x, bins=2048)</c>; the batches' histograms are then merged, always,
/// even when there is one: their cumulative counts are interpolated (<c>np.interp</c>) at 2049 new edges spread evenly
/// (<c>np.linspace</c>) from the lowest to the highest edge of all batches, and the differences summed batch by batch. The
/// counts are therefore float64 and need not be whole. MCT's z-score filter (<see cref="ZScoreFilter"/>) may then zero
/// some bins.
/// </summary>
internal sealed class ActivationHistogram
{
    /// <summary>MCT's HistogramCollector default.</summary>
    public const int DefaultBins = 2048;

    public ActivationHistogram(double[] edges, double[] counts)
    {
        Edges = edges;
        Counts = counts;
    }

    /// <summary>The 2049 edges (float64).</summary>
    public double[] Edges { get; }

    /// <summary>The 2048 counts (float64, possibly fractional).</summary>
    public double[] Counts { get; }

    public static ActivationHistogram Collect<T>(IReadOnlyList<T[]> batches, int bins = DefaultBins)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var histograms = new List<NumpyHistogram<double>>(batches.Count);
        double low = double.PositiveInfinity, high = double.NegativeInfinity;
        foreach (var batch in batches)
        {
            var values = new double[batch.Length];
            for (int i = 0; i < batch.Length; i++) values[i] = double.CreateTruncating(batch[i]);
            var histogram = NumpyHistogram<double>.Build(values, bins);
            histograms.Add(histogram);
            foreach (double edge in histogram.Edges)
            {
                if (edge < low) low = edge;
                if (edge > high) high = edge;
            }
        }
        var edges = NumpyLinspace.Create(low, high, bins + 1);
        double[]? counts = null;
        var cumulative = new double[bins + 1];
        var interpolated = new double[bins + 1];
        foreach (var histogram in histograms)
        {
            long running = 0;
            cumulative[0] = 0;
            for (int i = 0; i < bins; i++) cumulative[i + 1] = running += histogram.Counts[i];
            NumpyInterp.Evaluate(edges, histogram.Edges, cumulative, interpolated);
            if (counts is null)
            {
                counts = new double[bins];
                for (int i = 0; i < bins; i++) counts[i] = interpolated[i + 1] - interpolated[i];
            }
            else
            {
                for (int i = 0; i < bins; i++) counts[i] += interpolated[i + 1] - interpolated[i];
            }
        }
        return new ActivationHistogram(edges, counts ?? new double[bins]);
    }
}
