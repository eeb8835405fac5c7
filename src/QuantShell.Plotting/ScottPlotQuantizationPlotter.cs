using QuantShell.Core.Plotting;
using ScottPlot;
using SkiaSharp;

namespace QuantShell.Plotting;

/// <summary>
/// Draws a <see cref="QuantizationFigure"/> with ScottPlot 5: a histogram per panel with the quantizer's levels and
/// clipping range, and for per-channel quantizers a per-channel MSE chart above a grid of small histograms. Every plot
/// is rendered onto one Skia canvas, which is a PNG surface or an SVG document (whose text stays text).
/// </summary>
public sealed class ScottPlotQuantizationPlotter : IQuantizationPlotter
{
    private static readonly Color BarColour = Color.FromHex("#4C72B0");
    private static readonly Color ClipColour = Color.FromHex("#C44E52");
    private static readonly Color ClipShade = Color.FromHex("#C44E52").WithAlpha(0.10);
    private static readonly Color LevelColour = Color.FromHex("#55A868");
    private static readonly Color LevelShade = Color.FromHex("#55A868").WithAlpha(0.12);
    private static readonly Color HighlightColour = Color.FromHex("#DD8452");
    private static readonly Color TextColour = Color.FromHex("#222222");

    /// <summary>Levels closer than this many pixels are drawn as a band instead of one line each.</summary>
    private const float MinLevelGap = 5;

    public void Draw(QuantizationFigure figure, PlotFormat format, Stream output)
    {
        ArgumentNullException.ThrowIfNull(figure);
        ArgumentNullException.ThrowIfNull(output);
        _ = PlotFonts.Family; // no font: fail before drawing anything
        var parts = Layout(figure);
        try
        {
            if (format == PlotFormat.Svg)
            {
                // ScottPlot renders a plot a second time when its first render changes the axes (auto-scaling, tick
                // density). On a PNG the second render paints over the first; an SVG would keep both, every text twice.
                // A first render onto a canvas that draws nothing settles the axes, so the document records one.
                using (var settle = new SKNoDrawCanvas(figure.Width, figure.Height))
                    Render(settle, parts);
                using var stream = new SKManagedWStream(output);
                using (var canvas = SKSvgCanvas.Create(SKRect.Create(figure.Width, figure.Height), stream))
                    Render(canvas, parts);
                stream.Flush();
            }
            else
            {
                using var surface = SKSurface.Create(new SKImageInfo(figure.Width, figure.Height, SKColorType.Rgba8888, SKAlphaType.Premul))
                    ?? throw new InvalidOperationException($"Skia could not create a {figure.Width}x{figure.Height} surface.");
                Render(surface.Canvas, parts);
                using var image = surface.Snapshot();
                using var data = image.Encode(SKEncodedImageFormat.Png, 100);
                data.SaveTo(output);
            }
        }
        finally
        {
            foreach (var (plot, _) in parts) plot.Dispose();
        }
    }

    private static void Render(SKCanvas canvas, IReadOnlyList<(Plot Plot, PixelRect Rect)> parts)
    {
        canvas.Clear(SKColors.White);
        foreach (var (plot, rect) in parts)
        {
            // A plot clears its background over the whole canvas; the clip keeps it to its own rectangle.
            canvas.Save();
            canvas.ClipRect(rect.ToSKRect());
            plot.Render(canvas, rect);
            canvas.Restore();
        }
        canvas.Flush();
    }

    /// <summary>The plots of the figure and where each goes.</summary>
    private static List<(Plot, PixelRect)> Layout(QuantizationFigure figure)
    {
        var parts = new List<(Plot, PixelRect)>();
        if (figure.ChannelErrorsTitle is null)
        {
            var plot = Histogram(figure.Panels[0], figure, figure.Width, small: false);
            plot.Title($"{figure.Title}\n{figure.Subtitle}", 15);
            parts.Add((plot, new PixelRect(0, figure.Width, figure.Height, 0)));
            return parts;
        }

        const int ChartHeight = 330;
        var chart = ChannelErrors(figure);
        parts.Add((chart, new PixelRect(0, figure.Width, ChartHeight, 0)));
        int columns = figure.Columns, rows = (figure.Panels.Count + columns - 1) / columns;
        float width = (float)figure.Width / columns, height = (float)(figure.Height - ChartHeight) / rows;
        for (int i = 0; i < figure.Panels.Count; i++)
        {
            float left = i % columns * width, top = ChartHeight + i / columns * height;
            var plot = Histogram(figure.Panels[i], figure, width, small: true);
            parts.Add((plot, new PixelRect(left, left + width, top + height, top)));
        }
        return parts;
    }

