using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using QuantShell.Core.Kernels;

namespace QuantShell.Core.Selection;

/// <summary>The error of quantizing values on one grid, with exactly the kernel's arithmetic.</summary>
internal readonly struct ErrorMeasure
{
    private readonly ErrorMethod _method;
    private readonly double _p;

    public ErrorMeasure(ErrorMethod method, double p)
    {
        _method = method == ErrorMethod.Lp && p == 2 ? ErrorMethod.Mse : method == ErrorMethod.Lp && p == 1 ? ErrorMethod.Mae : method;
        _p = p;
    }

    /// <summary>Whether the error is the mean of squares (Mse, or Lp with p = 2).</summary>
    public bool IsSquared => _method == ErrorMethod.Mse;

    /// <summary>Mean error of <paramref name="values"/> on the grid (lower is better); non-finite values are skipped.</summary>
    /// <remarks><paramref name="finiteCount"/>: how many of <paramref name="values"/> are finite, when the caller knows (counted here otherwise).</remarks>
    public double Mean<T>(ReadOnlySpan<T> values, in Grid<T> grid, long? finiteCount = null) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        // Selection scores hundreds of candidates on every value: quantize with the vector kernel, sum in four lanes.
        if (Vectorized(values))
        {
            Span<double> mean = stackalloc double[1];
            MeanManyVectorized(values, new ReadOnlySpan<Grid<T>>(in grid), mean, finiteCount);
            return mean[0];
        }
        double sum = 0;
        long count = 0;
        T scale = grid.Scale, inverse = grid.Inverse, zero = grid.ZeroPoint, qmin = grid.QuantMin, qmax = grid.QuantMax;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double error = Math.Abs(double.CreateTruncating(x) - double.CreateTruncating(FakeQuantizeKernel.Quantize(x, scale, inverse, zero, qmin, qmax)));
            sum += _method switch
            {
                ErrorMethod.Mse => error * error,
                ErrorMethod.Mae => error,
                _ => Math.Pow(error, _p),
            };
            count++;
        }
        return count == 0 ? 0 : sum / count;
    }

    /// <summary>Whether the errors are summed in float64 vector lanes (<see cref="MeanManyVectorized"/>): Mse and Mae of float32 or float64 values, 64 or more.</summary>
    private bool Vectorized<T>(ReadOnlySpan<T> values) =>
        _method is ErrorMethod.Mse or ErrorMethod.Mae && Vector256.IsHardwareAccelerated && values.Length >= 64 && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    /// <summary>
    /// The errors <see cref="Mean{T}(ReadOnlySpan{T}, in Grid{T}, long?)"/> gives for each of <paramref name="grids"/>, bit for bit,
    /// computed together: each chunk of values is quantized on every grid while it is in the cache, and each grid's error
    /// summed in the same lanes and order as alone.
    /// </summary>
    /// <remarks><paramref name="finiteCount"/>: how many of <paramref name="values"/> are finite, when the caller knows (counted here otherwise).</remarks>
    public void MeanMany<T>(ReadOnlySpan<T> values, ReadOnlySpan<Grid<T>> grids, Span<double> means, long? finiteCount = null) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (means.Length != grids.Length) throw new ArgumentException("One mean per grid.", nameof(means));
        if (Vectorized(values))
        {
            MeanManyVectorized(values, grids, means, finiteCount);
            return;
        }
        if (AcrossGrids<T>(grids.Length))
        {
            MeanManyAcross(values, grids, means);
            return;
        }
        for (int g = 0; g < grids.Length; g++) means[g] = Mean(values, grids[g]);
    }

    /// <summary>Whether few values' errors on several grids are summed a grid a vector lane (<see cref="MeanManyAcross"/>): Mse and Mae of float32 or float64 values.</summary>
    private bool AcrossGrids<T>(int grids) =>
        _method is ErrorMethod.Mse or ErrorMethod.Mae && Vector256.IsHardwareAccelerated && grids >= 2 && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    // Values too few for MeanManyVectorized (fewer than 64: a small channel of a model), many grids: each grid's error is
    // Mean's scalar sum, value after value in float64, but a vector holds one grid a lane (eight float32 grids, four
    // float64 ones) and each value is quantized on all of them at once. The vector formula is the scalar one on finite
    // values (the kernel's, lane by lane), and each lane adds its terms in Mean's order, so every mean is Mean's bit for bit.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeanManyAcross<T>(ReadOnlySpan<T> values, ReadOnlySpan<Grid<T>> grids, Span<double> means) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        bool squared = _method == ErrorMethod.Mse;
        long count = 0;
        foreach (T x in values)
            if (T.IsFinite(x)) count++;
        int lanes = Vector256<T>.Count;
        Span<T> scales = stackalloc T[lanes], inverses = stackalloc T[lanes], zeros = stackalloc T[lanes], mins = stackalloc T[lanes], maxs = stackalloc T[lanes];
        Span<double> sums = stackalloc double[2 * Vector256<double>.Count];
        for (int first = 0; first < grids.Length; first += lanes)
        {
            // Lanes past the last grid repeat it (their sums are not read).
            for (int lane = 0; lane < lanes; lane++)
            {
                ref readonly var grid = ref grids[Math.Min(first + lane, grids.Length - 1)];
                (scales[lane], inverses[lane], zeros[lane], mins[lane], maxs[lane]) = (grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax);
            }
            var scale = Vector256.Create<T>(scales);
            var inverse = Vector256.Create<T>(inverses);
            var zero = Vector256.Create<T>(zeros);
            var qmin = Vector256.Create<T>(mins);
            var qmax = Vector256.Create<T>(maxs);
            Vector256<double> low = Vector256<double>.Zero, high = Vector256<double>.Zero;
            foreach (T x in values)
            {
                if (!T.IsFinite(x)) continue;
                var q = FakeQuantizeKernel.Quantize(Vector256.Create(x), scale, inverse, zero, qmin, qmax);
                var wide = Vector256.Create(double.CreateTruncating(x));
                if (typeof(T) == typeof(float))
                {
                    var (qLow, qHigh) = Vector256.Widen(q.AsSingle());
                    var dLow = wide - qLow;
                    var dHigh = wide - qHigh;
                    low += squared ? dLow * dLow : Vector256.Abs(dLow);
                    high += squared ? dHigh * dHigh : Vector256.Abs(dHigh);
                }
                else
                {
                    var d = wide - q.AsDouble();
                    low += squared ? d * d : Vector256.Abs(d);
                }
            }
            low.CopyTo(sums);
            high.CopyTo(sums[Vector256<double>.Count..]);
            for (int lane = 0; lane < lanes && first + lane < grids.Length; lane++) means[first + lane] = count == 0 ? 0 : sums[lane] / count;
        }
    }

    // Several grids' errors in float64 lanes, each grid's in the same lanes and order as alone. The kernel's vector formula is
    // applied in registers (what Apply computes for finite lanes; the others are masked out), the last values of the
    // tail with its scalar formula, as Apply's tail. Chunks of 2048 values stay in the cache while every grid takes them.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MeanManyVectorized<T>(ReadOnlySpan<T> values, ReadOnlySpan<Grid<T>> grids, Span<double> means, long? knownFinite = null) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        const int chunk = 2048;
        int count = grids.Length;
        Span<Vector256<double>> sums = count <= 64 ? stackalloc Vector256<double>[count] : new Vector256<double>[count];
        sums.Clear();
        bool squared = _method == ErrorMethod.Mse;
        int vectorEnd = values.Length - values.Length % Vector256<T>.Count;
        long finiteCount = knownFinite ?? FiniteCount(values);
        // Every value finite: the lanes' finite masks are all ones, and leaving them out changes no bit.
        bool allFinite = finiteCount == values.Length;
        ref T first = ref MemoryMarshal.GetReference(values);
        for (int start = 0; start < vectorEnd; start += chunk)
        {
            int end = Math.Min(vectorEnd, start + chunk);
            for (int g = 0; g < count; g++)
            {
                ref readonly var grid = ref grids[g];
                var scale = Vector256.Create(grid.Scale);
                var inverse = Vector256.Create(grid.Inverse);
                var zero = Vector256.Create(grid.ZeroPoint);
                var qmin = Vector256.Create(grid.QuantMin);
                var qmax = Vector256.Create(grid.QuantMax);
                var sum = sums[g];
                if (allFinite)
                {
                    for (int i = start; i < end; i += Vector256<T>.Count)
                    {
                        var vx = Vector256.LoadUnsafe(ref first, (nuint)i);
                        sum += FiniteErrorTerms(vx, FakeQuantizeKernel.Quantize(vx, scale, inverse, zero, qmin, qmax), squared);
                    }
                }
                else
                {
                    for (int i = start; i < end; i += Vector256<T>.Count)
                    {
                        var vx = Vector256.LoadUnsafe(ref first, (nuint)i);
                        sum += ErrorTerms(vx, FakeQuantizeKernel.Quantize(vx, scale, inverse, zero, qmin, qmax), squared);
                    }
                }
                sums[g] = sum;
            }
        }
        for (int g = 0; g < count; g++)
        {
            var grid = grids[g];
            double tailSum = 0;
            for (int i = vectorEnd; i < values.Length; i++)
            {
                T x = values[i];
                if (!T.IsFinite(x)) continue;
                double error = Math.Abs(double.CreateTruncating(x) - double.CreateTruncating(FakeQuantizeKernel.Quantize(x, grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax)));
                tailSum += squared ? error * error : error;
            }
            means[g] = finiteCount == 0 ? 0 : (Vector256.Sum(sums[g]) + tailSum) / finiteCount;
        }
    }

    /// <summary>One vector's terms as MeanManyVectorized adds them to its float64 lanes (non-finite lanes 0): float32 lanes widened, the halves added first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> ErrorTerms<T>(Vector256<T> vx, Vector256<T> vy, bool squared) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var x = vx.AsSingle();
            var finite = Vector256.Equals(x - x, Vector256<float>.Zero);
            var (finiteLow, finiteHigh) = Vector256.Widen(finite.AsInt32());
            var (xLow, xHigh) = Vector256.Widen(x);
            var (yLow, yHigh) = Vector256.Widen(vy.AsSingle());
            // A square needs no |d| (the same bits either way).
            var dLow = (squared ? xLow - yLow : Vector256.Abs(xLow - yLow)) & finiteLow.AsDouble();
            var dHigh = (squared ? xHigh - yHigh : Vector256.Abs(xHigh - yHigh)) & finiteHigh.AsDouble();
            return squared ? dLow * dLow + dHigh * dHigh : dLow + dHigh;
        }
        var xd = vx.AsDouble();
        var d = (squared ? xd - vy.AsDouble() : Vector256.Abs(xd - vy.AsDouble())) & Vector256.Equals(xd - xd, Vector256<double>.Zero);
        return squared ? d * d : d;
    }

    /// <summary><see cref="ErrorTerms{T}"/> of a vector whose lanes are all finite (no mask: the same terms).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> FiniteErrorTerms<T>(Vector256<T> vx, Vector256<T> vy, bool squared) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            var (xLow, xHigh) = Vector256.Widen(vx.AsSingle());
            var (yLow, yHigh) = Vector256.Widen(vy.AsSingle());
            var dLow = xLow - yLow;
            var dHigh = xHigh - yHigh;
            return squared ? dLow * dLow + dHigh * dHigh : Vector256.Abs(dLow) + Vector256.Abs(dHigh);
        }
        var d = vx.AsDouble() - vy.AsDouble();
        return squared ? d * d : Vector256.Abs(d);
    }

    /// <summary>How many values are finite (x - x is 0 exactly then).</summary>
    public static long FiniteCount<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var lanes = Vector256<long>.Zero;
        int i = 0;
        ref T first = ref MemoryMarshal.GetReference(values);
        for (; i <= values.Length - Vector256<T>.Count; i += Vector256<T>.Count)
        {
            var v = Vector256.LoadUnsafe(ref first, (nuint)i);
            var finite = Vector256.Equals(v - v, Vector256<T>.Zero);
            if (typeof(T) == typeof(float))
            {
                var (low, high) = Vector256.Widen(finite.AsInt32());
                lanes -= low + high;
            }
            else
            {
                lanes -= finite.AsInt64();
            }
        }
        long count = Vector256.Sum(lanes);
        for (; i < values.Length; i++)
            if (T.IsFinite(values[i])) count++;
        return count;
    }

    /// <summary>Mean error between <paramref name="values"/> and their already quantized <paramref name="quantized"/>; non-finite values are skipped.</summary>
    public double Mean<T>(ReadOnlySpan<T> values, ReadOnlySpan<T> quantized) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double sum = 0;
        long count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            T x = values[i];
            if (!T.IsFinite(x)) continue;
            double error = Math.Abs(double.CreateTruncating(x) - double.CreateTruncating(quantized[i]));
            sum += _method switch
            {
                ErrorMethod.Mse => error * error,
                ErrorMethod.Mae => error,
                _ => Math.Pow(error, _p),
            };
            count++;
        }
        return count == 0 ? 0 : sum / count;
    }
}
