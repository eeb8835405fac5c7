using System.Buffers.Binary;
using System.IO.Compression;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Plotting;
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

    [Fact]
    public void Plot_WritesAValidPngOfTheExpectedSize()
    {
        var random = new Random(5);
        var x = Enumerable.Range(0, 5000).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var array = new NpyArray(new long[] { x.Length }, x);
        var q = new ActivationSymmetricInferableQuantizer(numBits: 4, threshold: 0.75);
        string path = Path.Combine(_temp, "plot.png");
        HistogramPlot.Write(path, array, q, QuantizationMetrics.Measure(array, q, "x.npy"), WriteOptions.Default);
        byte[] png = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        int width = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), height = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20));
        Assert.Equal((1000, 480), (width, height));
        // The image data inflates to one filter byte plus RGB per pixel on every row.
        int idat = 8 + 25;
        int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(idat));
        Assert.Equal("IDAT", System.Text.Encoding.ASCII.GetString(png, idat + 4, 4));
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(new MemoryStream(png, idat + 8, length), CompressionMode.Decompress)) z.CopyTo(inflated);
        Assert.Equal(height * (1 + width * 3), inflated.Length);
        // There is red (clipping lines) and blue (bars) in it.
        var pixels = inflated.ToArray();
        Assert.Contains(Enumerable.Range(0, pixels.Length - 2), i => pixels[i] == 0xD6 && pixels[i + 1] == 0x27 && pixels[i + 2] == 0x28);
        Assert.Contains(Enumerable.Range(0, pixels.Length - 2), i => pixels[i] == 0x4C && pixels[i + 1] == 0x72 && pixels[i + 2] == 0xB0);
    }
}
