namespace QuantShell.Core.Plotting;

/// <summary>
/// Draws a <see cref="QuantizationFigure"/>. The core decides what a plot shows (the histograms, levels, ranges, which
/// channels, the titles and the image size) and writes the file; a plotter only draws, so the core itself stays free of
/// any drawing code and native library. The faces pass QuantShell.Plotting's implementation (ScottPlot).
/// </summary>
public interface IQuantizationPlotter
{
    /// <summary>
    /// Draws <paramref name="figure"/> as <paramref name="format"/>, <see cref="QuantizationFigure.Width"/> by
    /// <see cref="QuantizationFigure.Height"/> pixels, into <paramref name="output"/> (which the caller owns).
    /// </summary>
    void Draw(QuantizationFigure figure, PlotFormat format, Stream output);
}
