using System.Buffers.Binary;
using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;

namespace QuantShell.Cli.Tests;

public sealed class MeasureCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string name, float[] values, params long[] shape)
    {
        string path = _temp.File(name);
        new NpyArray(shape.Length == 0 ? [values.Length] : shape, values).Write(path);
        return path;
    }

    [Fact]
    public void Measure_TinyArray_MatchesDirectComputation()
    {
        float[] values = [0.1f, -0.3f, 0.5f, 1.7f, -0.05f];
        string input = Write("x.npy", values);
        var run = CliRunner.Run("measure", input, "--method", "symmetric", "--bits", "4", "--threshold", "1", "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(Assert.Single(run.StdoutLines));
        var root = json.RootElement;
        var overall = root; // the tensor's metrics are the result's own fields

        // Signed 4-bit, t = 1: s = 1/8, q = clamp(round_half_even(x * 8), -8, 7), y = q * s.
        const float scale = 0.125f, inverse = 1 / scale;
        double squared = 0, absolute = 0, max = 0, signal = 0;
        int clipped = 0;
        var levels = new HashSet<float>();
        foreach (float x in values)
        {
            float unclamped = MathF.Round(x * inverse, MidpointRounding.ToEven);
            float q = Math.Clamp(unclamped, -8, 7);
            if (q != unclamped) clipped++;
            levels.Add(q);
            double error = Math.Abs(x - (double)(q * scale));
            squared += error * error;
            absolute += error;
            max = Math.Max(max, error);
            signal += (double)x * x;
        }
        Assert.Equal(values.Length, overall.GetProperty("count").GetInt64());
        Assert.Equal(squared / values.Length, overall.GetProperty("mse").GetDouble(), 12);
        Assert.Equal(absolute / values.Length, overall.GetProperty("mae").GetDouble(), 12);
        Assert.Equal(max, overall.GetProperty("maxError").GetDouble(), 12);
        Assert.Equal(10 * Math.Log10(signal / squared), overall.GetProperty("sqnrDb").GetDouble(), 9);
        Assert.Equal((double)clipped / values.Length, overall.GetProperty("clippedFraction").GetDouble(), 12);
        Assert.Equal(1, clipped);
        Assert.Equal(levels.Count, overall.GetProperty("distinctLevels").GetInt32());
        Assert.Equal(16, overall.GetProperty("levelsAvailable").GetInt32());
        Assert.Equal(scale, overall.GetProperty("scale").GetSingle());
        Assert.Equal(0, overall.GetProperty("zeroPoint").GetInt32());
        Assert.Equal(-1.0, overall.GetProperty("rangeMin").GetDouble());
        Assert.Equal(0.875, overall.GetProperty("rangeMax").GetDouble());
        Assert.Equal(0, root.GetProperty("channels").GetArrayLength());
        Assert.Equal(1.0, root.GetProperty("quantizer").GetProperty("threshold")[0].GetDouble());
        Assert.Equal(1.0, root.GetProperty("threshold")[0].GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("selection").ValueKind);
        Assert.Equal(Path.GetFullPath(input), root.GetProperty("inputPath").GetString());

        // Nothing but the report: no .npy written.
        Assert.Equal(new[] { input }, Directory.GetFiles(_temp.Path));
    }

    [Fact]
    public void Measure_PerChannel_PrintsOneRowPerChannel()
    {
        string input = Write("x.npy", [0.1f, -0.3f, 0.5f, 1.7f, -1.2f, 0.25f], 2, 3);
        var tensorOnly = CliRunner.Run("measure", input, "--method", "pot", "--threshold", "1,2", "--per-channel", "--axis", "0");
        Assert.True(tensorOnly.Code == ExitCode.Success, tensorOnly.ToString());
        Assert.Equal(3, tensorOnly.StdoutLines.Length); // the channels only with --per-channel-detail
        var run = CliRunner.Run("measure", input, "--method", "pot", "--threshold", "1,2", "--per-channel", "--axis", "0", "--per-channel-detail");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var lines = run.StdoutLines;
        Assert.Equal(5, lines.Length);
        Assert.StartsWith(input + ": (2, 3), weights pot 8-bit per-channel (axis 0), threshold [1, 2], signed", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("tensor ", StringComparison.Ordinal) && l.Contains("per-channel"));
        string channel0 = Assert.Single(lines, l => l.StartsWith("ch 0 ", StringComparison.Ordinal));
        string channel1 = Assert.Single(lines, l => l.StartsWith("ch 1 ", StringComparison.Ordinal));
        Assert.Contains("0.0078125", channel0);
        Assert.Contains("[-1, 0.9921875]", channel0);
        Assert.Contains("0.015625", channel1);
        Assert.Contains("[-2, 1.984375]", channel1);

        var json = CliRunner.Run("measure", input, "--method", "pot", "--threshold", "1,2", "--per-channel", "--axis", "0", "--json");
        using var document = JsonDocument.Parse(Assert.Single(json.StdoutLines));
        var channels = document.RootElement.GetProperty("channels").EnumerateArray().ToArray();
        Assert.Equal(2, channels.Length);
        Assert.Equal([0, 1], channels.Select(c => c.GetProperty("channel").GetInt32()));
        Assert.Equal(3, channels[0].GetProperty("count").GetInt64());
        Assert.Equal(0.015625f, channels[1].GetProperty("scale").GetSingle());
        Assert.Equal(JsonValueKind.Null, document.RootElement.GetProperty("scale").ValueKind);
        Assert.Equal(6, document.RootElement.GetProperty("count").GetInt64());
        Assert.Equal(0, document.RootElement.GetProperty("channelAxis").GetInt32());
    }

    [Fact]
    public void Measure_ChosenFromData_MatchesQuantize()
    {
        string input = Write("x.npy", SelectionCommandTests.Gaussian(11, 500, 1.0, 7f));
        var measured = CliRunner.Run("measure", input, "--method", "uniform", "--bits", "4", "--json");
        var quantized = CliRunner.Run("quantize", input, "--method", "uniform", "--bits", "4", "--json");
        Assert.True(measured.Code == ExitCode.Success, measured.ToString());
        Assert.True(quantized.Code == ExitCode.Success, quantized.ToString());
        using var m = JsonDocument.Parse(measured.Stdout);
        using var q = JsonDocument.Parse(quantized.Stdout);
        Assert.Equal(q.RootElement.GetProperty("minRange")[0].GetDouble(), m.RootElement.GetProperty("minRange")[0].GetDouble());
        Assert.Equal(q.RootElement.GetProperty("maxRange")[0].GetDouble(), m.RootElement.GetProperty("maxRange")[0].GetDouble());
        // quantize reports the kernel's MSE (short float32 partial sums), measure sums in float64: equal to 1e-6 relative.
        double measuredMse = m.RootElement.GetProperty("mse").GetDouble();
        Assert.Equal(measuredMse, q.RootElement.GetProperty("mse").GetDouble(), measuredMse * 1e-6);
        Assert.Equal("mse", m.RootElement.GetProperty("selection").GetProperty("errorMethod").GetString());
    }

    [Fact]
    public void Measure_SeveralInputs_PrintsOneJsonObjectEach()
    {
        string first = Write("a.npy", [0.5f, -1f]), second = Write("b.npy", [3f, 1f, -0.25f]);
        var run = CliRunner.Run("measure", first, second, "--method", "pot", "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var roots = run.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement).ToArray();
        Assert.Equal(2, roots.Length);
        Assert.Equal([2L, 3L], roots.Select(r => r.GetProperty("count").GetInt64()));

        var calibrated = CliRunner.Run("measure", first, second, "--method", "pot", "--error-method", "noclipping", "--calibrate", "--json");
        var thresholds = calibrated.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("threshold")[0].GetDouble()).ToArray();
        Assert.Equal([4.0, 4.0], thresholds);
    }

    [Fact]
    public void Measure_Plot_WritesPngAndRefusesToOverwriteWithoutForce()
    {
        string input = Write("x.npy", SelectionCommandTests.Gaussian(12, 400, 1.0));
        string plot = _temp.File("h.png");
        var run = CliRunner.Run("measure", input, "--method", "uniform", "--bits", "4", "--plot", plot);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Contains(run.StdoutLines, l => l == $"plot: {plot}");
        byte[] png = File.ReadAllBytes(plot);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(1000, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)));
        Assert.Equal(560, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4))); // QuantizationFigure: 1000 x 560 per tensor

        File.WriteAllBytes(plot, [1, 2, 3]);
        var refused = CliRunner.Run("measure", input, "--method", "uniform", "--bits", "4", "--plot", plot);
        Assert.Equal(ExitCode.IOError, refused.Code);
        Assert.EndsWith("[OutputExists]", Assert.Single(refused.StderrLines));
        Assert.Equal("", refused.Stdout);
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(plot));

        var forced = CliRunner.Run("measure", input, "--method", "uniform", "--bits", "4", "--plot", plot, "--force");
        Assert.True(forced.Code == ExitCode.Success, forced.ToString());
        Assert.Equal(0x89, File.ReadAllBytes(plot)[0]);
    }

    [Fact]
    public void Measure_PlotWithTwoInputs_IsInvalidArguments()
    {
        string first = Write("a.npy", [0.5f]), second = Write("b.npy", [1f]);
        var run = CliRunner.Run("measure", first, second, "--method", "pot", "--plot", _temp.File("h.png"));
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.EndsWith("[PlotPathWithSeveralInputs]", Assert.Single(run.StderrLines));
        Assert.False(File.Exists(_temp.File("h.png")));
    }

    [Fact]
    public void Measure_QuantizerFile_IsUsed()
    {
        string input = Write("x.npy", [0.5f, -1f, 2f]);
        string quantizer = _temp.File("q.json");
        File.WriteAllText(quantizer, """{"target": "activation", "method": "uniform", "numBits": 8, "minRange": [-1.5], "maxRange": [2.5]}""");
        var run = CliRunner.Run("measure", input, "--quantizer", quantizer, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal("activation", json.RootElement.GetProperty("target").GetString());
        Assert.Equal(-1.5, json.RootElement.GetProperty("minRange")[0].GetDouble());

        var conflict = CliRunner.Run("measure", input, "--quantizer", quantizer, "--error-method", "mae");
        Assert.Equal(ExitCode.InvalidArguments, conflict.Code);
        Assert.EndsWith("[SelectionOptionNotApplicable]", Assert.Single(conflict.StderrLines));
    }

    [Fact]
    public void Measure_MissingFile_IsIOError()
    {
        var run = CliRunner.Run("measure", _temp.File("missing.npy"), "--method", "pot");
        Assert.Equal(ExitCode.IOError, run.Code);
        Assert.EndsWith("[InputFileNotFound]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Measure_NoQuantizerOptions_MeasuresTheDefaultQuantizer()
    {
        // Weights, symmetric, 8 bits, threshold chosen by MSE: the defaults of quantize too.
        string input = Write("x.npy", [0.5f, -1.25f, 2f]);
        var run = CliRunner.Run("measure", input, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(Assert.Single(run.StdoutLines));
        Assert.Equal("weights", json.RootElement.GetProperty("target").GetString());
        Assert.Equal("symmetric", json.RootElement.GetProperty("method").GetString());
        Assert.Equal(8, json.RootElement.GetProperty("numBits").GetInt32());
        Assert.Equal("mse", json.RootElement.GetProperty("selection").GetProperty("errorMethod").GetString());
    }
}
