using System.Globalization;
using System.Numerics;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Plotting;

/// <summary>
/// What the plot of one measured tensor shows, decided here so that every plotter draws the same thing:
/// <list type="bullet">
/// <item>a per-tensor quantizer: one histogram of the values with the quantizer's levels and clipping range;</item>
/// <item>a per-channel quantizer: a chart of every channel's MSE, and one small histogram per channel with that channel's
/// levels and range — every channel up to <see cref="MaxChannelPanels"/>, beyond that the channels with the largest MSE,
/// worst first (their titles say so) — instead of every channel's range over one histogram.</item>
/// </list>
/// Only bin counts are kept, never a copy of the values: a figure of a large tensor is small.
/// </summary>
public sealed record QuantizationFigure
{
    /// <summary>Channels drawn one panel each; a tensor with more channels shows its worst ones by MSE.</summary>
    public const int MaxChannelPanels = 16;

    /// <summary>Levels listed in <see cref="HistogramPanel.Levels"/>; a finer grid (up to 16 bits) is given by its step.</summary>
    public const int MaxLevelsListed = 4096;

    /// <summary>The most bins of a per-tensor histogram and of each channel's small one.</summary>
    public const int TensorBins = 160, ChannelBins = 64;

    private const int NameLength = 72;

    /// <summary>What was measured and with what: the file (and tensor) and the quantizer.</summary>
    public required string Title { get; init; }

    /// <summary>The tensor's overall metrics: MSE, SQNR, clipped share, levels used.</summary>
    public required string Subtitle { get; init; }

    /// <summary>The image size in pixels (the plotter draws exactly this).</summary>
    public required int Width { get; init; }
    public required int Height { get; init; }

    /// <summary>"grid levels" or "table levels" (a LUT's entries).</summary>
    public required string LevelsName { get; init; }

    /// <summary>One panel for a per-tensor quantizer; the channels shown, in order, for a per-channel one.</summary>
    public required IReadOnlyList<HistogramPanel> Panels { get; init; }

    /// <summary>Panels per row.</summary>
    public required int Columns { get; init; }

    /// <summary>The channel axis of a per-channel quantizer, else null.</summary>
    public int? ChannelAxis { get; init; }

    /// <summary>Every channel's metrics (for the per-channel error chart); empty for a per-tensor quantizer.</summary>
    public required IReadOnlyList<ChannelMetrics> ChannelErrors { get; init; }

    /// <summary>The heading of the per-channel error chart; null for a per-tensor quantizer.</summary>
    public string? ChannelErrorsTitle { get; init; }

    /// <summary>True when the panels are the worst channels only (more channels than <see cref="MaxChannelPanels"/>).</summary>
    public bool ShowsWorstChannels => Panels.Any(p => p.WorstRank is not null);

