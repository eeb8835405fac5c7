using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// A fine histogram of one channel's values that bounds the squared quantization error of any grid without reading the
/// values again. Each of its equal-width bins over [min, max] keeps the count and the first two moments of its values
/// about the bin's centre; all are kept as running sums from the first bin (integer moments exactly), so the sum over a
/// run of bins costs the same whatever its length.
/// <para>
/// For a grid, every bin that lies wholly between two of the grid's rounding boundaries sends all its values to the same
/// level q, and Σ (x - q)² over it follows from the moments: Σ y² + 2(c - q)·Σ y + n·(c - q)² with y = x - c. A bin
/// that straddles a boundary (within the margin where float rounding may go either way) is bounded value by value from
/// its edges and the two levels either side. The real sum so found is then widened by the rounding of each term and of
/// NumPy's summation order (<see cref="SumBounds"/>), giving an interval that holds the exact float error MCT computes.
/// </para>
/// </summary>
internal sealed class MomentHistogram
{
    private const double U64 = 1.0 / (1L << 53);
    private const double U32 = 1.0 / (1 << 24);

    private readonly int _bins;
    private readonly double _lo, _hi, _width, _eps;
    private readonly long _count;
    private readonly int _maxBinCount;
    private readonly bool _smallMoments;
    private readonly int[] _p0;
    private readonly long[] _p1, _p2;
    private readonly double[] _q1, _qi, _q2;
    private readonly double _absS1, _sumS2;

    private MomentHistogram(int bins, double lo, double hi, double width, long count, int maxBinCount, int[] p0, long[] p1, long[] p2,
                            double[] q1, double[] qi, double[] q2, double absS1, double sumS2)
    {
        _bins = bins;
        _lo = lo;
        _hi = hi;
        _width = width;
        _count = count;
        _maxBinCount = maxBinCount;
        _smallMoments = 4.0 * bins * bins * count < 1L << 53;
        _p0 = p0;
        _p1 = p1;
        _p2 = p2;
        _q1 = q1;
        _qi = qi;
        _q2 = q2;
        _absS1 = absS1;
        _sumS2 = sumS2;
        // How far a value may lie outside the edges of the bin it was counted in, and how far x may differ from
        // centre + y (the bin index and y are computed in float64 from x - min).
        _eps = 32 * U64 * (Math.Abs(lo) + Math.Abs(hi) + (hi - lo));
    }

    public int Bins => _bins;

    /// <summary>The unit roundoff of float64, 2^-53.</summary>
    public const double UnitRoundoff64 = U64;

    /// <summary>
    /// The histogram of <paramref name="values"/> (all finite) in <paramref name="bins"/> bins (at most 2^16), or null when
    /// the values are all equal. With <paramref name="parallel"/> the values are split over the cores. <paramref name="range"/>:
    /// the least and greatest value when the caller has them (else they are found here).
    /// </summary>
    public static MomentHistogram? Build<T>(T[] values, int bins, bool parallel, (double Min, double Max)? range = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (bins < 1 || bins > 1 << 16) throw new ArgumentOutOfRangeException(nameof(bins));
        if (values.Length == 0) return null;
        int chunks = parallel && values.Length >= 1 << 20 ? Math.Max(1, Environment.ProcessorCount) : 1;
        int chunk = (values.Length + chunks - 1) / chunks;
        double lo, hi;
        if (range is { } known)
        {
            // +0.0: a zero's sign is the scan's, not necessarily MinMax's; the histogram's arithmetic is the same for both.
            (lo, hi) = (known.Min + 0.0, known.Max + 0.0);
        }
        else
        {
            var mins = new double[chunks];
            var maxs = new double[chunks];
            Do(chunks, k =>
            {
                var span = values.AsSpan(Math.Min(values.Length, k * chunk), Math.Max(0, Math.Min(chunk, values.Length - k * chunk)));
                (mins[k], maxs[k]) = MinMax(span);
            });
            (lo, hi) = (mins.Min(), maxs.Max());
        }
        if (!(lo < hi) || !double.IsFinite(lo) || !double.IsFinite(hi)) return null;
        double width = (hi - lo) / bins, inverse = bins / (hi - lo);
        if (!(width > 0) || !double.IsFinite(inverse)) return null;
        var cells = new double[chunks][];
        Do(chunks, k =>
        {
            cells[k] = new double[3 * bins];
            var span = values.AsSpan(Math.Min(values.Length, k * chunk), Math.Max(0, Math.Min(chunk, values.Length - k * chunk)));
            Accumulate<T>(span, lo, inverse, width, bins, cells[k]);
        });
        var merged = cells[0];
        for (int k = 1; k < chunks; k++)
            for (int i = 0; i < merged.Length; i++) merged[i] += cells[k][i];
        var p0 = new int[bins + 1];
        var p1 = new long[bins + 1];
        var p2 = new long[bins + 1];
        var q1 = new double[bins + 1];
        var qi = new double[bins + 1];
        var q2 = new double[bins + 1];
        double absS1 = 0, sumS2 = 0;
        int maxBin = 0;
        for (int i = 0; i < bins; i++)
        {
            int n = (int)merged[3 * i];
            maxBin = Math.Max(maxBin, n);
            p0[i + 1] = p0[i] + n;
            p1[i + 1] = p1[i] + (long)i * n;
            p2[i + 1] = p2[i] + (long)i * i * n;
            q1[i + 1] = q1[i] + merged[3 * i + 1];
            qi[i + 1] = qi[i] + i * merged[3 * i + 1];
            q2[i + 1] = q2[i] + merged[3 * i + 2];
            absS1 += Math.Abs(merged[3 * i + 1]);
            sumS2 += merged[3 * i + 2];
        }
        return new MomentHistogram(bins, lo, hi, width, values.Length, maxBin, p0, p1, p2, q1, qi, q2, absS1, sumS2);
    }

