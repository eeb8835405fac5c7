namespace QuantShell.Core.Plotting;

/// <summary>
/// One histogram of a figure: the finite values of a tensor (or of one channel) in equal bins, the values its quantizer's
/// levels stand for, and its representable (clipping) range.
/// </summary>
public sealed record HistogramPanel
{
    /// <summary>What the panel shows, e.g. <c>channel 3 · worst 1 of 64</c>; empty for a per-tensor figure's only panel.</summary>
    public required string Title { get; init; }

    /// <summary>The panel's metrics in a line (MSE, SQNR, clipped); empty for a per-tensor figure (its subtitle says them).</summary>
    public required string Subtitle { get; init; }

    /// <summary>The channel shown, or null for the whole tensor.</summary>
    public int? Channel { get; init; }

    /// <summary>1 for the channel with the largest MSE, when the panels show the worst channels only; else null.</summary>
    public int? WorstRank { get; init; }

    /// <summary>The left edge of the first bin.</summary>
    public required double BinStart { get; init; }

    public required double BinWidth { get; init; }

    /// <summary>Values in each bin: bin <c>i</c> holds [BinStart + i·BinWidth, BinStart + (i+1)·BinWidth).</summary>
    public required long[] Counts { get; init; }

    /// <summary>The smallest and largest finite value shown (NaN when there is none).</summary>
    public required double ValueMin { get; init; }
    public required double ValueMax { get; init; }

    /// <summary>How many levels the quantizer has here (an integer grid's qmax - qmin + 1, a table's entries).</summary>
    public required int LevelCount { get; init; }

    /// <summary>
    /// The value each level stands for, in order, when there are at most <see cref="QuantizationFigure.MaxLevelsListed"/>;
    /// empty beyond that (an integer grid then fills the range evenly, <see cref="LevelStep"/> apart).
    /// </summary>
    public required double[] Levels { get; init; }

    /// <summary>The step between levels (a grid's scale; a table's unit, t / 2^(B - signed)).</summary>
    public required double LevelStep { get; init; }

    /// <summary>The representable range: the first and last level.</summary>
    public required double RangeMin { get; init; }
    public required double RangeMax { get; init; }

    /// <summary>
    /// Where clipping starts: values beyond these bounds are what the metrics count as clipped. An integer grid rounds
    /// values up to half a step beyond its end levels onto them, so its bounds are the range widened by half a step; a
    /// table clamps at its end entries, so its bounds are the range. The histogram's bins have these bounds as edges.
    /// </summary>
    public required double ClipMin { get; init; }
    public required double ClipMax { get; init; }

    public required long Count { get; init; }
    public required double Mse { get; init; }
    public required double SqnrDb { get; init; }
    public required double ClippedFraction { get; init; }

    /// <summary>The right edge of the last bin.</summary>
    public double BinEnd => BinStart + BinWidth * Counts.Length;
}
