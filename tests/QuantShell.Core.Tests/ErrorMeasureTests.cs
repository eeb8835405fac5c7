using QuantShell.Core.Kernels;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// The vectorized error of a candidate grid (what selection scores hundreds of times per channel) against a plain
/// element-by-element sum: the same mean up to the order of the additions, non-finite values left out.
/// </summary>
public sealed class ErrorMeasureTests
{
    public static TheoryData<ErrorMethod, int> Cases()
    {
        var data = new TheoryData<ErrorMethod, int>();
        foreach (var method in new[] { ErrorMethod.Mse, ErrorMethod.Mae })
            foreach (int length in new[] { 64, 67, 2048, 2049, 5003 })
                data.Add(method, length);
        return data;
    }

    [Fact]
    public void Cases_AreAllThere() => Assert.Equal(10, Cases().Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Vectorized_EqualsTheElementwiseMean(ErrorMethod method, int length)
    {
        var random = new Random(length * 7 + (int)method);
        var floats = Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2 - 1) * 3)).ToArray();
        floats[length / 3] = float.NaN;
        floats[length / 2] = float.PositiveInfinity;
        floats[length - 1] = float.NegativeInfinity;
        var doubles = floats.Select(v => (double)v).ToArray();
        var measure = new ErrorMeasure(method, 2);
        var floatGrid = new Grid<float>(0.05f, 3, -128, 127);
        var doubleGrid = new Grid<double>(0.05f, 3, -128, 127);

        Assert.Equal(Reference(floats, floatGrid, method), measure.Mean<float>(floats, floatGrid), 1e-12);
        Assert.Equal(Reference(doubles, doubleGrid, method), measure.Mean<double>(doubles, doubleGrid), 1e-12);
    }

    private static double Reference<T>(T[] values, Grid<T> grid, ErrorMethod method)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
    {
        double sum = 0;
        int count = 0;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            double error = Math.Abs(double.CreateTruncating(x) - double.CreateTruncating(FakeQuantizeKernel.Quantize(x, grid.Scale, grid.Inverse, grid.ZeroPoint, grid.QuantMin, grid.QuantMax)));
            sum += method == ErrorMethod.Mse ? error * error : error;
            count++;
        }
        Assert.Equal(values.Length - 3, count);
        return sum / count;
    }
}