    /// <summary>The figure of <paramref name="array"/> measured with <paramref name="quantizer"/> as <paramref name="result"/>.</summary>
    public static QuantizationFigure Create(NpyArray array, InferableQuantizer quantizer, MeasurementResult result)
    {
        ArgumentNullException.ThrowIfNull(array);
        ArgumentNullException.ThrowIfNull(quantizer);
        ArgumentNullException.ThrowIfNull(result);
        var plan = quantizer.CreatePlan(array.Shape);
        var spec = quantizer.Spec;

        // Which channels get a panel, in the order drawn.
        int[] shown;
        int?[] ranks;
        if (plan.ChannelAxis is null)
        {
            shown = [0];
            ranks = [null];
        }
        else if (plan.Channels <= MaxChannelPanels)
        {
            shown = Enumerable.Range(0, plan.Channels).ToArray();
            ranks = new int?[shown.Length];
        }
        else
        {
            shown = result.Channels
                .OrderByDescending(c => double.IsNaN(c.Mse) ? double.NegativeInfinity : c.Mse)
                .ThenBy(c => c.Channel)
                .Take(MaxChannelPanels)
                .Select(c => c.Channel!.Value)
                .ToArray();
            ranks = Enumerable.Range(1, shown.Length).Select(r => (int?)r).ToArray();
        }

        var histograms = array.Data switch
        {
            double[] d => Histograms<double>(d, plan, spec, shown),
            float[] f => Histograms<float>(f, plan, spec, shown),
            Half[] h => Histograms<Half>(h, plan, spec, shown),
            _ => throw new ArgumentException(array.Data.GetType().Name, nameof(array)),
        };

        var panels = new HistogramPanel[shown.Length];
        for (int i = 0; i < shown.Length; i++)
        {
            int channel = shown[i];
            var (rangeMin, rangeMax) = plan.RangeOf(channel);
            var (clipMin, clipMax) = ClippingBounds(plan, spec, shown[i]);
            var histogram = histograms[i];
            bool perTensor = plan.ChannelAxis is null;
            var metrics = perTensor ? null : result.Channels[channel];
            panels[i] = new HistogramPanel
            {
                Title = perTensor ? "" : ChannelTitle(channel, ranks[i], plan.Channels),
                Subtitle = perTensor ? ""
                    : $"MSE {PlotText.Number(metrics!.Mse)} · SQNR {PlotText.Decibels(metrics.SqnrDb)} · clipped {PlotText.Percent(metrics.ClippedFraction)}",
                Channel = perTensor ? null : channel,
                WorstRank = ranks[i],
                BinStart = histogram.Start,
                BinWidth = histogram.Width,
                Counts = histogram.Counts,
                ValueMin = histogram.ValueMin,
                ValueMax = histogram.ValueMax,
                LevelCount = plan.LevelCount,
                Levels = plan.LevelCount <= MaxLevelsListed ? plan.LevelValues(channel) : [],
                LevelStep = plan.ScaleOf(channel),
                RangeMin = rangeMin,
                RangeMax = rangeMax,
                ClipMin = clipMin,
                ClipMax = clipMax,
                Count = metrics?.Count ?? result.Count,
                Mse = metrics?.Mse ?? result.Mse,
                SqnrDb = metrics?.SqnrDb ?? result.SqnrDb,
                ClippedFraction = metrics?.ClippedFraction ?? result.ClippedFraction,
            };
        }

        int columns = Math.Min(4, panels.Length);
        int rows = (panels.Length + columns - 1) / columns;
        bool channelled = plan.ChannelAxis is not null;
        return new QuantizationFigure
        {
            Title = $"{Name(result)}: {Describe(spec, plan)}",
            Subtitle = string.Create(CultureInfo.InvariantCulture,
                $"MSE {PlotText.Number(result.Mse)} · SQNR {PlotText.Decibels(result.SqnrDb)} · clipped {PlotText.Percent(result.ClippedFraction)} · " +
                $"{result.DistinctLevels} of {result.LevelsAvailable} levels used · {PlotText.Count(result.Count)} values"),
            Width = channelled ? 1200 : 1000,
            Height = channelled ? 330 + 250 * rows : 560,
            LevelsName = spec.IsLut ? "table levels" : "grid levels",
            Panels = panels,
            Columns = columns,
            ChannelAxis = plan.ChannelAxis,
            ChannelErrors = channelled ? result.Channels : [],
            ChannelErrorsTitle = !channelled ? null
                : panels.Length < plan.Channels
                    ? $"MSE of each of the {plan.Channels} channels (axis {plan.ChannelAxis}); the {panels.Length} largest, highlighted, are drawn below"
                    : $"MSE of each channel (axis {plan.ChannelAxis})",
        };
    }

    /// <summary>
    /// Where a channel's clipping starts (see <see cref="HistogramPanel.ClipMin"/>): an integer grid's rounding takes
    /// values half a step beyond its end levels onto them (the kernel clamps only the rounded code); a table clamps the
    /// scaled value at its end entries.
    /// </summary>
    private static (double Min, double Max) ClippingBounds(QuantizationPlan plan, QuantizerSpec spec, int channel)
    {
        var (min, max) = plan.RangeOf(channel);
        if (spec.IsLut) return (min, max);
        double half = plan.ScaleOf(channel) / 2;
        return (min - half, max + half);
    }

