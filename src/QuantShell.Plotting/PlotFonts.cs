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
        HashSet<string> installed;
        try
        {
            installed = new HashSet<string>(SKFontManager.Default.FontFamilies, StringComparer.OrdinalIgnoreCase);
        }
        catch (Exception ex) when (ex is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            // The first Skia call loads its native library: a platform QuantShell does not ship it for, or a broken install.
            var inner = ex is TypeInitializationException { InnerException: { } cause } ? cause : ex;
            throw new QuantShellException(
                $"Plots are drawn with SkiaSharp, whose native library (libSkiaSharp) could not be loaded on {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier} " +
                $"({inner.Message.TrimEnd('.')}). QuantShell ships it for linux-x64; measuring works without plots.",
                ErrorIds.PlotRendererUnavailable, QuantShellErrorKind.WriteFailed, "PlotPath", ex);
        }
        foreach (string family in Preferred)
            if (installed.Contains(family)) return family;
        if (installed.Count > 0) return SKTypeface.Default.FamilyName is { Length: > 0 } name && installed.Contains(name) ? name : installed.Order(StringComparer.Ordinal).First();
        throw new QuantShellException(
            "No font is installed to write a plot's text with (SkiaSharp looks in /usr/share/fonts); install one, e.g. 'apt-get install fonts-dejavu-core'.",
            ErrorIds.PlotFontMissing, QuantShellErrorKind.WriteFailed, "PlotPath");
    }
}
