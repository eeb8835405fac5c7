using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Plotting;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.Plotting;

namespace QuantShell.Core.Tests;

/// <summary>
/// What a plot shows (<see cref="QuantizationFigure"/>, decided by the core) and how it is written (ScottPlot's PNG and
/// SVG, through <see cref="MeasureJob"/> and <see cref="PlotFile"/>).
/// </summary>
public sealed class PlotTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary><paramref name="channels"/> rows of <paramref name="perChannel"/> values, each row at its own scale (seeded).</summary>
    private static NpyArray Channels(int channels, int perChannel, int seed)
    {
        var random = new Random(seed);
        var values = new float[channels * perChannel];
        for (int c = 0; c < channels; c++)
        {
            double scale = 0.2 + 2 * random.NextDouble();
            for (int i = 0; i < perChannel; i++) values[c * perChannel + i] = (float)(scale * Gaussian(random));
        }
        return new NpyArray([channels, perChannel], values);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static (QuantizationFigure Figure, MeasurementResult Result) Figure(NpyArray array, InferableQuantizer quantizer)
    {
        var result = QuantizationMetrics.Measure(array, quantizer, "w.npy");
        return (QuantizationFigure.Create(array, quantizer, result), result);
    }

    /// <summary>Counts in the bins that lie wholly outside the panel's clipping bounds.</summary>
    private static long CountOutside(HistogramPanel panel)
    {
        long outside = 0;
        for (int i = 0; i < panel.Counts.Length; i++)
        {
            double left = panel.BinStart + i * panel.BinWidth, right = left + panel.BinWidth;
            double tolerance = panel.BinWidth * 1e-9;
            if (right <= panel.ClipMin + tolerance || left >= panel.ClipMax - tolerance) outside += panel.Counts[i];
        }
        return outside;
    }

    [Fact]
    public void PerTensorFigure_CountsEveryFiniteValue_AndItsClippedBinsHoldExactlyTheClippedValues()
    {
        var array = Channels(1, 20_000, seed: 21);
        var quantizer = new WeightsSymmetricInferableQuantizer(numBits: 4, threshold: [1.0], perChannel: false, signed: true);
        var (figure, result) = Figure(array, quantizer);

        var panel = Assert.Single(figure.Panels);
        Assert.Null(panel.Channel);
        Assert.Equal(result.Count, panel.Counts.Sum());
        Assert.Equal(16, panel.Levels.Length);
        // An integer grid rounds up to half a step past its end levels: clipping starts there.
        double step = 1.0 / 8;
        Assert.Equal((-1.0, 1.0 - step), (panel.RangeMin, panel.RangeMax));
        Assert.Equal(panel.RangeMin - step / 2, panel.ClipMin, 12);
        Assert.Equal(panel.RangeMax + step / 2, panel.ClipMax, 12);
        // The bounds are bin edges, so the bins beyond them hold the values the metrics call clipped, and only those.
        Assert.True(result.ClippedFraction > 0.1, $"the data should clip: {result.ClippedFraction}");
        Assert.Equal(result.ClippedFraction, (double)CountOutside(panel) / panel.Counts.Sum(), 12);
        Assert.Empty(figure.ChannelErrors);
        Assert.Null(figure.ChannelErrorsTitle);
        Assert.Contains("w.npy", figure.Title);
        Assert.Contains("symmetric 4-bit", figure.Title);
    }

    [Fact]
    public void LutFigure_ClipsAtTheTableEnds_AndListsTheTableLevels()
    {
        var array = Channels(1, 5_000, seed: 22);
        var quantizer = new WeightsLUTPOTInferableQuantizer(numBits: 2, lutValues: [-90.0, -20, 0, 35], threshold: [2.0], perChannel: false);
        var (figure, result) = Figure(array, quantizer);

        var panel = Assert.Single(figure.Panels);
        var plan = quantizer.CreatePlan(array.Shape);
        Assert.Equal(plan.LevelValues(0), panel.Levels);
        Assert.Equal((panel.RangeMin, panel.RangeMax), (panel.ClipMin, panel.ClipMax));
        Assert.Equal(plan.RangeOf(0), (panel.RangeMin, panel.RangeMax));
        Assert.Equal("table levels", figure.LevelsName);
        Assert.True(result.ClippedFraction > 0);
        Assert.Equal(result.ClippedFraction, (double)CountOutside(panel) / panel.Counts.Sum(), 12);
    }

    [Fact]
    public void PerChannelFigure_UpToSixteenChannels_HasOnePanelEach_InChannelOrder()
    {
        var array = Channels(6, 500, seed: 23);
        var quantizer = new WeightsPOTInferableQuantizer(numBits: 4, threshold: [1.0, 2.0, 4.0, 1.0, 2.0, 4.0], perChannel: true, channelAxis: 0);
        var (figure, result) = Figure(array, quantizer);

        Assert.Equal([0, 1, 2, 3, 4, 5], figure.Panels.Select(p => p.Channel!.Value));
        Assert.All(figure.Panels, p => Assert.Null(p.WorstRank));
        Assert.False(figure.ShowsWorstChannels);
        Assert.Equal(6, figure.ChannelErrors.Count);
        for (int c = 0; c < 6; c++)
        {
            var panel = figure.Panels[c];
            Assert.Equal(result.Channels[c].Count, panel.Counts.Sum());
            Assert.Equal(result.Channels[c].Mse, panel.Mse);
            Assert.Equal(result.Channels[c].ClippedFraction, (double)CountOutside(panel) / panel.Counts.Sum(), 12);
            Assert.Equal($"channel {c}", panel.Title);
        }
    }

    [Fact]
    public void PerChannelFigure_BeyondSixteenChannels_ShowsTheWorstByMse_AndSaysSo()
    {
        var array = Channels(40, 200, seed: 24);
        var quantizer = new WeightsSymmetricInferableQuantizer(numBits: 3, threshold: Enumerable.Repeat(1.5, 40).ToArray(), perChannel: true, signed: true, channelAxis: 0);
        var (figure, result) = Figure(array, quantizer);

        var worst = result.Channels.OrderByDescending(c => c.Mse).Take(QuantizationFigure.MaxChannelPanels).Select(c => c.Channel!.Value).ToArray();
        Assert.Equal(16, worst.Length);
        Assert.Equal(worst, figure.Panels.Select(p => p.Channel!.Value));
        Assert.Equal(Enumerable.Range(1, 16), figure.Panels.Select(p => p.WorstRank!.Value));
        Assert.True(figure.ShowsWorstChannels);
        Assert.Equal($"channel {worst[0]} · worst 1 of 40", figure.Panels[0].Title);
        Assert.Equal(40, figure.ChannelErrors.Count);
        Assert.Contains("16 largest", figure.ChannelErrorsTitle);
    }

    [Fact]
    public void Png_IsAValidImageOfTheFiguresSize()
    {
        var array = Channels(1, 3_000, seed: 25);
        var quantizer = new ActivationUniformInferableQuantizer(numBits: 8, minRange: [-1.5], maxRange: [2.5]);
        var (figure, _) = Figure(array, quantizer);
        using var stream = new MemoryStream();
        new ScottPlotQuantizationPlotter().Draw(figure, PlotFormat.Png, stream);
        var (width, height, pixels) = DecodePng(stream.ToArray());
        Assert.Equal((figure.Width, figure.Height), (width, height));
        Assert.Equal((1000, 560), (width, height));
        // Not a blank page: the bars' blue and the clipping line's red are drawn.
        Assert.True(pixels.Count(p => p == 0x4C72B0) > 1000, "bars");
        Assert.Contains(0xC44E52, pixels);
    }

    [Fact]
    public void Svg_IsWellFormed_OfTheFiguresSize_WithOnePanelTitlePerChannel()
    {
        var array = Channels(40, 100, seed: 26);
        var quantizer = new WeightsUniformInferableQuantizer(numBits: 4, minRange: Enumerable.Repeat(-2.0, 40).ToArray(), maxRange: Enumerable.Repeat(2.0, 40).ToArray(), perChannel: true, channelAxis: 0);
        var (figure, _) = Figure(array, quantizer);
        using var stream = new MemoryStream();
        new ScottPlotQuantizationPlotter().Draw(figure, PlotFormat.Svg, stream);

        var svg = XDocument.Parse(Encoding.UTF8.GetString(stream.ToArray()));
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", svg.Root!.Name);
        Assert.Equal(figure.Width.ToString(), svg.Root.Attribute("width")?.Value);
        Assert.Equal(figure.Height.ToString(), svg.Root.Attribute("height")?.Value);
        var texts = svg.Descendants(ns + "text").Select(t => t.Value.Trim()).ToArray();
        var titles = texts.Where(t => t.StartsWith("channel ", StringComparison.Ordinal) && t.Contains("worst")).ToArray();
        Assert.Equal(16, titles.Length);
        Assert.Equal(Enumerable.Range(1, 16).Select(r => $"worst {r} of 40"), titles.Select(t => t[(t.IndexOf("worst", StringComparison.Ordinal))..]));
        Assert.Contains(texts, t => t.StartsWith("w.npy", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("p.png", PlotFormat.Png)]
    [InlineData("P.PNG", PlotFormat.Png)]
    [InlineData("dir.x/p.svg", PlotFormat.Svg)]
    public void FormatOf_ChoosesByTheExtension(string path, PlotFormat expected) => Assert.Equal(expected, PlotFile.FormatOf(path));

    [Theory]
    [InlineData("p.jpg")]
    [InlineData("p")]
    [InlineData("p.png.txt")]
    public void MeasureJob_WithAnUnsupportedExtension_FailsBeforeReadingAnything(string plot)
    {
        string missing = _temp.File("never-read.npy"), path = _temp.File(plot);
        var host = new CollectingHost<MeasurementResult>();
        var ex = Assert.Throws<QuantShellException>(() => MeasureJob.Run(
            new MeasureRequest { Quantizer = new QuantizerArguments(), PlotPath = path, Plotter = new ScottPlotQuantizationPlotter() },
            [JobInput.File(missing)], host));
        Assert.Equal(ErrorIds.PlotFormatNotSupported, ex.ErrorId);
        Assert.Equal(QuantShellErrorKind.InvalidArgument, ex.Kind);
        Assert.Contains(path, ex.Message);
        Assert.Contains(".png or .svg", ex.Message);
        Assert.Empty(host.Errors); // the missing input was never looked at
        Assert.Empty(Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void MeasureJob_WithAPlotPathButNoPlotter_IsAnError()
    {
        var ex = Assert.Throws<QuantShellException>(() => new MeasureJob(
            new MeasureRequest { Quantizer = new QuantizerArguments(), PlotPath = _temp.File("p.png") }, new CollectingHost<MeasurementResult>()));
        Assert.Equal(ErrorIds.PlotterMissing, ex.ErrorId);
    }

    [Fact]
    public void MeasureJob_WritesTheSvg_AndReplacesAnExistingPlotOnlyWithForce()
    {
        string input = _temp.File("w.npy"), plot = _temp.File("w.svg");
        Channels(3, 300, seed: 27).Write(input);
        File.WriteAllText(plot, "old");
        MeasureRequest Request(bool force) => new()
        {
            Quantizer = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 4, PerChannel = true, ChannelAxis = 0 },
            PlotPath = plot,
            Plotter = new ScottPlotQuantizationPlotter(),
            Force = force,
        };

        var refused = Assert.Throws<QuantShellException>(() => MeasureJob.Run(Request(force: false), [JobInput.File(input)], new CollectingHost<MeasurementResult>()));
        Assert.Equal(ErrorIds.OutputExists, refused.ErrorId);
        Assert.Equal("old", File.ReadAllText(plot));

        var host = new CollectingHost<MeasurementResult>();
        MeasureJob.Run(Request(force: true), [JobInput.File(input)], host);
        Assert.Equal(plot, Assert.Single(host.Results).PlotPath);
        var svg = XDocument.Load(plot);
        Assert.Equal(3, svg.Descendants().Count(e => e.Name.LocalName == "text" && e.Value.Trim() is "channel 0" or "channel 1" or "channel 2"));
    }

    /// <summary>Width, height and RGB pixels of an 8-bit RGB or RGBA PNG (zlib from the BCL; filters undone here).</summary>
    private static (int Width, int Height, int[] Pixels) DecodePng(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        bool ended = false;
        for (int at = 8; at < png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]); // bit depth
                channels = data[9] switch { 2 => 3, 6 => 4, var other => throw new Xunit.Sdk.XunitException($"colour type {other}") };
            }
            else if (type == "IDAT") idat.Write(data);
            else if (type == "IEND") ended = true;
            at += 12 + length;
        }
        Assert.True(ended, "IEND");
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        byte[] raw = inflated.ToArray();
        int stride = width * channels;
        Assert.Equal(height * (1 + stride), raw.Length);
        var previous = new byte[stride];
        var row = new byte[stride];
        var pixels = new int[width * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            for (int x = 0; x < stride; x++)
            {
                int a = x >= channels ? row[x - channels] : 0, b = previous[x], c = x >= channels ? previous[x - channels] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new Xunit.Sdk.XunitException($"filter {filter}"),
                };
                row[x] = (byte)(line[x] + predictor);
            }
            for (int x = 0; x < width; x++)
                pixels[y * width + x] = row[x * channels] << 16 | row[x * channels + 1] << 8 | row[x * channels + 2];
            (previous, row) = (row, previous);
        }
        return (width, height, pixels);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