    private static string ChannelTitle(int channel, int? rank, int channels) =>
        rank is int r ? $"channel {channel} · worst {r} of {channels}" : $"channel {channel}";

    /// <summary>The file's name (not its folder) and the tensor's, shortened in the middle when long.</summary>
    private static string Name(MeasurementResult result)
    {
        string name = Path.GetFileName(result.InputPath);
        if (result.TensorName is not null) name += $" [{result.TensorName}]";
        return name.Length <= NameLength ? name : string.Concat(name.AsSpan(0, NameLength / 2 - 1), "…", name.AsSpan(name.Length - NameLength / 2));
    }

    private static string Describe(QuantizerSpec spec, QuantizationPlan plan)
    {
        string what = string.Create(CultureInfo.InvariantCulture, $"{EnumNames.Kebab(spec.Target)} {EnumNames.Kebab(spec.Method)} {spec.NumBits}-bit");
        if (plan.ChannelAxis is int axis) return what + $", per channel (axis {axis})";
        string values = spec.Method == QuantizationMethod.Uniform
            ? $"range [{PlotText.Number(spec.MinRange![0])}, {PlotText.Number(spec.MaxRange![0])}]"
            : $"threshold {PlotText.Number(spec.Threshold![0])}";
        return what + $", {values}, per tensor";
    }

    /// <summary>
    /// Bins from <c>Start</c>, <c>Width</c> wide. When the clipping bounds are bin edges, bins <c>FirstInside</c> ..
    /// <c>LastInside</c> are the range's; else both are -1.
    /// </summary>
    private readonly record struct Histogram(double Start, double Width, long[] Counts, double ValueMin, double ValueMax,
        double RangeMin, double RangeMax, int FirstInside, int LastInside)
    {
        /// <summary>The bin of finite <paramref name="x"/>; rounding never moves a value across a clipping line.</summary>
        public int BinOf(double x)
        {
            int last = Counts.Length - 1;
            double at = (x - Start) / Width;
            int bin = at >= last ? last : at <= 0 ? 0 : (int)at;
            if (FirstInside < 0) return bin;
            if (x < RangeMin) return Math.Min(bin, FirstInside - 1);
            if (x > RangeMax) return Math.Max(bin, LastInside + 1);
            return Math.Clamp(bin, FirstInside, LastInside);
        }
    }

    /// <summary>
    /// About <paramref name="bins"/> bins over the values and the range together, with a little room on each side. Where
    /// the range is not dwarfed by the values, the clipping bounds are bin edges, so that no bar straddles a clipping line
    /// (half clipped, half not, it would look clipped when nothing is).
    /// </summary>
    private static Histogram Bins(double valueMin, double valueMax, double rangeMin, double rangeMax, int bins, bool any)
    {
        double lo = Math.Min(valueMin, rangeMin), hi = Math.Max(valueMax, rangeMax);
        double rangeSpan = rangeMax - rangeMin;
        if (rangeSpan > 0 && double.IsFinite(rangeSpan) && (hi - lo) <= 4 * rangeSpan)
        {
            int inside = Math.Max(4, (int)Math.Round(bins * rangeSpan / (hi - lo)));
            double width = rangeSpan / inside;
            int below = Math.Max(1, (int)Math.Ceiling((rangeMin - lo) / width));
            int above = Math.Max(1, (int)Math.Ceiling((hi - rangeMax) / width));
            return new Histogram(rangeMin - below * width, width, new long[below + inside + above],
                any ? valueMin : double.NaN, any ? valueMax : double.NaN, rangeMin, rangeMax, below, below + inside - 1);
        }
        if (rangeSpan > 0 && double.IsFinite(rangeSpan) && double.IsFinite(hi - lo))
        {
            // Values far outside the range: bins of about (hi - lo) / bins, adjusted so that a whole number of them spans
            // the range; the clipping bounds stay bin edges while the range is at least one bin wide.
            int inside = (int)Math.Round(rangeSpan / ((hi - lo) / bins));
            if (inside >= 1)
            {
                double width = rangeSpan / inside;
                int below = Math.Max(1, (int)Math.Ceiling((rangeMin - lo) / width));
                int above = Math.Max(1, (int)Math.Ceiling((hi - rangeMax) / width));
                return new Histogram(rangeMin - below * width, width, new long[below + inside + above],
                    any ? valueMin : double.NaN, any ? valueMax : double.NaN, rangeMin, rangeMax, below, below + inside - 1);
            }
        }
        double pad = (hi - lo) * 0.03;
        if (pad == 0) pad = Math.Max(Math.Abs(lo), 1) * 0.03;
        lo -= pad;
        hi += pad;
        return new Histogram(lo, (hi - lo) / bins, new long[bins], any ? valueMin : double.NaN, any ? valueMax : double.NaN, rangeMin, rangeMax, -1, -1);
    }

