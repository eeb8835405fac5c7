using System.Buffers;
using System.Numerics;
using QuantShell.Core.Kernels;

namespace QuantShell.Core.Selection;

/// <summary>
/// Lower bounds of a quantizer grid's squared error sum from its clipping alone, for samples too small for a
/// <see cref="Mct.MomentHistogram"/>: the sample's finite values sorted, with running sums of x, |x| and x². A value more
/// than a quarter step below the grid's first level is quantized to that level (code qmin), one more than a quarter step
/// above its last level to that one (qmax); the sum of their squared distances to those points (each below the term it
/// stands for) is found from the running sums in a few operations, and lowered by the most its rounding may take. The
/// other values' terms are at least 0. So the bound holds the real sum of the grid's error terms; the caller widens it
/// by the rounding of the terms and of their float sum.
/// </summary>
internal sealed class ClippingBounds
{
    private const double U64 = 1.0 / (1L << 53);

    // The finite values sorted ([0, _n) of _sorted) and running sums of x, |x| and x² ([0, _n] of the others): arrays from
    // the shared pool, given back by Release (a channel's search is done), so the channels of a tensor reuse them.
    private readonly double[] _sorted;
    private readonly double[] _s1, _a1, _s2;
    private readonly int _n;
    private int _released;

    private ClippingBounds(double[] sorted, int n)
    {
        _sorted = sorted;
        _n = n;
        _s1 = ArrayPool<double>.Shared.Rent(n + 1);
        _a1 = ArrayPool<double>.Shared.Rent(n + 1);
        _s2 = ArrayPool<double>.Shared.Rent(n + 1);
        (_s1[0], _a1[0], _s2[0]) = (0, 0, 0);
        for (int i = 0; i < n; i++)
        {
            double x = sorted[i];
            _s1[i + 1] = _s1[i] + x;
            _a1[i + 1] = _a1[i] + Math.Abs(x);
            _s2[i + 1] = _s2[i] + x * x;
        }
    }

    /// <summary>The bounds of <paramref name="sample"/>'s finite values.</summary>
    public static ClippingBounds Build<T>(T[] sample) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sorted = ArrayPool<double>.Shared.Rent(sample.Length);
        int n = 0;
        if (typeof(T) == typeof(float))
        {
            // float32 values sorted by their bits (a radix sort, no mispredicted comparisons), then widened in order:
            // widening keeps the order, so these are the float64 values sorted (-0 before +0, which the sums ignore).
            var singles = ArrayPool<float>.Shared.Rent(2 * sample.Length);
            foreach (float x in (float[])(object)sample)
                if (float.IsFinite(x)) singles[n++] = x;
            FiniteSort.SortSingles(singles.AsSpan(0, n), singles.AsSpan(n, n));
            for (int i = 0; i < n; i++) sorted[i] = singles[i];
            ArrayPool<float>.Shared.Return(singles);
            return new ClippingBounds(sorted, n);
        }
        foreach (T x in sample)
            if (T.IsFinite(x)) sorted[n++] = double.CreateTruncating(x);
        FiniteSort.Sort(sorted.AsSpan(0, n));
        return new ClippingBounds(sorted, n);
    }

    /// <summary>Gives the arrays back to the pool (once); nothing may use these bounds after.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0) return;
        foreach (var array in new[] { _sorted, _s1, _a1, _s2 }) ArrayPool<double>.Shared.Return(array);
    }

    /// <summary>
    /// A lower bound of Σ (x - q(x))² in real arithmetic over the finite values, q the kernel's quantization on
    /// <paramref name="grid"/> (<see cref="FakeQuantizeKernel.Quantize{T}(T, T, T, T, T, T)"/>); 0 when nothing is
    /// known (no value clipped, or a grid this does not bound).
    /// </summary>
    public double LowSum<T>(in Grid<T> grid) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        double scale = double.CreateTruncating(grid.Scale), zero = double.CreateTruncating(grid.ZeroPoint);
        double first = double.CreateTruncating(grid.QuantMin) - zero, last = double.CreateTruncating(grid.QuantMax) - zero;
        // The codes' distance from the zero point stays far below the precision's integers (the quarter-step margin
        // then covers the rounding of x·inverse): x < (first - 1/4)·scale gives a code below first + 1/2, so qmin.
        if (!(scale > 0) || !double.IsFinite(scale) || !(Math.Abs(first) <= 1 << 20) || !(Math.Abs(last) <= 1 << 20) || !(last > first) || _n == 0)
            return 0;
        double below = (first - 0.25) * scale, above = (last + 0.25) * scale;
        int n = _n;
        var sorted = _sorted.AsSpan(0, n);
        // Values < below: [0, m); values > above: [k, n).
        int m = SortedSearch.CountBelow<double>(sorted, below);
        int k = SortedSearch.CountAtMost<double>(sorted, above);
        double sum = 0;
        if (m > 0) sum += Part(0, m, below);
        if (k < n) sum += Part(k, n, above);
        return double.IsFinite(sum) ? Math.Max(0, sum) : 0;
    }

    /// <summary>Σ (x - c)² over the sorted values [start, end), less the most the running sums' and this formula's rounding may take.</summary>
    private double Part(int start, int end, double c)
    {
        int count = end - start;
        double s1 = _s1[end] - _s1[start], s2 = _s2[end] - _s2[start];
        double value = count * c * c - 2 * c * s1 + s2;
        // Each running sum is within n·u of the sum of its terms' magnitudes (up to the end, so the difference of two is
        // within twice that of the whole), the formula's few operations within a few u of its terms' magnitudes.
        int n = _n;
        double magnitude = count * c * c + 2 * Math.Abs(c) * _a1[n] + _s2[n];
        double slack = 8 * (n + 16) * U64 * magnitude;
        return value - slack;
    }
}