    private static void Do(int count, Action<int> body)
    {
        if (count == 1) body(0);
        else Parallel.For(0, count, body);
    }

    private static (double Min, double Max) MinMax<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var f = MemoryMarshal.Cast<T, float>(values);
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            int i = 0;
            if (Vector256.IsHardwareAccelerated && f.Length >= 8)
            {
                var vmin = Vector256.Create(float.PositiveInfinity);
                var vmax = Vector256.Create(float.NegativeInfinity);
                for (; i <= f.Length - 8; i += 8)
                {
                    var v = Vector256.Create(f.Slice(i, 8));
                    vmin = Vector256.Min(vmin, v);
                    vmax = Vector256.Max(vmax, v);
                }
                for (int j = 0; j < 8; j++)
                {
                    min = Math.Min(min, vmin[j]);
                    max = Math.Max(max, vmax[j]);
                }
            }
            for (; i < f.Length; i++)
            {
                min = Math.Min(min, f[i]);
                max = Math.Max(max, f[i]);
            }
            return (min, max);
        }
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (T x in values)
        {
            double v = double.CreateTruncating(x);
            lo = Math.Min(lo, v);
            hi = Math.Max(hi, v);
        }
        return (lo, hi);
    }

    // Each bin's count, Σ y and Σ y² side by side (one cache line per value); the bin index by the CPU's own truncation
    // (t is never negative, and at most the bin count). Generic over the value type, so each is compiled on its own.
    private static void Accumulate<T>(ReadOnlySpan<T> values, double lo, double inverse, double width, int bins, double[] cells)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int last = bins - 1;
        ref double first = ref MemoryMarshal.GetArrayDataReference(cells);
        for (int k = 0; k < values.Length; k++)
        {
            double t = (double.CreateTruncating(values[k]) - lo) * inverse;
            int i = Math.Min(double.ConvertToIntegerNative<int>(t), last);
            double y = (t - i - 0.5) * width;
            ref double cell = ref Unsafe.Add(ref first, 3 * i);
            cell += 1;
            Unsafe.Add(ref cell, 1) += y;
            Unsafe.Add(ref cell, 2) += y * y;
        }
    }

    /// <summary>
    /// Bounds of Σ (x - q(x))² over the values, in real arithmetic on the grid's own levels (each level as the grid's
    /// float arithmetic computes it), widened by the rounding of each term (<c>d = x - q</c>, <c>d·d</c>). False when
    /// the histogram is too coarse for the grid (or the grid is degenerate): the caller then computes the error exactly.
    /// </summary>
    public bool TrySquaredErrorSum(in MctGrid grid, out double low, out double high)
    {
        low = 0;
        high = double.PositiveInfinity;
        bool single = grid.Single;
        double u = single ? U32 : U64;
        double a, b, s;
        int top;
        if (single)
        {
            float af = (float)grid.Low, bf = (float)grid.High, sf = (float)grid.Step;
            a = af;
            b = bf;
            s = sf;
            if (!(sf > 0) || !float.IsFinite(sf) || !(bf > af)) return false;
            float topF = MathF.Round((bf - af) / sf);
            if (!(topF >= 1 && topF <= 1 << 20)) return false;
            top = (int)topF;
        }
        else
        {
            a = grid.Low;
            b = grid.High;
            s = grid.Step;
            if (!(s > 0) || !double.IsFinite(s) || !(b > a)) return false;
            double topD = Math.Round((b - a) / s);
            if (!(topD >= 1 && topD <= 1 << 20)) return false;
            top = (int)topD;
        }
        // Where the float rounding of (clip(x) - a)/s may differ from the real quotient's, in units of x.
        double margin = 4 * u * (b - a + s) + 8 * U64 * (Math.Abs(a) + Math.Abs(b));
        return TryLevels(new GridLevels(a, s, single), top + 1, s, margin, u, out low, out high);
    }

    /// <summary>
    /// The same bounds for the quantizer kernel's grid (<c>FakeQuantizeKernel</c>): code round(x·inverse) + zero clamped
    /// to [qmin, qmax], value (code - zero)·scale, all in float32 (<paramref name="single"/>) or float64, and the error
    /// (x - y)² in float64 as <c>ErrorMeasure</c> takes it.
    /// </summary>
    public bool TryKernelSquaredErrorSum(double scale, double inverse, int zeroPoint, int quantMin, int quantMax, bool single, out double low, out double high)
    {
        low = 0;
        high = double.PositiveInfinity;
        if (!(scale > 0) || !(inverse > 0) || !double.IsFinite(scale) || !double.IsFinite(inverse) || quantMax <= quantMin) return false;
        int first = quantMin - zeroPoint, levels = quantMax - quantMin + 1;
        if (levels > 1 << 20) return false;
        double u = single ? U32 : U64;
        double reach = (Math.Max(Math.Abs(first), Math.Abs(first + levels)) + 1) / inverse;
        // x·inverse is rounded once (relative u), and the boundary below is computed in float64.
        double margin = 4 * u * reach + 8 * U64 * reach;
        return TryLevels(new KernelLevels(first, scale, inverse, single), levels, 1 / inverse, margin, single ? U64 : U64, out low, out high);
    }

    /// <summary>
    /// Bounds of Σ (x - q(x))² for a monotone grid of <paramref name="levels"/> levels: values below boundary(0) go to
    /// level(0), between boundary(k - 1) and boundary(k) to level(k), above the last boundary to the last level, except
    /// within <paramref name="margin"/> of a boundary where either neighbour may be taken. <paramref name="termUnit"/> is
    /// the unit roundoff of the precision the terms are computed in.
    /// </summary>
    private bool TryLevels<TLevels>(in TLevels grid, int levels, double step, double margin, double termUnit, out double low, out double high)
        where TLevels : struct, ILevels
    {
        var copy = grid;
        double levelOf(int k) => copy.Level(k);
        double boundaryOf(int k) => copy.Boundary(k);
        low = 0;
        high = double.PositiveInfinity;
        double u = termUnit;
        int top = levels - 1;
        double w = _width, eps = _eps;
        if (!(step > 4 * (w + margin + eps)) || top < 1) return false;
        double lowSum = 0, highSum = 0, magnitude = 0;
        int pos = 0;
        for (int k = 0; k <= top; k++)
        {
            double q = levelOf(k);
            int start = 0, end = _bins;
            if (k > 0) start = Math.Clamp(CeilIndex((boundaryOf(k - 1) + margin + eps - _lo) / w), pos, _bins);
            if (k < top) end = Math.Clamp(FloorIndex((boundaryOf(k) - margin - eps - _lo) / w), 0, _bins);
            if (k > 0)
            {
                // Bins between the last level's and this one's: their values go to either level.
                double boundary = boundaryOf(k - 1), below = levelOf(k - 1);
                for (int i = pos; i < start; i++)
                {
                    int n = _p0[i + 1] - _p0[i];
                    if (n == 0) continue;
                    double e0 = _lo + i * w - eps, e1 = _lo + (i + 1) * w + eps;
                    double minTerm = double.PositiveInfinity, maxTerm = 0;
                    if (e0 <= boundary + margin) Extremes(e0, Math.Min(e1, boundary + margin), below, ref minTerm, ref maxTerm);
                    if (e1 >= boundary - margin) Extremes(Math.Max(e0, boundary - margin), e1, q, ref minTerm, ref maxTerm);
                    lowSum += n * minTerm;
                    highSum += n * maxTerm;
                    magnitude += n * maxTerm;
                }
            }
            if (end > start)
            {
                int count = _p0[end] - _p0[start];
                if (count > 0)
                {
                    long r = Math.Clamp((long)Math.Round((q - _lo) / w - 0.5), start, end - 1);
                    double offset = _lo + (r + 0.5) * w - q;
                    long p1 = _p1[end] - _p1[start];
                    long n1 = p1 - r * count;
                    // Each term at most 2·bins²·count: in 64 bits where the result is exact in a double either way.
                    double n2 = _smallMoments
                        ? (_p2[end] - _p2[start]) - 2 * r * p1 + r * r * count
                        : (double)((Int128)(_p2[end] - _p2[start]) - 2 * (Int128)r * p1 + (Int128)r * r * count);
                    double s1 = _q1[end] - _q1[start];
                    double si = _qi[end] - _qi[start];
                    double sum = offset * offset * count + 2 * offset * w * n1 + w * w * n2
                                 + 2 * offset * s1 + 2 * w * (si - r * s1) + (_q2[end] - _q2[start]);
                    lowSum += sum;
                    highSum += sum;
                    double far = Math.Max(Math.Abs(offset + (start - r - 0.5) * w), Math.Abs(offset + (end - r + 0.5) * w)) + w;
                    magnitude += count * far * far;
                }
                pos = end;
            }
            else
            {
                pos = start;
            }
        }
        if (pos != _bins) return false;
        // Rounding of the moments' sums and of the formula above, generously: the moments are running sums of at most
        // the largest bin's count of terms no larger than w/2 (w²/4); the running sums over the bins add up to 2^16 of them.
        double reach = Math.Max(Math.Max(step, levelOf(0) - _lo), _hi - levelOf(top)) + w + margin;
        double slack = 64 * U64 * magnitude
                       + 4 * U64 * _maxBinCount * _count * w * (reach + w)
                       + 8 * (top + 1) * U64 * _bins * (4.0 * _bins * w * _absS1 + _sumS2)
                       + _count * (2 * reach * eps + eps * eps);
        low = Math.Max(0, lowSum - slack) * (1 - 4 * u);
        high = (highSum + slack) * (1 + 4 * u);
        return double.IsFinite(high);
    }

    /// <summary>A monotone grid's levels and the boundaries between them (structs, so that the bounds' loop calls them inline).</summary>
    private interface ILevels
    {
        double Level(int k);

        double Boundary(int k);
    }

    /// <summary>MCT's grid: level k is step·k + a, each step rounded in the grid's precision; boundaries halfway.</summary>
    private readonly struct GridLevels(double a, double s, bool single) : ILevels
    {
        public double Level(int k) => single ? (float)s * (float)k + (float)a : s * k + a;

        public double Boundary(int k) => a + (k + 0.5) * s;
    }

    /// <summary>The quantizer kernel's grid: level k is (first + k)·scale; boundaries halfway between codes, over inverse.</summary>
    private readonly struct KernelLevels(int first, double scale, double inverse, bool single) : ILevels
    {
        public double Level(int k) => single ? (float)(first + k) * (float)scale : (first + k) * scale;

        public double Boundary(int k) => (first + k + 0.5) / inverse;
    }

    private static int CeilIndex(double t) => t <= int.MinValue ? int.MinValue : t >= int.MaxValue ? int.MaxValue : (int)Math.Ceiling(t + 1e-9);

    private static int FloorIndex(double t) => t <= int.MinValue ? int.MinValue : t >= int.MaxValue ? int.MaxValue : (int)Math.Floor(t - 1e-9);

    /// <summary>The least and greatest (x - q)² for x in [x0, x1], folded into the running extremes.</summary>
    private static void Extremes(double x0, double x1, double q, ref double min, ref double max)
    {
        if (x1 < x0) return;
        double d0 = (x0 - q) * (x0 - q), d1 = (x1 - q) * (x1 - q);
        double least = q >= x0 && q <= x1 ? 0 : Math.Min(d0, d1);
        min = Math.Min(min, least);
        max = Math.Max(max, Math.Max(d0, d1));
    }

    /// <summary>
    /// How far NumPy's float sum of <paramref name="count"/> non-negative terms may lie from their real sum, relative
    /// to it: pairwise blocks of 8192 (at most 32 roundings on a term's way through its block) and the blocks added in
    /// turn, or one term after the other. γ = d·u/(1 - d·u) for d roundings; null when that bounds nothing useful.
    /// </summary>
    public static double? SumBounds(long count, bool single, bool sequential)
    {
        double u = single ? U32 : U64;
        double depth = sequential ? count : (count + 8191) / 8192 + 32;
        double du = depth * u;
        return du < 0.25 ? du / (1 - du) : null;
    }
}
