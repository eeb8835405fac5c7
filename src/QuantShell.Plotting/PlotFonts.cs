using QuantShell.Core.Errors;
using SkiaSharp;

namespace QuantShell.Plotting;

/// <summary>
/// The font family plots are drawn in. SkiaSharp's NoDependencies natives have no fontconfig: they list the fonts under
/// /usr/share/fonts themselves, so a machine without any (a bare container) has nothing to draw text with. That is an
/// error before anything is drawn, not a plot without words.
/// </summary>
internal static class PlotFonts
{
    // Sans-serif families with the glyphs a plot uses (·, …, −, µ), most common on Linux first.
    private static readonly string[] Preferred = ["DejaVu Sans", "Liberation Sans", "Noto Sans", "Open Sans", "Arial", "Helvetica", "Segoe UI"];

    private static readonly Lazy<string> Resolved = new(Resolve);

    /// <summary>The family to draw with; a <c>PlotFontMissing</c> error when the system has no font at all.</summary>
    public static string Family => Resolved.Value;

    private static string Resolve()
    {
        var installed = new HashSet<string>(SKFontManager.Default.FontFamilies, StringComparer.OrdinalIgnoreCase);
        foreach (string family in Preferred)
            if (installed.Contains(family)) return family;
        if (installed.Count > 0) return SKTypeface.Default.FamilyName is { Length: > 0 } name && installed.Contains(name) ? name : installed.Order(StringComparer.Ordinal).First();
        throw new QuantShellException(
            "No font is installed to write a plot's text with (SkiaSharp looks in /usr/share/fonts); install one, e.g. 'apt-get install fonts-dejavu-core'.",
            ErrorIds.PlotFontMissing, QuantShellErrorKind.WriteFailed, "PlotPath");
    }
}
