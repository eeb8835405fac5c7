namespace QuantShell.Core.Plotting;

/// <summary>The image formats a plot is written in, chosen by the output file's extension.</summary>
public enum PlotFormat
{
    /// <summary><c>.png</c>: a raster image.</summary>
    Png,

    /// <summary><c>.svg</c>: a vector image whose text stays text.</summary>
    Svg,
}
