using System.Globalization;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Plotting;

/// <summary>
/// Draws the histogram of a tensor's values with the quantizer's levels (grid points or a LUT's table entries, one line
/// per level where they are far enough apart to see) and clipping range over it, as a PNG. For per-channel quantizers every channel's range is drawn.
/// </summary>
public static class HistogramPlot
{
    private const int Width = 1000, Height = 480, Left = 70, Right = 20, Top = 56, Bottom = 60, Bins = 240;
    private const uint BarColour = 0x4C72B0, GridColour = 0xB0C4DE, ClipColour = 0xD62728, AxisColour = 0x222222, TextColour = 0x222222;

    public static void Write(string path, NpyArray array, InferableQuantizer quantizer, MeasurementResult report, WriteOptions options, string? name = null)
    {
        var canvas = Draw(array, quantizer, report);
        AtomicFile.Write(path, options, canvas.Save, name);
    }

    internal static PngCanvas Draw(NpyArray array, InferableQuantizer quantizer, MeasurementResult report)
    {
        var values = Finite(array);
        var plan = quantizer.CreatePlan(array.Shape);
        int channels = plan.ChannelAxis is null ? 1 : plan.Channels;
        var ranges = Enumerable.Range(0, channels).Select(plan.RangeOf).ToArray();
        double lo = Math.Min(values.Length == 0 ? 0 : values.Min(), ranges.Min(r => r.Item1));
        double hi = Math.Max(values.Length == 0 ? 0 : values.Max(), ranges.Max(r => r.Item2));
        double pad = (hi - lo) * 0.04 + 1e-12;
        lo -= pad;
        hi += pad;

        var canvas = new PngCanvas(Width, Height);
        int plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom, baseline = Height - Bottom;
        int X(double v) => Left + (int)Math.Round((v - lo) / (hi - lo) * (plotWidth - 1));

        // Levels (grid points, or a LUT's table entries) under everything else, when they are at least 3 pixels apart.
        if (channels == 1 && plan.LevelCount <= 4096)
        {
            var levels = plan.LevelValues(0);
            double closest = levels.Zip(levels.Skip(1), (a, b) => b - a).DefaultIfEmpty(hi - lo).Min();
            if (closest / (hi - lo) * plotWidth >= 3)
                foreach (double level in levels)
                    canvas.VerticalLine(X(level), Top, baseline, GridColour);
        }

        var counts = new long[Bins];
        foreach (double v in values)
            counts[Math.Clamp((int)((v - lo) / (hi - lo) * Bins), 0, Bins - 1)]++;
        long peak = Math.Max(1, counts.Max());
        for (int b = 0; b < Bins; b++)
        {
            if (counts[b] == 0) continue;
            int x0 = Left + b * plotWidth / Bins, x1 = Left + (b + 1) * plotWidth / Bins;
            int height = Math.Max(1, (int)Math.Round((double)counts[b] / peak * (plotHeight - 10)));
            canvas.FillRect(x0, baseline - height, Math.Max(1, x1 - x0 - 1), height, BarColour);
        }

        foreach (var (min, max) in ranges)
        {
            canvas.VerticalLine(X(min), Top, baseline, ClipColour, 2);
            canvas.VerticalLine(X(max), Top, baseline, ClipColour, 2);
        }
        canvas.HorizontalLine(Left, Left + plotWidth, baseline, AxisColour);
        canvas.VerticalLine(Left, Top, baseline, AxisColour);

        foreach (double tick in new[] { lo + pad, 0.0, hi - pad }.Distinct())
        {
            if (tick < lo || tick > hi) continue;
            string label = Number(tick);
            int x = X(tick);
            canvas.VerticalLine(x, baseline, baseline + 5, AxisColour);
            canvas.Text(Math.Clamp(x - PngCanvas.TextWidth(label) / 2, 0, Width - PngCanvas.TextWidth(label)), baseline + 10, label, TextColour);
        }
        canvas.Text(2, Top - 2, Number(peak), TextColour, 1);

        var spec = quantizer.Spec;
        string title = $"{spec.Target} {spec.Method} {spec.NumBits} BIT{(spec.PerChannel ? " PER CHANNEL" : "")}  MSE {Number(report.Mse)}  SQNR {Number(report.SqnrDb)} DB  CLIPPED {Number(100 * report.ClippedFraction)}%";
        canvas.Text(Left, 10, title, TextColour);
        canvas.FillRect(Left, 34, 14, 8, BarColour);
        canvas.Text(Left + 20, 32, "VALUES", TextColour, 1);
        canvas.FillRect(Left + 80, 34, 14, 8, ClipColour);
        canvas.Text(Left + 100, 32, "CLIPPING RANGE", TextColour, 1);
        canvas.FillRect(Left + 200, 34, 14, 8, GridColour);
        canvas.Text(Left + 220, 32, spec.IsLut ? "TABLE LEVELS" : "GRID LEVELS", TextColour, 1);
        return canvas;
    }

    private static double[] Finite(NpyArray array) => array.Data switch
    {
        double[] d => d.Where(double.IsFinite).ToArray(),
        float[] f => f.Where(float.IsFinite).Select(v => (double)v).ToArray(),
        Half[] h => h.Where(Half.IsFinite).Select(v => (double)v).ToArray(),
        _ => Array.Empty<double>(),
    };

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "INF" : double.IsNaN(value) ? "NAN" : value.ToString("G4", CultureInfo.InvariantCulture);
}
