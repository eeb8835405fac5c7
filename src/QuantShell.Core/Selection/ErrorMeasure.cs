using System.Numerics;
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

    /// <summary>Mean error of <paramref name="values"/> on the grid (lower is better); non-finite values are skipped.</summary>
    public double Mean<T>(ReadOnlySpan<T> values, in Grid<T> grid) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
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
