using QuantShell.Core.Errors;
using QuantShell.Core.IO;

namespace QuantShell.Core.Plotting;

/// <summary>Plot files: the format an extension asks for, and the atomic write of a drawn figure.</summary>
public static class PlotFile
{
    /// <summary>
    /// The format of <paramref name="path"/> by its extension (<c>.png</c>, <c>.svg</c>, in any case); any other is an
    /// <c>PlotFormatNotSupported</c> error naming the parameter <paramref name="parameter"/>.
    /// </summary>
    public static PlotFormat FormatOf(string path, Parameter? parameter = null)
    {
        parameter ??= Parameter.PlotPath;
        ArgumentNullException.ThrowIfNull(path);
        string extension = Path.GetExtension(path);
        if (extension.Equals(".png", StringComparison.OrdinalIgnoreCase)) return PlotFormat.Png;
        if (extension.Equals(".svg", StringComparison.OrdinalIgnoreCase)) return PlotFormat.Svg;
        string given = extension.Length == 0 ? "no extension" : $"the extension '{extension}'";
        throw new QuantShellException($"{path}: {parameter} has {given}; a plot is written as .png or .svg.",
            ErrorIds.PlotFormatNotSupported, QuantShellErrorKind.InvalidArgument, parameter.Name);
    }

    /// <summary>
    /// Draws <paramref name="figure"/> with <paramref name="plotter"/> as <paramref name="format"/> (see
    /// <see cref="FormatOf"/>) into <paramref name="path"/> through <see cref="AtomicFile"/>: complete or nothing,
    /// replaced only with <see cref="WriteOptions.Force"/>; errors name <paramref name="name"/> (default: the path).
    /// </summary>
    public static void Write(string path, QuantizationFigure figure, IQuantizationPlotter plotter, PlotFormat format, WriteOptions options, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(figure);
        ArgumentNullException.ThrowIfNull(plotter);
        AtomicFile.Write(path, options, stream =>
        {
            // The atomic file has no buffer of its own and encoders write in small pieces. Not disposed: that would
            // close the file, which AtomicFile still flushes and renames.
            var buffered = new BufferedStream(stream, 1 << 16);
            plotter.Draw(figure, format, buffered);
            buffered.Flush();
        }, name);
    }
}
