using System.Numerics;

namespace QuantShell.Core.Selection;

/// <summary>Binary searches of ascending arrays (edges, sorted values, bin indexes).</summary>
internal static class SortedSearch
{
    /// <summary>How many of <paramref name="sorted"/> are &lt; <paramref name="x"/>: the index of the first that is not (0 for a NaN x).</summary>
    public static int CountBelow<T>(ReadOnlySpan<T> sorted, T x) where T : IComparisonOperators<T, T, bool>
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>How many of <paramref name="sorted"/> are ≤ <paramref name="x"/>: the index of the first above it (0 for a NaN x).</summary>
    public static int CountAtMost<T>(ReadOnlySpan<T> sorted, T x) where T : IComparisonOperators<T, T, bool>
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
