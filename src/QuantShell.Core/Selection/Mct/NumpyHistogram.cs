using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// <c>np.histogram(x, bins=n)</c> of float32 or float64 values, bin for bin as NumPy 1.24 makes it. The edges are
/// <c>np.linspace(min, max, n + 1)</c> in float64, stored in the data's precision; a constant input gets [v - 0.5, v + 0.5].
/// Each value's bin is <c>(x - first) * norm</c> truncated, with norm = n / (last - first) (float64, applied in the data's
/// precision), then moved down one where x lies below its bin's left edge and up one where it reaches the next edge, the
/// last bin closed. Non-finite values are left out (NumPy refuses them).
/// </summary>
internal sealed class NumpyHistogram<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private NumpyHistogram(T[] edges, long[] counts)
    {
        Edges = edges;
        Counts = counts;
    }

    /// <summary>The bins' edges, one more than the bins, in the data's precision.</summary>
    public T[] Edges { get; }

    public long[] Counts { get; }

    public static NumpyHistogram<T> Build(ReadOnlySpan<T> values, int bins)
    {
        T min = T.PositiveInfinity, max = T.NegativeInfinity;
        bool any = false;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            any = true;
            if (x < min) min = x;
            if (x > max) max = x;
        }
        if (!any) (min, max) = (T.Zero, T.One);
        double first, last, norm;
        if (min == max)
        {
            // NumPy subtracts and adds 0.5 to the scalar in float64.
            first = double.CreateTruncating(min) - 0.5;
            last = double.CreateTruncating(max) + 0.5;
            norm = bins / (last - first);
        }
        else
        {
            first = double.CreateTruncating(min);
            last = double.CreateTruncating(max);
            // The outer edges are scalars of the data's type: their difference is taken in that precision.
            norm = bins / double.CreateTruncating(max - min);
        }
        var edges64 = NumpyLinspace.Create(first, last, bins + 1);
        var edges = new T[bins + 1];
        for (int i = 0; i <= bins; i++) edges[i] = T.CreateTruncating(edges64[i]);
        T firstEdge = T.CreateTruncating(first), scale = T.CreateTruncating(norm);
        var counts = new long[bins];
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            long index = long.CreateTruncating((x - firstEdge) * scale);
            if (index == bins) index--;
            if (x < edges[index]) index--;
            if (index != bins - 1 && x >= edges[index + 1]) index++;
            counts[index]++;
        }
        return new NumpyHistogram<T>(edges, counts);
    }
}
