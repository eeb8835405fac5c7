using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>Percentiles of finite values, interpolated linearly between order statistics (NumPy's default).</summary>
internal static class Percentiles
{
    /// <summary>The <paramref name="percent"/>-th percentile of |x|.</summary>
    public static double OfMagnitude<T>(ReadOnlySpan<T> values, double percent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sorted = Finite(values, magnitude: true);
        return At(sorted, percent / 100);
    }

    /// <summary>The range that leaves (100 - <paramref name="percent"/>) / 2 percent of the values out on each side.</summary>
    public static (double Min, double Max) Central<T>(ReadOnlySpan<T> values, double percent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sorted = Finite(values, magnitude: false);
        double cut = (100 - percent) / 200;
        return (At(sorted, cut), At(sorted, 1 - cut));
    }

    private static double[] Finite<T>(ReadOnlySpan<T> values, bool magnitude) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var list = new List<double>(values.Length);
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double v = double.CreateTruncating(x);
            list.Add(magnitude ? Math.Abs(v) : v);
        }
        var sorted = list.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    private static double At(double[] sorted, double fraction)
    {
        if (sorted.Length == 0) return 0;
        double position = Math.Clamp(fraction, 0, 1) * (sorted.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
    }
}
