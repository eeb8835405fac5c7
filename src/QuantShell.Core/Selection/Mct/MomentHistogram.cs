using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    private readonly double _lo, _hi, _width, _perWidth, _eps;
    private readonly long _count;
    private readonly int _maxBinCount;
    private Sums[] _sums;
    private readonly double _absS1, _sumS2;

    /// <summary>
    /// The running sums up to one bin, side by side (a bounds' run of bins reads two of them, not twelve scattered
    /// values): the count, Σ i·n and Σ i²·n over the bins (integers), and Σ y, Σ i·Σ y and Σ y² (floats).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Sums
    {
        public long P1, P2;
        public double Q1, Qi, Q2;
        public int P0;
    }

    private MomentHistogram(int bins, double lo, double hi, double width, long count, int maxBinCount, Sums[] sums, double absS1, double sumS2)
    {
        _bins = bins;
        _lo = lo;
        _hi = hi;
        _width = width;
        _perWidth = 1 / width;
        _count = count;
        _maxBinCount = maxBinCount;
        _sums = sums;
        _absS1 = absS1;
        _sumS2 = sumS2;
        // How far a value may lie outside the edges of the bin it was counted in, and how far x may differ from
        // centre + y (the bin index and y are computed in float64 from x - min).
        _eps = 32 * U64 * (Math.Abs(lo) + Math.Abs(hi) + (hi - lo));
    }

    public int Bins => _bins;

    /// <summary>Gives the running sums back to the pool: the histogram bounds nothing after this.</summary>
    public void Release()
    {
        var sums = Interlocked.Exchange(ref _sums, []);
        if (sums.Length > 0) ArrayPool<Sums>.Shared.Return(sums);
    }

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
            // Pooled (a channel's 1.5 MB, built once a channel): fresh pages cost more than clearing.
            cells[k] = ArrayPool<double>.Shared.Rent(3 * bins);
            cells[k].AsSpan(0, 3 * bins).Clear();
            var span = values.AsSpan(Math.Min(values.Length, k * chunk), Math.Max(0, Math.Min(chunk, values.Length - k * chunk)));
            Accumulate<T>(span, lo, inverse, width, bins, cells[k]);
        });
        var merged = cells[0];
        for (int k = 1; k < chunks; k++)
            for (int i = 0; i < 3 * bins; i++) merged[i] += cells[k][i];
        // Pooled too: a search that is done with the histogram gives it back (Release).
        var sums = ArrayPool<Sums>.Shared.Rent(bins + 1);
        sums[0] = default;
        double absS1 = 0, sumS2 = 0;
        int maxBin = 0;
        Sums running = default;
        for (int i = 0; i < bins; i++)
        {
            int n = (int)merged[3 * i];
            maxBin = Math.Max(maxBin, n);
            running.P0 += n;
            running.P1 += (long)i * n;
            running.P2 += (long)i * i * n;
            running.Q1 += merged[3 * i + 1];
            running.Qi += i * merged[3 * i + 1];
            running.Q2 += merged[3 * i + 2];
            sums[i + 1] = running;
            absS1 += Math.Abs(merged[3 * i + 1]);
            sumS2 += merged[3 * i + 2];
        }
        foreach (var cell in cells) ArrayPool<double>.Shared.Return(cell);
        return new MomentHistogram(bins, lo, hi, width, values.Length, maxBin, sums, absS1, sumS2);
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
    // blocks: false for one value after the other on any value type (tests compare both).
    internal static void Accumulate<T>(ReadOnlySpan<T> values, double lo, double inverse, double width, int bins, double[] cells, bool blocks = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int last = bins - 1;
        ref double first = ref MemoryMarshal.GetArrayDataReference(cells);
        if (blocks && typeof(T) == typeof(float) && Avx.IsSupported)
        {
            AccumulateBlocks(MemoryMarshal.Cast<T, float>(values), lo, inverse, width, last, ref first);
            return;
        }
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
    /// <see cref="Accumulate{T}"/> of float32 values, a block at a time: each block's bin indexes and offsets y first,
    /// four values a vector (the same float64 operations as one by one: t = (x - lo)·inverse, i = its truncation, at most
    /// the last bin, y = (t - i - 0.5)·width), then added to their bins in the values' order. The same sums bit for bit;
    /// the scattered additions no longer wait on the index arithmetic (the cells, 1.5 MB, are larger than L2).
    /// </summary>
    private static void AccumulateBlocks(ReadOnlySpan<float> values, double lo, double inverse, double width, int last, ref double first)
    {
        const int block = 256;
        Span<int> indexes = stackalloc int[block];
        Span<double> offsets = stackalloc double[block];
        var vlo = Vector256.Create(lo);
        var vinverse = Vector256.Create(inverse);
        var vwidth = Vector256.Create(width);
        var half = Vector256.Create(0.5);
        var vlast = Vector128.Create(last);
        ref float x0 = ref MemoryMarshal.GetReference(values);
        ref int i0 = ref MemoryMarshal.GetReference(indexes);
        ref double y0 = ref MemoryMarshal.GetReference(offsets);
        for (int start = 0; start < values.Length; start += block)
        {
            int m = Math.Min(block, values.Length - start);
            int k = 0;
            for (; k <= m - 4; k += 4)
            {
                var t = (Avx.ConvertToVector256Double(Vector128.LoadUnsafe(ref x0, (nuint)(start + k))) - vlo) * vinverse;
                var i = Vector128.Min(Avx.ConvertToVector128Int32WithTruncation(t), vlast);
                var y = (t - Avx.ConvertToVector256Double(i) - half) * vwidth;
                i.StoreUnsafe(ref i0, (nuint)k);
                y.StoreUnsafe(ref y0, (nuint)k);
            }
            for (; k < m; k++)
            {
                double t = (Unsafe.Add(ref x0, start + k) - lo) * inverse;
                int i = Math.Min(double.ConvertToIntegerNative<int>(t), last);
                Unsafe.Add(ref i0, k) = i;
                Unsafe.Add(ref y0, k) = (t - i - 0.5) * width;
            }
            for (k = 0; k < m; k++)
            {
                ref double cell = ref Unsafe.Add(ref first, 3 * Unsafe.Add(ref i0, k));
                double y = Unsafe.Add(ref y0, k);
                cell += 1;
                Unsafe.Add(ref cell, 1) += y;
                Unsafe.Add(ref cell, 2) += y * y;
            }
        }
    }

    /// <summary>
    /// One grid's bounds as its caller compares them (false when unbounded), given a cap in those units: a grid found
    /// above the cap may get just a low bound (and high +∞); a cap of −∞ asks for its clipping's low bound alone.
    /// </summary>
    public delegate bool GridBound(int index, double cap, out double low, out double high);

    /// <summary>
    /// The bounds of <paramref name="count"/> grids into <paramref name="lows"/> and <paramref name="highs"/> (−∞ and +∞
    /// where unbounded); returns the least high (at most <paramref name="leastHigh"/>). Each grid's clipping is bounded
    /// first (it costs two runs of bins); then, from the lowest of those up, each grid is bounded with the least high so
    /// far as its cap, until the next low is above it: a grid above the cap cannot be the least (nor equal it).
    /// </summary>
    public static double BoundAll(int count, GridBound bound, double leastHigh, double[] lows, double[] highs)
    {
        for (int i = 0; i < count; i++)
        {
            highs[i] = double.PositiveInfinity;
            lows[i] = bound(i, double.NegativeInfinity, out double clipping, out _) ? clipping : double.NegativeInfinity;
        }
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        Array.Sort(lows[..count], order);
        foreach (int i in order)
        {
            if (lows[i] > leastHigh) break;
            if (!bound(i, leastHigh, out double low, out double high)) continue;
            lows[i] = Math.Max(lows[i], low);
            highs[i] = high;
            leastHigh = Math.Min(leastHigh, high);
        }
        return leastHigh;
    }

    /// <summary>
    /// Bounds of Σ (x - q(x))² over the values, in real arithmetic on the grid's own levels (each level as the grid's
    /// float arithmetic computes it), widened by the rounding of each term (<c>d = x - q</c>, <c>d·d</c>). False when
    /// the histogram is too coarse for the grid (or the grid is degenerate): the caller then computes the error exactly.
    /// </summary>
    public bool TrySquaredErrorSum(in MctGrid grid, out double low, out double high) =>
        TrySquaredErrorSum(grid, double.PositiveInfinity, out low, out high);

    /// <summary>
    /// The same, but a grid whose sum is found to lie above <paramref name="cap"/> before all of it is bounded gets only
    /// a low bound above the cap (and high +∞): it cannot be the least. The values below the grid's first level and above
    /// its last (its clipping) are bounded first, so a cap of −∞ gives just that bound.
    /// </summary>
    public bool TrySquaredErrorSum(in MctGrid grid, double cap, out double low, out double high)
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
        return TryLevels(new GridLevels(a, s, single), top + 1, s, margin, u, cap, out low, out high);
    }

    /// <summary>
    /// The same bounds for the quantizer kernel's grid (<c>FakeQuantizeKernel</c>): code round(x·inverse) + zero clamped
    /// to [qmin, qmax], value (code - zero)·scale, all in float32 (<paramref name="single"/>) or float64, and the error
    /// (x - y)² in float64 as <c>ErrorMeasure</c> takes it.
    /// </summary>
    public bool TryKernelSquaredErrorSum(double scale, double inverse, int zeroPoint, int quantMin, int quantMax, bool single, out double low, out double high) =>
        TryKernelSquaredErrorSum(scale, inverse, zeroPoint, quantMin, quantMax, single, double.PositiveInfinity, out low, out high);

    /// <summary>The same with a <paramref name="cap"/>, as <see cref="TrySquaredErrorSum(in MctGrid, double, out double, out double)"/>.</summary>
    public bool TryKernelSquaredErrorSum(double scale, double inverse, int zeroPoint, int quantMin, int quantMax, bool single, double cap, out double low, out double high)
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
        return TryLevels(new KernelLevels(first, scale, inverse, single), levels, 1 / inverse, margin, U64, cap, out low, out high);
    }

    /// <summary>
    /// Bounds of Σ (x - q(x))² for a monotone grid of <paramref name="levels"/> levels: values below boundary(0) go to
    /// level(0), between boundary(k - 1) and boundary(k) to level(k), above the last boundary to the last level, except
    /// within <paramref name="margin"/> of a boundary where either neighbour may be taken. <paramref name="termUnit"/> is
    /// the unit roundoff of the precision the terms are computed in.
    /// </summary>
    private bool TryLevels<TLevels>(in TLevels grid, int levels, double step, double margin, double termUnit, double cap, out double low, out double high)
        where TLevels : struct, ILevels
    {
        low = 0;
        high = double.PositiveInfinity;
        double u = termUnit;
        int top = levels - 1, bins = _bins;
        double w = _width, lo = _lo, eps = _eps, pad = margin + eps;
        if (!(step > 4 * (w + margin + eps)) || top < 1 || _sums.Length == 0) return false;
        // Rounding of the moments' sums and of the formulas below, generously: the moments are running sums of at most
        // the largest bin's count of terms no larger than w/2 (w²/4); the running sums over the bins add up to 2^16 of
        // them; every term is at most `magnitude`'s (far²), and no value lies farther than `distance` from any level.
        double first = grid.Level(0), lastLevel = grid.Level(top);
        double reach = Math.Max(Math.Max(step, first - lo), _hi - lastLevel) + w + margin;
        double fixedSlack = 4 * U64 * _maxBinCount * _count * w * (reach + w)
                            + 8 * (top + 1) * U64 * bins * (4.0 * bins * w * _absS1 + _sumS2)
                            + _count * (2 * reach * eps + eps * eps);
        double distance = Math.Max(_hi - first, lastLevel - lo) + 2 * w + margin + eps;
        double mostSlack = 64 * U64 * _count * distance * distance + fixedSlack;
        ref Sums sums = ref MemoryMarshal.GetArrayDataReference(_sums);
        // The clipping first: the runs of the first level (below its boundary) and of the last (above its own).
        int firstEnd = Math.Clamp(FloorIndex((grid.Boundary(0) - pad - lo) * _perWidth), 0, bins);
        int lastStart = Math.Clamp(CeilIndex((grid.Boundary(top - 1) + pad - lo) * _perWidth), 0, bins);
        double ignored = 0;
        double firstRun = firstEnd > 0 ? Run(ref sums, 0, firstEnd, first, ref ignored) : 0;
        double lastRun = lastStart < bins && lastStart >= firstEnd ? Run(ref sums, lastStart, bins, lastLevel, ref ignored) : 0;
        if (Above(firstRun + lastRun, mostSlack, u, cap, out low)) return true;
        low = 0;
        double lowSum = 0, highSum = 0, magnitude = 0;
        int pos = 0;
        // The boundary below this level and the level below it (from the step before).
        double boundary = 0, below = 0;
        for (int k = 0; k <= top; k++)
        {
            // The running sums a few levels on are far apart in a large histogram (each level's run starts a step further
            // into it): fetched into the cache while this level's are used.
            if (Sse.IsSupported && k + PrefetchLevels < top) Prefetch(ref sums, (grid.Boundary(k + PrefetchLevels) - lo) * _perWidth, bins);
            double q = grid.Level(k);
            double next = k < top ? grid.Boundary(k) : 0;
            int start = 0, end = bins;
            // Bins are indexed by (x - lo)/w; the bounds of a run are taken a hair inward (CeilIndex, FloorIndex), so a
            // bin at a rounding boundary of the index is counted as straddling, never in a run it may not lie in.
            if (k > 0) start = Math.Clamp(CeilIndex((boundary + pad - lo) * _perWidth), pos, bins);
            if (k < top) end = Math.Clamp(FloorIndex((next - pad - lo) * _perWidth), 0, bins);
            if (k > 0)
            {
                // Bins between the last level's and this one's: their values go to either level.
                for (int i = pos; i < start; i++)
                {
                    int n = Unsafe.Add(ref sums, i + 1).P0 - Unsafe.Add(ref sums, i).P0;
                    if (n == 0) continue;
                    double e0 = lo + i * w - eps, e1 = lo + (i + 1) * w + eps;
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
                double sum = Run(ref sums, start, end, q, ref magnitude);
                lowSum += sum;
                highSum += sum;
                pos = end;
            }
            else
            {
                pos = start;
            }
            boundary = next;
            below = q;
            // Every 8 levels: the sum so far and the last level's clipping (bins above all those so far) against the cap (a
            // grid close to the least reaches it only near its last levels: checked often, the others stop sooner).
            if ((k & 7) == 7 && k < top && Above(lowSum + lastRun, mostSlack, u, cap, out low))
                return true;
        }
        if (pos != bins) return false;
        double slack = 64 * U64 * magnitude + fixedSlack;
        low = Math.Max(0, lowSum - slack) * (1 - 4 * u);
        high = (highSum + slack) * (1 + 4 * u);
        return double.IsFinite(high);
    }

    /// <summary>Whether a part of a grid's sum (<paramref name="partial"/>, less the most any rounding may take) already
    /// lies above <paramref name="cap"/>; then <paramref name="low"/> is that part's low bound.</summary>
    private static bool Above(double partial, double mostSlack, double u, double cap, out double low)
    {
        low = Math.Max(0, partial - mostSlack) * (1 - 4 * u);
        return low > cap || double.IsNegativeInfinity(cap);
    }

    /// <summary>
    /// Σ (x - q)² over the bins [start, end) (all their values go to the level q) from the moments, adding the run's
    /// largest term times its count to <paramref name="magnitude"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private double Run(ref Sums sums, int start, int end, double q, ref double magnitude)
    {
        ref Sums first = ref Unsafe.Add(ref sums, start), last = ref Unsafe.Add(ref sums, end);
        int count = last.P0 - first.P0;
        if (count <= 0) return 0;
        double w = _width;
        long r = Math.Clamp((long)Math.Round((q - _lo) * _perWidth - 0.5), start, end - 1);
        double offset = _lo + (r + 0.5) * w - q;
        long p1 = last.P1 - first.P1;
        long n1 = p1 - r * count;
        // Σ n·(i - r)² over the run is below 2^63 (a channel has fewer than 2^31 values, (i - r)² < 2^32): the 64-bit
        // sum wraps on its way but lands on it exactly.
        double n2 = unchecked(last.P2 - first.P2 - 2 * r * p1 + r * r * count);
        double s1 = last.Q1 - first.Q1;
        double si = last.Qi - first.Qi;
        double far = Math.Max(Math.Abs(offset + (start - r - 0.5) * w), Math.Abs(offset + (end - r + 0.5) * w)) + w;
        magnitude += count * far * far;
        return offset * offset * count + 2 * offset * w * n1 + w * w * n2
               + 2 * offset * s1 + 2 * w * (si - r * s1) + (last.Q2 - first.Q2);
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
        // 1/inverse rounded, then each product rounded: within 2 ulp of the quotient, well inside the margin (8·2^-53 of the reach).
        private readonly double _perInverse = 1 / inverse;

        public double Level(int k) => single ? (float)(first + k) * (float)scale : (first + k) * scale;

        public double Boundary(int k) => (first + k + 0.5) * _perInverse;
    }

    /// <summary>How many levels ahead of the one being bounded its running sums are fetched (<see cref="Prefetch"/>).</summary>
    private const int PrefetchLevels = 4;

    /// <summary>
    /// A hint to fetch the running sums around bin index <paramref name="t"/> into the cache: those a level's run ends and
    /// the next one's starts with, and the bins straddling the boundary between them (four sums, 192 bytes, from the one
    /// before; all within the array, whose last sums are those up to the last bin).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(ref Sums sums, double t, int bins)
    {
        int i = t > 1 ? t < bins - 3 ? (int)t - 1 : Math.Max(0, bins - 3) : 0;
        byte* at = (byte*)Unsafe.AsPointer(ref Unsafe.Add(ref sums, i));
        Sse.Prefetch0(at);
        Sse.Prefetch0(at + 64);
        Sse.Prefetch0(at + 128);
        Sse.Prefetch0(at + 191);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int CeilIndex(double t) => t <= int.MinValue ? int.MinValue : t >= int.MaxValue ? int.MaxValue : (int)Math.Ceiling(t + 1e-9);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int FloorIndex(double t) => t <= int.MinValue ? int.MinValue : t >= int.MaxValue ? int.MaxValue : (int)Math.Floor(t - 1e-9);

    /// <summary>The least and greatest (x - q)² for x in [x0, x1], folded into the running extremes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
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
