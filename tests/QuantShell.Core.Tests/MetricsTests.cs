using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

public sealed class MetricsTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-metrics-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void Measure_PerTensor_CountsClippingLevelsAndErrors()
    {
        // 3-bit signed, t = 1: s = 0.25, grid -1 .. 0.75
        var q = new ActivationSymmetricInferableQuantizer(numBits: 3, threshold: 1.0);
        var x = new float[] { 0f, 0.1f, 0.25f, 0.8f, 2f, -3f };
        var report = QuantizationMetrics.Measure(new NpyArray(new long[] { 6 }, x), q, "x.npy");
        var expectedY = new[] { 0f, 0f, 0.25f, 0.75f, 0.75f, -1f };
        var errors = x.Zip(expectedY, (a, b) => Math.Abs((double)a - b)).ToArray();
        Assert.Equal(errors.Select(e => e * e).Average(), report.Mse, 12);
        Assert.Equal(errors.Average(), report.Mae, 12);
        Assert.Equal(2.0, report.MaxError, 12);
        Assert.Equal(2.0 / 6, report.ClippedFraction, 12); // 2 and -3 lie outside [-1.125, 0.875)
        Assert.Equal(4, report.DistinctLevels); // 0, 1, 3, -4
        Assert.Equal(8, report.LevelsAvailable);
        Assert.Equal(-1.0, report.RangeMin);
        Assert.Equal(0.75, report.RangeMax);
        Assert.Empty(report.Channels);
    }

    [Fact]
    public void Measure_PerChannel_ReportsEachChannel()
    {
        var q = new WeightsPOTInferableQuantizer(numBits: 4, threshold: new[] { 1.0, 4.0 }, perChannel: true, channelAxis: 0);
        var x = new float[] { 0.5f, 3f, 0.5f, 3f };
        var report = QuantizationMetrics.Measure(new NpyArray(new long[] { 2, 2 }, x), q, "x.npy");
        Assert.Equal(2, report.Channels.Count);
        Assert.Equal(0.5, report.Channels[0].ClippedFraction); // 3 > 1 - 1/8
        Assert.Equal(0.0, report.Channels[1].ClippedFraction);
        Assert.Equal(double.PositiveInfinity, report.Channels[1].SqnrDb);
        Assert.Equal(0.25, report.ClippedFraction);
        Assert.Null(report.Scale);
    }
}
