using System.Numerics;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// <c>np.histogram(x, bins=n)</c> of float32 or float64 values, bin for bin as NumPy 1.24 makes it. The edges are
/// <c>np.linspace(min, max, n + 1)</c> in float64, stored in the data's precision; a constant input gets [v - 0.5, v + 0.5].
/// Each value's bin is <c>(x - first) * norm</c> truncated, with norm = n / (last - first) (float64, applied in the data's
/// precision where it fits it, as NumPy's value-based casting does; else in float64), then moved down one where x lies
/// below its bin's left edge and up one where it reaches the next edge, the last bin closed. Non-finite values are left
/// out (NumPy refuses them).
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

    /// <summary>NumPy 1.x's bound for casting a float64 scalar to float32 by value (<c>np.min_scalar_type</c>): |v| below 3.4e38.</summary>
    private const double SingleScalarLimit = 3.4e38;

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
        // NumPy 1.x multiplies the values by the scalar norm in their own precision only where the scalar's value fits it
        // (value-based casting: below 3.4e38 for float32); a float32 range of subnormal values has a larger norm, and the
        // product (x - first) * norm is then taken in float64. A norm beyond float64 (a float64 range below about 1e-305)
        // sends NumPy's indexes out of the histogram: MCT fails there, and so does this, saying why.
        if (double.IsInfinity(norm) || double.IsNaN(norm))
            throw new QuantShellException($"the values span {double.CreateTruncating(max - min):R}, too small a range for MCT's histogram of {bins} bins (NumPy's bin indexes overflow).",
                                          ErrorIds.SelectionNoData, QuantShellErrorKind.InvalidData);
        bool wide = typeof(T) == typeof(float) && !(Math.Abs(norm) < SingleScalarLimit);
        T firstEdge = T.CreateTruncating(first), scale = T.CreateTruncating(norm);
        var counts = new long[bins];
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            long index = wide ? long.CreateTruncating(double.CreateTruncating(x - firstEdge) * norm) : long.CreateTruncating((x - firstEdge) * scale);
            if (index == bins) index--;
            if (x < edges[index]) index--;
            if (index != bins - 1 && x >= edges[index + 1]) index++;
            counts[index]++;
        }
        return new NumpyHistogram<T>(edges, counts);
    }
}
