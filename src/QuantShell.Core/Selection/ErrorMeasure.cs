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
    public double Mean<T>(ReadOnlySpan<T> values, in Grid<T> grid) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        // Selection scores hundreds of candidates on every value: quantize with the vector kernel, sum in four lanes.
        if (_method is ErrorMethod.Mse or ErrorMethod.Mae && Vector256.IsHardwareAccelerated && values.Length >= 64)
        {
            if (typeof(T) == typeof(float))
                return MeanVectorized(MemoryMarshal.Cast<T, float>(values), Unsafe.As<Grid<T>, Grid<float>>(ref Unsafe.AsRef(in grid)));
            if (typeof(T) == typeof(double))
                return MeanVectorized(MemoryMarshal.Cast<T, double>(values), Unsafe.As<Grid<T>, Grid<double>>(ref Unsafe.AsRef(in grid)));
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

    private double MeanVectorized(ReadOnlySpan<float> values, in Grid<float> grid)
    {
        const int chunk = 2048;
        Span<float> quantized = stackalloc float[chunk];
        var sum = Vector256<double>.Zero;
        var count = Vector256<long>.Zero;
        bool squared = _method == ErrorMethod.Mse;
        double tailSum = 0;
        long tailCount = 0;
        var stats = new KernelStats();
        for (int start = 0; start < values.Length; start += chunk)
        {
            var x = values.Slice(start, Math.Min(chunk, values.Length - start));
            var y = quantized[..x.Length];
            FakeQuantizeKernel.Apply(x, y, grid, ref stats);
            int i = 0;
            for (; i + Vector256<float>.Count <= x.Length; i += Vector256<float>.Count)
            {
                var vx = Vector256.Create(x.Slice(i, Vector256<float>.Count));
                var vy = Vector256.Create(y.Slice(i, Vector256<float>.Count));
                // x - x is 0 exactly when x is finite: the lanes of NaN and ±infinity are left out.
                var finite = Vector256.Equals(vx - vx, Vector256<float>.Zero);
                var (finiteLow, finiteHigh) = Vector256.Widen(finite.AsInt32());
                var (xLow, xHigh) = Vector256.Widen(vx);
                var (yLow, yHigh) = Vector256.Widen(vy);
                var dLow = Vector256.Abs(xLow - yLow) & finiteLow.AsDouble();
                var dHigh = Vector256.Abs(xHigh - yHigh) & finiteHigh.AsDouble();
                sum += squared ? dLow * dLow + dHigh * dHigh : dLow + dHigh;
                count -= finiteLow + finiteHigh; // -1 per finite lane
            }
            for (; i < x.Length; i++)
            {
                if (!float.IsFinite(x[i])) continue;
                double error = Math.Abs((double)x[i] - y[i]);
                tailSum += squared ? error * error : error;
                tailCount++;
            }
        }
        long total = Vector256.Sum(count) + tailCount;
        return total == 0 ? 0 : (Vector256.Sum(sum) + tailSum) / total;
    }

    private double MeanVectorized(ReadOnlySpan<double> values, in Grid<double> grid)
    {
        const int chunk = 1024;
        Span<double> quantized = stackalloc double[chunk];
        var sum = Vector256<double>.Zero;
        var count = Vector256<long>.Zero;
        bool squared = _method == ErrorMethod.Mse;
        double tailSum = 0;
        long tailCount = 0;
        var stats = new KernelStats();
        for (int start = 0; start < values.Length; start += chunk)
        {
            var x = values.Slice(start, Math.Min(chunk, values.Length - start));
            var y = quantized[..x.Length];
            FakeQuantizeKernel.Apply(x, y, grid, ref stats);
            int i = 0;
            for (; i + Vector256<double>.Count <= x.Length; i += Vector256<double>.Count)
            {
                var vx = Vector256.Create(x.Slice(i, Vector256<double>.Count));
                var vy = Vector256.Create(y.Slice(i, Vector256<double>.Count));
                var finite = Vector256.Equals(vx - vx, Vector256<double>.Zero);
                var d = Vector256.Abs(vx - vy) & finite;
                sum += squared ? d * d : d;
                count -= finite.AsInt64();
            }
            for (; i < x.Length; i++)
            {
                if (!double.IsFinite(x[i])) continue;
                double error = Math.Abs(x[i] - y[i]);
                tailSum += squared ? error * error : error;
                tailCount++;
            }
        }
        long total = Vector256.Sum(count) + tailCount;
        return total == 0 ? 0 : (Vector256.Sum(sum) + tailSum) / total;
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
