using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace QuantShell.Core.Kernels;

/// <summary>One (scale, zero point) grid in the element type: scale and its float32 reciprocal are float32 values.</summary>
public readonly struct Grid<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    public Grid(float scale, int zeroPoint, int quantMin, int quantMax)
    {
        Scale = T.CreateChecked(scale);
        Inverse = T.CreateChecked(1.0f / scale); // PyTorch: float inv_scale = 1.0f / scale, once per scale
        ZeroPoint = T.CreateChecked(zeroPoint);
        QuantMin = T.CreateChecked(quantMin);
        QuantMax = T.CreateChecked(quantMax);
    }

    public T Scale { get; }
    public T Inverse { get; }
    public T ZeroPoint { get; }
    public T QuantMin { get; }
    public T QuantMax { get; }
}

/// <summary>
/// PyTorch's CPU fake-quantize arithmetic in one fused pass: y = (clamp(round_half_even(x * inv) + z, qmin, qmax) - z) * s,
/// with the product in the element's precision. The same pass counts non-finite inputs and sums the error.
/// All values on the grid are small integers, so adding, clamping and subtracting z in floating point is exact.
/// </summary>
public static class FakeQuantizeKernel
{
    /// <summary>Quantizes <paramref name="source"/> into <paramref name="destination"/> (same length; they may be the same memory) on one grid.</summary>
    public static void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, in Grid<T> grid, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (destination.Length < source.Length) throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        int length = source.Length;
        ref T src = ref MemoryMarshal.GetReference(source);
        ref T dst = ref MemoryMarshal.GetReference(destination);
        var acc = new Accumulator();
        int i = 0;
        if (Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count)
        {
            var scale = Vector256.Create(grid.Scale);
            var inverse = Vector256.Create(grid.Inverse);
            var zero = Vector256.Create(grid.ZeroPoint);
            var qmin = Vector256.Create(grid.QuantMin);
            var qmax = Vector256.Create(grid.QuantMax);
            for (; i <= length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var x = Vector256.LoadUnsafe(ref src, (nuint)i);
                var y = Quantize(x, scale, inverse, zero, qmin, qmax);
                acc.Add(x, y);
                y.StoreUnsafe(ref dst, (nuint)i);
            }
        }
        for (; i < length; i++)
        {
            T x = Unsafe.Add(ref src, i);
            T y = Quantize(x, grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax);
            acc.Add(x, y);
            Unsafe.Add(ref dst, i) = y;
        }
        if (acc.NonFinite > 0)
        {
            // The vector clamp does not keep NaN; redo the non-finite elements with the scalar formula.
            for (int k = 0; k < length; k++)
            {
                T x = Unsafe.Add(ref src, k);
                if (!T.IsFinite(x)) Unsafe.Add(ref dst, k) = Quantize(x, grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax);
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
    public static void ApplyPeriodic<T>(ReadOnlySpan<T> source, Span<T> destination, PeriodicGrids<T> table, int phase, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (destination.Length < source.Length) throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        int length = source.Length;
        int period = table.Period;
        ref T src = ref MemoryMarshal.GetReference(source);
        ref T dst = ref MemoryMarshal.GetReference(destination);
        ref T scales = ref MemoryMarshal.GetArrayDataReference(table.Scales);
        ref T inverses = ref MemoryMarshal.GetArrayDataReference(table.Inverses);
        ref T zeros = ref MemoryMarshal.GetArrayDataReference(table.ZeroPoints);
        T qminScalar = table.QuantMin, qmaxScalar = table.QuantMax;
        var acc = new Accumulator();
        int i = 0;
        int at = phase;
        if (Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count)
        {
            var qmin = Vector256.Create(qminScalar);
            var qmax = Vector256.Create(qmaxScalar);
            for (; i <= length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var x = Vector256.LoadUnsafe(ref src, (nuint)i);
                var y = Quantize(x, Vector256.LoadUnsafe(ref scales, (nuint)at), Vector256.LoadUnsafe(ref inverses, (nuint)at),
                                 Vector256.LoadUnsafe(ref zeros, (nuint)at), qmin, qmax);
                acc.Add(x, y);
                y.StoreUnsafe(ref dst, (nuint)i);
                at += Vector256<T>.Count;
                while (at >= period) at -= period;
            }
        }
        for (; i < length; i++)
        {
            T x = Unsafe.Add(ref src, i);
            T y = Quantize(x, Unsafe.Add(ref scales, at), Unsafe.Add(ref inverses, at), Unsafe.Add(ref zeros, at), qminScalar, qmaxScalar);
            acc.Add(x, y);
            Unsafe.Add(ref dst, i) = y;
            if (++at == period) at = 0;
        }
        if (acc.NonFinite > 0)
        {
            at = phase;
            for (int k = 0; k < length; k++)
            {
                T x = Unsafe.Add(ref src, k);
                if (!T.IsFinite(x))
                    Unsafe.Add(ref dst, k) = Quantize(x, Unsafe.Add(ref scales, at), Unsafe.Add(ref inverses, at), Unsafe.Add(ref zeros, at), qminScalar, qmaxScalar);
                if (++at == period) at = 0;
            }
        }
        acc.MergeInto(ref stats, length);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Quantize<T>(Vector256<T> x, Vector256<T> scale, Vector256<T> inverse, Vector256<T> zeroPoint,
                                            Vector256<T> quantMin, Vector256<T> quantMax)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var q = RoundHalfEven(x * inverse) + zeroPoint;
        q = Vector256.MinNative(Vector256.MaxNative(q, quantMin), quantMax);
        return (q - zeroPoint) * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> RoundHalfEven<T>(Vector256<T> value) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return Vector256.Round(value.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Round(value.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Error sums in float64 over finite lanes, kept in registers for the length of one call.</summary>
    private struct Accumulator
    {
        private Vector256<double> _error0, _error1, _signal0, _signal1;
        private double _scalarError, _scalarSignal;
        public long NonFinite;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add<T>(Vector256<T> x, Vector256<T> y) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
        {
            var finite = Vector256.LessThanOrEqual(Vector256.Abs(x), Vector256.Create(T.MaxValue));
            NonFinite += Vector256<T>.Count - BitOperations.PopCount(finite.ExtractMostSignificantBits());
            x &= finite;
            y &= finite;
            if (typeof(T) == typeof(float))
            {
                var (xLow, xHigh) = Vector256.Widen(x.AsSingle());
                var (yLow, yHigh) = Vector256.Widen(y.AsSingle());
                var dLow = xLow - yLow;
                var dHigh = xHigh - yHigh;
                _error0 += dLow * dLow;
                _error1 += dHigh * dHigh;
                _signal0 += xLow * xLow;
                _signal1 += xHigh * xHigh;
            }
            else
            {
                var xd = x.AsDouble();
                var d = xd - y.AsDouble();
                _error0 += d * d;
                _signal0 += xd * xd;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Add<T>(T x, T y) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (!T.IsFinite(x)) { NonFinite++; return; }
            double xd = double.CreateTruncating(x);
            double d = xd - double.CreateTruncating(y);
            _scalarError += d * d;
            _scalarSignal += xd * xd;
        }

        public readonly void MergeInto(ref KernelStats stats, int length)
        {
            stats.NonFinite += NonFinite;
            stats.Finite += length - NonFinite;
            stats.SumSquaredError += Vector256.Sum(_error0 + _error1) + _scalarError;
            stats.SumSquaredSignal += Vector256.Sum(_signal0 + _signal1) + _scalarSignal;
        }
    }
}

/// <summary>Per-element grid tables for <see cref="FakeQuantizeKernel.ApplyPeriodic{T}"/>.</summary>
public sealed class PeriodicGrids<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    public PeriodicGrids(IReadOnlyList<Grid<T>> pattern)
    {
        Period = pattern.Count;
        int padded = Period + Vector256<T>.Count;
        Scales = new T[padded];
        Inverses = new T[padded];
        ZeroPoints = new T[padded];
        for (int i = 0; i < padded; i++)
        {
            var grid = pattern[i % Period];
            Scales[i] = grid.Scale;
            Inverses[i] = grid.Inverse;
            ZeroPoints[i] = grid.ZeroPoint;
        }
        QuantMin = pattern[0].QuantMin;
        QuantMax = pattern[0].QuantMax;
    }

    public int Period { get; }
    internal T[] Scales { get; }
    internal T[] Inverses { get; }
    internal T[] ZeroPoints { get; }
    public T QuantMin { get; }
    public T QuantMax { get; }
}
