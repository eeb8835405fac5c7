using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Kernels;

/// <summary>
/// PyTorch's CPU fake-quantize arithmetic in one fused pass (docs/semantics.md): y = (clamp(round_half_even(x * inv) + z,
/// qmin, qmax) - z) * s, with the product in the element's precision. The same pass counts non-finite inputs and sums the error.
/// All values on the grid are small integers, so adding, clamping and subtracting z in floating point is exact.
/// </summary>
public static class FakeQuantizeKernel
{
    // Shared with LutKernel. Outputs at least this large bypass the cache with non-temporal stores: the destination is not read for
    // ownership first, so the pass moves as many bytes as a memcpy. Smaller ones (file chunks, read back at once
    // by the write call) stay in cache.
    internal const int NonTemporalBytes = 4 << 20;

    /// <summary>Quantizes <paramref name="source"/> into <paramref name="destination"/> (same length, not overlapping) on one grid.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, in Grid<T> grid, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (destination.Length < source.Length) throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        int length = source.Length;
        var acc = new Accumulator();
        fixed (T* src = source)
        fixed (T* dst = destination)
        {
            int i = 0;
            if (Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count)
            {
                int peel = NonTemporalPeel(dst, length);
                for (; i < peel; i++)
                    acc.Add(src[i], dst[i] = Quantize(src[i], grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax));
                var scale = Vector256.Create(grid.Scale);
                var inverse = Vector256.Create(grid.Inverse);
                var zero = Vector256.Create(grid.ZeroPoint);
                var qmin = Vector256.Create(grid.QuantMin);
                var qmax = Vector256.Create(grid.QuantMax);
                bool nonTemporal = peel >= 0;
                var maxFinite = Vector256.Create(T.MaxValue);
                // Error sums stay in locals (registers): a short block in the element type, then added into float64.
                var error = Vector256<double>.Zero;
                var signal = Vector256<double>.Zero;
                while (i <= length - Vector256<T>.Count)
                {
                    int blockEnd = Math.Min(length - Vector256<T>.Count, i + (BlockVectors - 1) * Vector256<T>.Count);
                    int blockStart = i;
                    var blockError = Vector256<T>.Zero;
                    var blockSignal = Vector256<T>.Zero;
                    var allFinite = Vector256<T>.AllBitsSet;
                    for (; i <= blockEnd; i += Vector256<T>.Count)
                    {
                        var x = Vector256.Load(src + i);
                        var y = Quantize(x, scale, inverse, zero, qmin, qmax);
                        if (nonTemporal) Vector256.StoreAlignedNonTemporal(y, dst + i);
                        else Vector256.Store(y, dst + i);
                        Accumulate(x, y, maxFinite, ref blockError, ref blockSignal, ref allFinite);
                    }
                    EndBlock(blockError, blockSignal, allFinite, ref error, ref signal, ref acc, src, dst, blockStart, i);
                }
                if (nonTemporal && Sse.IsSupported) Sse.StoreFence();
                acc.AddVectorSums(error, signal);
            }
            for (; i < length; i++)
                acc.Add(src[i], dst[i] = Quantize(src[i], grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax));
            if (acc.NonFinite > 0)
            {
                // The vector clamp does not keep NaN; redo the non-finite elements with the scalar formula.
                for (int k = 0; k < length; k++)
                    if (!T.IsFinite(src[k])) dst[k] = Quantize(src[k], grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax);
            }
        }
        acc.MergeInto(ref stats, length);
    }

    /// <summary>
    /// Per-element grids that repeat with a period: <c>table.Period</c> consecutive elements have the grids
    /// <c>table[0..period)</c>, then the pattern starts again. <paramref name="phase"/> is the table index of the
    /// first element. Each table holds the period's values followed by a copy of the first
    /// <c>Vector256&lt;T&gt;.Count</c> ones, so a vector load at any phase stays inside it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void ApplyPeriodic<T>(ReadOnlySpan<T> source, Span<T> destination, PeriodicGrids<T> table, int phase, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (destination.Length < source.Length) throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        int length = source.Length;
        int period = table.Period;
        T qminScalar = table.QuantMin, qmaxScalar = table.QuantMax;
        var acc = new Accumulator();
        fixed (T* src = source)
        fixed (T* dst = destination)
        fixed (T* scales = table.Scales)
        fixed (T* inverses = table.Inverses)
        fixed (T* zeros = table.ZeroPoints)
        {
            int i = 0;
            int at = phase;
            if (Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count)
            {
                int peel = NonTemporalPeel(dst, length);
                for (; i < peel; i++)
                {
                    acc.Add(src[i], dst[i] = Quantize(src[i], scales[at], inverses[at], zeros[at], qminScalar, qmaxScalar));
                    if (++at == period) at = 0;
                }
                var qmin = Vector256.Create(qminScalar);
                var qmax = Vector256.Create(qmaxScalar);
                bool nonTemporal = peel >= 0;
                var maxFinite = Vector256.Create(T.MaxValue);
                var error = Vector256<double>.Zero;
                var signal = Vector256<double>.Zero;
                while (i <= length - Vector256<T>.Count)
                {
                    int blockEnd = Math.Min(length - Vector256<T>.Count, i + (BlockVectors - 1) * Vector256<T>.Count);
                    int blockStart = i;
                    var blockError = Vector256<T>.Zero;
                    var blockSignal = Vector256<T>.Zero;
                    var allFinite = Vector256<T>.AllBitsSet;
                    for (; i <= blockEnd; i += Vector256<T>.Count)
                    {
                        var x = Vector256.Load(src + i);
                        var y = Quantize(x, Vector256.Load(scales + at), Vector256.Load(inverses + at), Vector256.Load(zeros + at), qmin, qmax);
                        if (nonTemporal) Vector256.StoreAlignedNonTemporal(y, dst + i);
                        else Vector256.Store(y, dst + i);
                        at += Vector256<T>.Count;
                        if (at >= period) at -= period; // the table's period is at least one vector long
                        Accumulate(x, y, maxFinite, ref blockError, ref blockSignal, ref allFinite);
                    }
                    EndBlock(blockError, blockSignal, allFinite, ref error, ref signal, ref acc, src, dst, blockStart, i);
                }
                if (nonTemporal && Sse.IsSupported) Sse.StoreFence();
                acc.AddVectorSums(error, signal);
            }
            for (; i < length; i++)
            {
                acc.Add(src[i], dst[i] = Quantize(src[i], scales[at], inverses[at], zeros[at], qminScalar, qmaxScalar));
                if (++at == period) at = 0;
            }
            if (acc.NonFinite > 0)
            {
                at = phase;
                for (int k = 0; k < length; k++)
                {
                    if (!T.IsFinite(src[k])) dst[k] = Quantize(src[k], scales[at], inverses[at], zeros[at], qminScalar, qmaxScalar);
                    if (++at == period) at = 0;
                }
            }
        }
        acc.MergeInto(ref stats, length);
    }

    /// <summary>
    /// For outputs large enough to stream past the cache: how many leading elements to do one by one so the rest of
    /// <paramref name="destination"/> is 32-byte aligned for non-temporal stores; -1 for ordinary stores.
    /// </summary>
    internal static unsafe int NonTemporalPeel<T>(T* destination, int length) where T : unmanaged
    {
        if ((long)length * sizeof(T) < NonTemporalBytes || !Avx.IsSupported) return -1;
        nuint address = (nuint)destination;
        if (address % (nuint)sizeof(T) != 0) return -1;
        return (int)((32 - address % 32) % 32 / (nuint)sizeof(T));
    }

    /// <summary>The scalar formula; NaN stays NaN and ±infinity saturates to the ends of the range.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Quantize<T>(T x, T scale, T inverse, T zeroPoint, T quantMin, T quantMax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T q = T.Round(x * inverse, MidpointRounding.ToEven) + zeroPoint;
        if (q < quantMin) q = quantMin;
        else if (q > quantMax) q = quantMax;
        return (q - zeroPoint) * scale;
    }

    /// <summary>The same formula, also giving the integer code and whether the code was clamped (for metrics).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Quantize<T>(T x, in Grid<T> grid, out T code, out bool clamped)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        T unclamped = T.Round(x * grid.Inverse, MidpointRounding.ToEven) + grid.ZeroPoint;
        code = T.Clamp(unclamped, grid.QuantMin, grid.QuantMax);
        clamped = code != unclamped;
        return (code - grid.ZeroPoint) * grid.Scale;
    }

    /// <summary>The vector formula of finite lanes (<see cref="Apply{T}"/>'s, used by the selection's error sums too).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Quantize<T>(Vector256<T> x, Vector256<T> scale, Vector256<T> inverse, Vector256<T> zeroPoint,
                                            Vector256<T> quantMin, Vector256<T> quantMax)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        (Code(x, inverse, zeroPoint, quantMin, quantMax) - zeroPoint) * scale;

    /// <summary>The clamped code of each lane, clamp(round_half_even(x * inv) + z, qmin, qmax) (finite lanes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Code<T>(Vector256<T> x, Vector256<T> inverse, Vector256<T> zeroPoint, Vector256<T> quantMin, Vector256<T> quantMax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var q = RoundHalfEven(x * inverse) + zeroPoint;
        return Vector256.MinNative(Vector256.MaxNative(q, quantMin), quantMax);
    }

    /// <summary>
    /// <see cref="Apply{T}"/> of one run of finite float32 values on one grid (a run short of <see cref="NonTemporalBytes"/>),
    /// giving the codes <see cref="QuantizationPlan.Encode{T}"/> gives instead of the fake values: the same arithmetic,
    /// and the error sums added into <paramref name="stats"/> in the same order, so the totals are bit for bit Apply's.
    /// Returns false, having added nothing, when a value is not finite (Apply's sums then take another route).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe bool ApplyCodes(float* src, int length, in Grid<float> grid, int* codes, ref KernelStats stats)
    {
        var acc = new Accumulator();
        int i = 0;
        if (Vector256.IsHardwareAccelerated && length >= Vector256<float>.Count)
        {
            var scale = Vector256.Create(grid.Scale);
            var inverse = Vector256.Create(grid.Inverse);
            var zero = Vector256.Create(grid.ZeroPoint);
            var qmin = Vector256.Create(grid.QuantMin);
            var qmax = Vector256.Create(grid.QuantMax);
            var maxFinite = Vector256.Create(float.MaxValue);
            var error = Vector256<double>.Zero;
            var signal = Vector256<double>.Zero;
            while (i <= length - Vector256<float>.Count)
            {
                int blockEnd = Math.Min(length - Vector256<float>.Count, i + (BlockVectors - 1) * Vector256<float>.Count);
                var blockError = Vector256<float>.Zero;
                var blockSignal = Vector256<float>.Zero;
                var allFinite = Vector256<float>.AllBitsSet;
                for (; i <= blockEnd; i += Vector256<float>.Count)
                {
                    var x = Vector256.Load(src + i);
                    var q = Code(x, inverse, zero, qmin, qmax);
                    Vector256.ConvertToInt32(q).Store(codes + i);
                    Accumulate(x, (q - zero) * scale, maxFinite, ref blockError, ref blockSignal, ref allFinite);
                }
                if (allFinite.AsInt32() != Vector256<int>.AllBitsSet) return false;
                error += Widened(blockError);
                signal += Widened(blockSignal);
            }
            acc.AddVectorSums(error, signal);
        }
        for (; i < length; i++)
        {
            float x = src[i];
            if (!float.IsFinite(x)) return false;
            float q = float.Round(x * grid.Inverse, MidpointRounding.ToEven) + grid.ZeroPoint;
            if (q < grid.QuantMin) q = grid.QuantMin;
            else if (q > grid.QuantMax) q = grid.QuantMax;
            codes[i] = (int)q;
            acc.Add(x, (q - grid.ZeroPoint) * grid.Scale);
        }
        acc.MergeInto(ref stats, length);
        return true;
    }

    /// <summary>
    /// <see cref="ApplyCodes"/> of a run of finite float32 values whose length is a multiple of 32, for 4-bit codes: each
    /// code plus <paramref name="offset"/> (as 4 unsigned bits) packed eight to a little-endian word, element i at bit 4i
    /// (<c>CompressedTensorsWriter.PackRow</c>'s layout), into <paramref name="words"/> (length / 8 of them). The codes and
    /// the error sums are ApplyCodes' own: the same arithmetic, each block's sums added in the same order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void ApplyCodesPackFour(float* src, int length, in Grid<float> grid, int offset, uint* words, ref KernelStats stats)
    {
        if (length % 32 != 0 || !Avx2.IsSupported) throw new ArgumentException("A multiple of 32 values, on a CPU with AVX2.", nameof(length));
        var acc = new Accumulator();
        var scale = Vector256.Create(grid.Scale);
        var inverse = Vector256.Create(grid.Inverse);
        var zero = Vector256.Create(grid.ZeroPoint);
        var qmin = Vector256.Create(grid.QuantMin);
        var qmax = Vector256.Create(grid.QuantMax);
        var add = Vector256.Create(offset);
        var mask = Vector256.Create(15);
        var shifts = Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28);
        var error = Vector256<double>.Zero;
        var signal = Vector256<double>.Zero;
        int i = 0;
        while (i < length)
        {
            int blockEnd = Math.Min(length, i + BlockVectors * Vector256<float>.Count);
            var blockError = Vector256<float>.Zero;
            var blockSignal = Vector256<float>.Zero;
            for (; i < blockEnd; i += 4 * Vector256<float>.Count)
            {
                var x0 = Vector256.Load(src + i);
                var x1 = Vector256.Load(src + i + 8);
                var x2 = Vector256.Load(src + i + 16);
                var x3 = Vector256.Load(src + i + 24);
                var q0 = Code(x0, inverse, zero, qmin, qmax);
                var q1 = Code(x1, inverse, zero, qmin, qmax);
                var q2 = Code(x2, inverse, zero, qmin, qmax);
                var q3 = Code(x3, inverse, zero, qmin, qmax);
                // The sums in element order, one vector after another, as ApplyCodes adds them.
                AddSquares(x0, (q0 - zero) * scale, ref blockError, ref blockSignal);
                AddSquares(x1, (q1 - zero) * scale, ref blockError, ref blockSignal);
                AddSquares(x2, (q2 - zero) * scale, ref blockError, ref blockSignal);
                AddSquares(x3, (q3 - zero) * scale, ref blockError, ref blockSignal);
                // Each vector's eight nibbles shifted into place; the four words are their sums (the bits do not overlap).
                var s0 = Avx2.ShiftLeftLogicalVariable(((Vector256.ConvertToInt32(q0) + add) & mask).AsUInt32(), shifts).AsInt32();
                var s1 = Avx2.ShiftLeftLogicalVariable(((Vector256.ConvertToInt32(q1) + add) & mask).AsUInt32(), shifts).AsInt32();
                var s2 = Avx2.ShiftLeftLogicalVariable(((Vector256.ConvertToInt32(q2) + add) & mask).AsUInt32(), shifts).AsInt32();
                var s3 = Avx2.ShiftLeftLogicalVariable(((Vector256.ConvertToInt32(q3) + add) & mask).AsUInt32(), shifts).AsInt32();
                var sums = Avx2.HorizontalAdd(Avx2.HorizontalAdd(s0, s1), Avx2.HorizontalAdd(s2, s3));
                (sums.GetLower() + sums.GetUpper()).AsUInt32().Store(words + i / 8);
            }
            error += Widened(blockError);
            signal += Widened(blockSignal);
        }
        acc.AddVectorSums(error, signal);
        acc.MergeInto(ref stats, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> RoundHalfEven<T>(Vector256<T> value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.Round(value.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Round(value.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    // Vectors whose squared errors are summed in the element type before being added into float64: short enough
    // that a float32 partial sum loses nothing that matters for a reported MSE or SQNR.
    internal const int BlockVectors = 16;

    /// <summary>Adds one vector's squared error and squared signal to the block sums and notes any non-finite lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Accumulate<T>(Vector256<T> x, Vector256<T> y, Vector256<T> maxFinite,
                                      ref Vector256<T> blockError, ref Vector256<T> blockSignal, ref Vector256<T> allFinite)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        allFinite &= Vector256.LessThanOrEqual(Vector256.Abs(x), maxFinite);
        AddSquares(x, y, ref blockError, ref blockSignal);
    }

    /// <summary><see cref="Accumulate{T}"/>'s sums without its finite check: (x - y)² into the error, x² into the signal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSquares<T>(Vector256<T> x, Vector256<T> y, ref Vector256<T> blockError, ref Vector256<T> blockSignal)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = x - y;
        blockError = MultiplyAdd(d, d, blockError);
        blockSignal = MultiplyAdd(x, x, blockSignal);
    }

    /// <summary>
    /// Adds a block's sums into float64, or, when the block held NaN or ±inf (rare), counts them and sums its finite
    /// elements one by one instead.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void EndBlock<T>(Vector256<T> blockError, Vector256<T> blockSignal, Vector256<T> allFinite,
                                           ref Vector256<double> error, ref Vector256<double> signal, ref Accumulator acc,
                                           T* src, T* dst, int blockStart, int blockEnd)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (allFinite.AsInt32() == Vector256<int>.AllBitsSet) // compared as integers: the all-ones float pattern is a NaN
        {
            error += Widened(blockError);
            signal += Widened(blockSignal);
        }
        else
        {
            for (int k = blockStart; k < blockEnd; k++) acc.Add(src[k], dst[k]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> MultiplyAdd<T>(Vector256<T> a, Vector256<T> b, Vector256<T> addend) where T : unmanaged
    {
        if (Fma.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Fma.MultiplyAdd(a.AsSingle(), b.AsSingle(), addend.AsSingle()).As<float, T>();
            if (typeof(T) == typeof(double)) return Fma.MultiplyAdd(a.AsDouble(), b.AsDouble(), addend.AsDouble()).As<double, T>();
        }
        return a * b + addend;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Widened<T>(Vector256<T> block) where T : unmanaged
    {
        if (typeof(T) == typeof(double)) return block.AsDouble();
        var (low, high) = Vector256.Widen(block.AsSingle());
        return low + high;
    }

    /// <summary>Error sums of the scalar head and tail plus the vector loop's totals.</summary>
    internal struct Accumulator
    {
        private double _error, _signal;
        public long NonFinite;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (!T.IsFinite(x)) { NonFinite++; return; }
            double xd = double.CreateTruncating(x);
            double d = xd - double.CreateTruncating(y);
            _error += d * d;
            _signal += xd * xd;
        }

        public void AddVectorSums(Vector256<double> error, Vector256<double> signal)
        {
            _error += Vector256.Sum(error);
            _signal += Vector256.Sum(signal);
        }

        public readonly void MergeInto(ref KernelStats stats, int length)
        {
            stats.NonFinite += NonFinite;
            stats.Finite += length - NonFinite;
            stats.SumSquaredError += _error;
            stats.SumSquaredSignal += _signal;
        }
    }
}
