using System.Globalization;

namespace QuantShell.Core.Plotting;

/// <summary>How numbers read on a plot: short, culture-invariant, with words for the special values.</summary>
public static class PlotText
{
    /// <summary>Four significant digits; scientific notation below 0.001 and from 100,000.</summary>
    public static string Number(double value) =>
        double.IsNaN(value) ? "n/a"
        : double.IsInfinity(value) ? (value > 0 ? "inf" : "-inf")
        : value == 0 ? "0"
        : Math.Abs(value) is >= 1e-3 and < 1e5 ? value.ToString("G4", CultureInfo.InvariantCulture)
        : value.ToString("0.###e+0", CultureInfo.InvariantCulture);

    /// <summary>SQNR in dB, "lossless" for +∞ and "n/a" for NaN (an all-zero input).</summary>
    public static string Decibels(double value) =>
        double.IsPositiveInfinity(value) ? "lossless" : double.IsNaN(value) ? "n/a" : value.ToString("0.0", CultureInfo.InvariantCulture) + " dB";

    /// <summary>A fraction as a percentage, with more digits when it is small (0.0012%).</summary>
    public static string Percent(double fraction) =>
        fraction == 0 ? "0%" : (100 * fraction).ToString(fraction < 1e-4 ? "0.####" : "0.##", CultureInfo.InvariantCulture) + "%";

    /// <summary>A count with thousands separators (1,234,567).</summary>
    public static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