    /// <summary>
    /// One histogram per shown channel, over the channel's finite values and its representable range together (so the
    /// clipping lines are always in view), in two passes: the extremes, then the counts.
    /// </summary>
    private static Histogram[] Histograms<T>(T[] values, QuantizationPlan plan, QuantizerSpec spec, int[] shown)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var slot = new int[plan.Channels];
        Array.Fill(slot, -1);
        for (int i = 0; i < shown.Length; i++) slot[shown[i]] = i;
        var min = new double[shown.Length];
        var max = new double[shown.Length];
        Array.Fill(min, double.PositiveInfinity);
        Array.Fill(max, double.NegativeInfinity);
        // Elements come in runs of plan.Inner that share a channel (the whole tensor for a per-tensor quantizer).
        ForEachRun(values.Length, plan, slot, (s, start, length) =>
        {
            double lo = min[s], hi = max[s];
            foreach (var v in values.AsSpan(start, length))
            {
                if (!T.IsFinite(v)) continue;
                double x = double.CreateTruncating(v);
                if (x < lo) lo = x;
                if (x > hi) hi = x;
            }
            min[s] = lo;
            max[s] = hi;
        });

        // About two bins per square root of the values (a few values in a few bins, not scattered over many), within limits.
        long perPanel = plan.ElementCount / plan.Channels;
        int bins = (int)Math.Clamp(Math.Ceiling(2 * Math.Sqrt(perPanel)), 8, plan.ChannelAxis is null ? TensorBins : ChannelBins);
        var histograms = new Histogram[shown.Length];
        for (int i = 0; i < shown.Length; i++)
        {
            var (clipMin, clipMax) = ClippingBounds(plan, spec, shown[i]);
            bool any = min[i] <= max[i];
            histograms[i] = Bins(any ? min[i] : clipMin, any ? max[i] : clipMax, clipMin, clipMax, bins, any);
        }
        ForEachRun(values.Length, plan, slot, (s, start, length) =>
        {
            var histogram = histograms[s];
            var counts = histogram.Counts;
            foreach (var v in values.AsSpan(start, length))
                if (T.IsFinite(v)) counts[histogram.BinOf(double.CreateTruncating(v))]++;
        });
        return histograms;
    }

    /// <summary>Calls <paramref name="run"/> (panel, first index, length) for every run of elements of a shown channel.</summary>
    private static void ForEachRun(int length, QuantizationPlan plan, int[] slot, Action<int, int, int> run)
    {
        long inner = plan.Inner;
        for (long start = 0; start < length; start += inner)
        {
            int s = slot[plan.ChannelOf(start)];
            if (s >= 0) run(s, (int)start, (int)Math.Min(inner, length - start));
        }
    }
}
