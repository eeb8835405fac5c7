using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>
/// Percentiles of finite values, interpolated linearly between order statistics (NumPy's default), each rank found by
/// selection rather than a sort of all the values (<see cref="FiniteSort.Select"/>: linear time).
/// </summary>
internal static class Percentiles
{
    /// <summary>The <paramref name="percent"/>-th percentile of |x|.</summary>
    public static double OfMagnitude<T>(ReadOnlySpan<T> values, double percent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var finite = Finite(values, magnitude: true);
        return At(finite, percent / 100);
    }

    /// <summary>The range that leaves (100 - <paramref name="percent"/>) / 2 percent of the values out on each side.</summary>
    public static (double Min, double Max) Central<T>(ReadOnlySpan<T> values, double percent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var finite = Finite(values, magnitude: false);
        double cut = (100 - percent) / 200;
        return (At(finite, cut), At(finite, 1 - cut));
    }

    /// <summary>The finite values (their magnitudes), in their order.</summary>
    private static double[] Finite<T>(ReadOnlySpan<T> values, bool magnitude) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = 0;
        foreach (T x in values) count += T.IsFinite(x) ? 1 : 0;
        var finite = new double[count];
        int k = 0;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double v = double.CreateTruncating(x);
            finite[k++] = magnitude ? Math.Abs(v) : v;
        }
        return finite;
    }

    /// <summary>
    /// The value at <paramref name="fraction"/> of the way through the sorted values, interpolated between the two ranks
    /// around it, each found by selection (<see cref="FiniteSort.Select"/>: the values are reordered, not sorted). Where
    /// zeros of both signs are, a rank's zero may have either sign: the result is the same (between two zeros the
    /// interpolation gives +0 whatever their signs, and a zero's sign never shows beside a nonzero neighbour).
    /// </summary>
    private static double At(double[] values, double fraction)
    {
        if (values.Length == 0) return 0;
        double position = Math.Clamp(fraction, 0, 1) * (values.Length - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, values.Length - 1);
        double low = FiniteSort.Select(values, below);
        // After the selection no value past `below` is less than low: the least of them is the next rank.
        double high = low;
        if (above != below)
        {
            high = values[below + 1];
            for (int i = below + 2; i < values.Length; i++)
                if (values[i] < high) high = values[i];
        }
        return low + (high - low) * (position - below);
    }
}
