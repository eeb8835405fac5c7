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

    public static TheoryData<ErrorMethod, int, bool> ManyCases()
    {
        var data = new TheoryData<ErrorMethod, int, bool>();
        foreach (var method in new[] { ErrorMethod.Mse, ErrorMethod.Mae, ErrorMethod.Lp })
            foreach (int length in new[] { 1, 2, 5, 9, 63, 64, 67, 1024, 2048, 2049, 2055, 5003, 70_001 })
                foreach (bool asDouble in new[] { false, true })
                    data.Add(method, length, asDouble);
        return data;
    }

    [Fact]
    public void ManyCases_AreAllThere() => Assert.Equal(78, ManyCases().Count);

    [Theory]
    [MemberData(nameof(ManyCases))]
    public void ManyGridsAtOnce_EqualEachGridAloneBitForBit(ErrorMethod method, int length, bool asDouble)
    {
        // Seeded values with non-finite ones, values on rounding boundaries and beyond the grids' ends; grids of
        // several steps and zero points (the optimal search's candidates), one batch of 37 and batches of one. Fewer
        // than 64 values are summed a grid a vector lane (1 and 2 values: none finite, one finite).
        var random = new Random(length * 11 + (int)method + (asDouble ? 1000 : 0));
        var grids = Enumerable.Range(0, 37).Select(k => (Scale: (float)(0.001 + random.NextDouble() * 0.1), Zero: k % 3 == 0 ? 0 : random.Next(-20, 20),
                                                          Bits: k % 2 == 0 ? 8 : 4)).ToArray();
        var floats = Enumerable.Range(0, length).Select(i => (i % 5) switch
        {
            0 => (float)((random.NextDouble() * 2 - 1) * 20),
            1 => (float)((random.Next(-300, 300) + 0.5) * grids[i % grids.Length].Scale),
            _ => (float)(random.NextDouble() * 2 - 1),
        }).ToArray();
        floats[length / 3] = float.NaN;
        floats[length / 2] = float.PositiveInfinity;
        floats[length - 1] = float.NegativeInfinity;
        var measure = new ErrorMeasure(method, method == ErrorMethod.Lp ? 3 : 2);
        if (asDouble) Check(floats.Select(v => (double)v).ToArray());
        else Check(floats);

        void Check<T>(T[] values) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
        {
            var many = grids.Select(g => g.Bits == 8 ? new Grid<T>(g.Scale, g.Zero, -128, 127) : new Grid<T>(g.Scale, g.Zero, 0, 15)).ToArray();
            var together = new double[many.Length];
            measure.MeanMany<T>(values, many, together);
            for (int g = 0; g < many.Length; g++)
            {
                long alone = BitConverter.DoubleToInt64Bits(measure.Mean<T>(values, many[g]));
                Assert.Equal(alone, BitConverter.DoubleToInt64Bits(together[g]));
                var one = new double[1];
                measure.MeanMany<T>(values, many.AsSpan(g, 1), one);
                Assert.Equal(alone, BitConverter.DoubleToInt64Bits(one[0]));
            }
        }
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