    /// <summary>Every channel's MSE as a bar; the channels drawn below stand out when they are not all of them.</summary>
    private static Plot ChannelErrors(QuantizationFigure figure)
    {
        var plot = new Plot();
        Style(plot, small: false);
        var shown = figure.ShowsWorstChannels ? figure.Panels.Select(p => p.Channel!.Value).ToHashSet() : [];
        var bars = figure.ChannelErrors.Select(c => new Bar
        {
            Position = c.Channel!.Value,
            Value = double.IsFinite(c.Mse) ? c.Mse : 0,
            Size = 0.8,
            FillColor = shown.Contains(c.Channel!.Value) ? HighlightColour : BarColour,
            LineWidth = 0,
        }).ToArray();
        plot.Add.Bars(bars);
        double peak = bars.Length == 0 ? 0 : bars.Max(b => b.Value);
        plot.Axes.SetLimits(-0.6, figure.ChannelErrors.Count - 0.4, 0, peak > 0 ? peak * 1.1 : 1);
        // Channels are whole numbers: no tick at 2.5.
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = PlotText.Number };
        plot.Title($"{figure.Title}\n{figure.Subtitle}\n{figure.ChannelErrorsTitle}", 15);
        plot.XLabel("channel", 13);
        plot.YLabel("MSE", 13);
        return plot;
    }

    /// <summary>A histogram of one panel's values, its clipped regions shaded, its levels and clipping range drawn.</summary>
    private static Plot Histogram(HistogramPanel panel, QuantizationFigure figure, float pixelWidth, bool small)
    {
        var plot = new Plot();
        Style(plot, small);
        double lo = panel.BinStart, hi = panel.BinEnd;

        // Outside the range everything is clipped to its ends: shaded, with the range's ends as dashed lines.
        if (panel.ClipMin > lo) plot.Add.HorizontalSpan(lo, panel.ClipMin, ClipShade).LineWidth = 0;
        if (panel.ClipMax < hi) plot.Add.HorizontalSpan(panel.ClipMax, hi, ClipShade).LineWidth = 0;

        Levels(plot, panel, figure.LevelsName, pixelWidth * (small ? 0.8 : 0.85) / (hi - lo), small);

        var bars = new Bar[panel.Counts.Length];
        for (int i = 0; i < bars.Length; i++)
            bars[i] = new Bar { Position = lo + (i + 0.5) * panel.BinWidth, Value = panel.Counts[i], Size = panel.BinWidth, FillColor = BarColour, LineWidth = 0 };
        var histogram = plot.Add.Bars(bars);

        string bounds = $"[{PlotText.Number(panel.ClipMin)}, {PlotText.Number(panel.ClipMax)}]";
        var min = plot.Add.VerticalLine(panel.ClipMin, small ? 1.2f : 1.6f, ClipColour, LinePattern.Dashed);
        var max = plot.Add.VerticalLine(panel.ClipMax, small ? 1.2f : 1.6f, ClipColour, LinePattern.Dashed);
        long peak = Math.Max(1, panel.Counts.Max());
        plot.Axes.SetLimits(lo, hi, 0, peak * 1.1);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true }; // counts

        if (small)
        {
            plot.Title($"{panel.Title}\n{panel.Subtitle}", 11);
            return plot;
        }
        histogram.LegendText = $"values ({PlotText.Count(panel.Count)}, {PlotText.Percent(panel.ClippedFraction)} clipped)";
        min.LegendText = $"clipped outside {bounds}";
        max.ExcludeFromLegend = true;
        plot.XLabel("value", 13);
        plot.YLabel("count", 13);
        var legend = plot.ShowLegend(Alignment.UpperRight);
        legend.FontSize = 12;
        return plot;
    }

    /// <summary>
    /// The levels, one line each when they are at least <see cref="MinLevelGap"/> pixels apart, else a band over the
    /// range (an 8-bit grid is 256 lines: a solid block), named in the legend of a full-size plot.
    /// </summary>
    private static void Levels(Plot plot, HistogramPanel panel, string name, double pixelsPerUnit, bool small)
    {
        var values = panel.Levels;
        double closest = double.PositiveInfinity;
        for (int i = 1; i < values.Length; i++) closest = Math.Min(closest, values[i] - values[i - 1]);
        bool each = values.Length > 0 && (values.Length == 1 || closest * pixelsPerUnit >= MinLevelGap);
        string text;
        if (each)
        {
            text = $"{panel.LevelCount} {name}";
            bool first = true;
            foreach (double level in values)
            {
                var line = plot.Add.VerticalLine(level, small ? 0.8f : 1f, LevelColour.WithAlpha(0.75));
                if (first && !small) line.LegendText = text;
                else line.ExcludeFromLegend = true;
                first = false;
            }
        }
        else
        {
            text = $"{panel.LevelCount} {name}, {PlotText.Number(panel.LevelStep)} apart (too dense to draw one by one)";
            var band = plot.Add.HorizontalSpan(panel.RangeMin, panel.RangeMax, LevelShade);
            band.LineWidth = 0;
            if (!small) band.LegendText = text;
        }
    }

    private static void Style(Plot plot, bool small)
    {
        plot.Font.Set(PlotFonts.Family);
        plot.Legend.FontName = PlotFonts.Family;
        plot.Axes.Color(TextColour);
        plot.Axes.Bottom.TickLabelStyle.FontSize = small ? 10 : 12;
        plot.Axes.Left.TickLabelStyle.FontSize = small ? 10 : 12;
        plot.Grid.MajorLineColor = Color.FromHex("#000000").WithAlpha(0.07);
    }

}
