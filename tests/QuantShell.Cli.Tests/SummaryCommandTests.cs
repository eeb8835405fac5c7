using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using QuantShell.Core.Jobs;

namespace QuantShell.Cli.Tests;

/// <summary>
/// What the tool prints for a model: one summary line (tensor lines with --verbose, both kinds in --json), a warning that
/// says why when nothing is quantized (quantize, inspect, measure), measure's table, and the progress line.
/// </summary>
public sealed class SummaryCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string SmallCnn()
    {
        string model = _temp.File("small_cnn.onnx");
        if (!File.Exists(model)) File.Copy(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx"), model);
        return model;
    }

    private static JsonElement[] JsonLines(CliRun run) => run.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();

    /// <summary>The summary line without its time, which differs between runs.</summary>
    private static string WithoutTheTime(string line) => Regex.Replace(line, @", [0-9.]+ m?s;", ", TIME;");

    private static string KiB(long bytes) => (bytes / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB";

    [Fact]
    public void Quantize_AModel_PrintsOneSummaryLine_TensorLinesOnlyWithVerbose()
    {
        string model = SmallCnn();
        string output = _temp.File("out.onnx");
        var run = CliRunner.Run("quantize", model, "--output-path", output);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        string summary = Assert.Single(run.StdoutLines);
        Assert.StartsWith($"{model} -> {output}: 6 of 10 tensors quantized (fake), SQNR ", summary);
        long bytes = new FileInfo(model).Length;
        Assert.Contains($", {KiB(bytes)} -> {KiB(new FileInfo(output).Length)}, ", summary);
        Assert.EndsWith("; 4 skipped: 1 a bias of Conv, 1 a bias of Gemm, 1 bool values (not floating), 1 not a weight (read by Mul)", summary);
        Assert.Empty(run.Stderr); // stderr is not a terminal here: no progress line, and no warning

        var verbose = CliRunner.Run("quantize", model, "--output-path", output, "--force", "--verbose");
        Assert.True(verbose.Code == ExitCode.Success, verbose.ToString());
        Assert.Equal(11, verbose.StdoutLines.Length);
        Assert.Equal(6, verbose.StdoutLines.Count(l => l.Contains(" weights symmetric 8-bit per-channel", StringComparison.Ordinal)));
        Assert.Single(verbose.StdoutLines, l => l.StartsWith($"{model} [cond] -> {output}: bool (), copied unchanged (bool is not a floating type", StringComparison.Ordinal));
        Assert.Equal(WithoutTheTime(summary), WithoutTheTime(verbose.StdoutLines[^1]));
        Assert.Contains(", TIME;", WithoutTheTime(summary));
    }

    [Fact]
    public void Quantize_Json_PrintsATensorLinePerTensor_ThenTheModelLine_WithItsSums()
    {
        var run = CliRunner.Run("quantize", SmallCnn(), "--output-path", _temp.File("out.onnx"), "--num-bits", "4", "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var lines = JsonLines(run);
        Assert.Equal([.. Enumerable.Repeat("tensor", 10), "model"], lines.Select(l => l.GetProperty("kind").GetString()));
        var tensors = lines[..^1];
        var model = lines[^1];
        var quantized = tensors.Where(t => !t.GetProperty("skipped").GetBoolean()).ToList();
        Assert.Equal(6, model.GetProperty("quantizedCount").GetInt32());
        Assert.Equal(quantized.Count, model.GetProperty("quantizedCount").GetInt32());
        Assert.Equal(4, model.GetProperty("skippedCount").GetInt32());
        Assert.Equal(10, model.GetProperty("tensorCount").GetInt32());
        Assert.Equal(quantized.Sum(t => t.GetProperty("elementCount").GetInt64()), model.GetProperty("quantizedElementCount").GetInt64());
        Assert.Equal(4, model.GetProperty("skipped").EnumerateArray().Sum(s => s.GetProperty("count").GetInt32()));
        Assert.Equal(tensors.Where(t => t.GetProperty("skipped").GetBoolean()).Select(t => t.GetProperty("skipCategory").GetString()).Order(),
            model.GetProperty("skipped").EnumerateArray().Select(s => s.GetProperty("reason").GetString()).Order());
        // The SQNR of all the weights together is a ratio of sums, so it lies between the tensors' own.
        var sqnrs = quantized.Select(t => t.GetProperty("sqnrDb").GetDouble()).ToList();
        double total = model.GetProperty("sqnrDb").GetDouble();
        Assert.InRange(total, sqnrs.Min(), sqnrs.Max());
        Assert.True(sqnrs.Min() < sqnrs.Max());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("warning").ValueKind);
        Assert.Equal("fake", model.GetProperty("format").GetString());
        Assert.StartsWith("ONNX", model.GetProperty("fileFormat").GetString());
    }

    [Fact]
    public void Dequantize_AModel_PrintsOneSummaryLine_TensorLinesOnlyWithVerbose()
    {
        string qdq = _temp.File("small_cnn.qdq.onnx");
        Assert.Equal(ExitCode.Success, CliRunner.Run("quantize", SmallCnn(), "--format", "qdq", "--output-path", qdq).Code);
        string back = _temp.File("back.onnx");
        var run = CliRunner.Run("dequantize", qdq, "--output-path", back);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        // 6 weights were quantized (int8 codes of float32 weights), the other tensors are copied; the qdq form adds its scales.
        var json = JsonLines(CliRunner.Run("dequantize", qdq, "--output-path", back, "--force", "--json"));
        int dequantized = json.Count(l => l.GetProperty("dequantized").GetBoolean());
        Assert.Equal(6, dequantized);
        Assert.Equal($"{qdq} -> {back}: 6 of {json.Length} tensors dequantized (int8 codes -> float32), {json.Length - 6} copied unchanged", Assert.Single(run.StdoutLines));

        var verbose = CliRunner.Run("dequantize", qdq, "--output-path", back, "--force", "--verbose");
        Assert.True(verbose.Code == ExitCode.Success, verbose.ToString());
        Assert.Equal(json.Length + 1, verbose.StdoutLines.Length);
        Assert.Equal(6, verbose.StdoutLines.Count(l => l.Contains(": int8 codes -> float32 (", StringComparison.Ordinal)));
        Assert.Equal(run.StdoutLines[0], verbose.StdoutLines[^1]);
    }

    [Fact]
    public void Quantize_AModelThroughALink_CountsTheBytesOfTheFileItNames()
    {
        string link = _temp.File("link.onnx");
        File.CreateSymbolicLink(link, SmallCnn());
        var run = CliRunner.Run("quantize", link, "--output-path", _temp.File("linked.q.onnx"), "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Equal(new FileInfo(SmallCnn()).Length, JsonLines(run)[^1].GetProperty("inputBytes").GetInt64());
    }

    [Fact]
    public void AnAlreadyQuantizedModel_QuantizeInspectMeasure_WarnWhy()
    {
        string qdq = _temp.File("small_cnn.qdq.onnx");
        Assert.Equal(ExitCode.Success, CliRunner.Run("quantize", SmallCnn(), "--format", "qdq", "--output-path", qdq).Code);

        var again = CliRunner.Run("quantize", qdq, "--output-path", _temp.File("again.onnx"));
        Assert.True(again.Code == ExitCode.Success, again.ToString());
        string warning = Assert.Single(again.StderrLines);
        Assert.StartsWith($"dotnet-quant: warning: {qdq}: nothing quantized, the output holds the same values: no float weights: the model is already quantized (integer weights read by DequantizeLinear ", warning);
        Assert.Contains(": 0 of ", Assert.Single(again.StdoutLines));

        var json = CliRunner.Run("quantize", qdq, "--output-path", _temp.File("again.onnx"), "--force", "--json");
        Assert.StartsWith("no float weights: the model is already quantized", JsonLines(json)[^1].GetProperty("warning").GetString());

        var inspect = CliRunner.Run("inspect", qdq);
        Assert.True(inspect.Code == ExitCode.Success, inspect.ToString());
        Assert.StartsWith($"dotnet-quant: warning: {qdq}: nothing to quantize by default: no float weights: the model is already quantized", Assert.Single(inspect.StderrLines));

        var measure = CliRunner.Run("measure", qdq);
        Assert.True(measure.Code == ExitCode.Success, measure.ToString());
        Assert.Empty(measure.StdoutLines);
        Assert.StartsWith($"dotnet-quant: warning: {qdq}: nothing measured: no float weights: the model is already quantized", Assert.Single(measure.StderrLines));

        // A model with weights: no warning from any of them.
        Assert.Empty(CliRunner.Run("inspect", SmallCnn()).Stderr);
        Assert.Empty(CliRunner.Run("measure", SmallCnn()).Stderr);
    }

    [Fact]
    public void RulesThatMatchNothing_WarnWithTheCounts()
    {
        string rules = _temp.File("rules.json");
        File.WriteAllText(rules, """{"rules": [{"match": "nothing.*", "quantizer": {"target": "weights", "method": "pot", "numBits": 4}}]}""");
        var run = CliRunner.Run("quantize", SmallCnn(), "--rules", rules, "--output-path", _temp.File("r.onnx"));
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Equal($"dotnet-quant: warning: {SmallCnn()}: nothing quantized, the output holds the same values: the rules quantize none of its 10 tensors (9 no rule matches, 1 bool values (not floating))",
            Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Measure_AModel_IsOneTable_ChannelRowsOnlyWithPerChannelDetail()
    {
        string model = SmallCnn();
        var run = CliRunner.Run("measure", model);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var lines = run.StdoutLines;
        Assert.Equal(8, lines.Length); // the model, the column names, a row per weight
        Assert.Equal($"{model}:", lines[0]);
        Assert.StartsWith("count", lines[1]);
        Assert.EndsWith("tensor: quantizer", lines[1]);
        Assert.All(lines[2..], l => Assert.Contains(": symmetric 8-bit per-channel (axis ", l));
        Assert.Contains(lines, l => l.EndsWith("conv.weight (4, 3, 3, 3): symmetric 8-bit per-channel (axis 0)", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("ch ", StringComparison.Ordinal));

        var json = JsonLines(CliRunner.Run("measure", model, "--json"));
        int channels = json.Sum(l => l.GetProperty("channels").GetArrayLength());
        Assert.Equal(6, json.Length);
        Assert.True(channels > 6);
        var detail = CliRunner.Run("measure", model, "--per-channel-detail");
        Assert.True(detail.Code == ExitCode.Success, detail.ToString());
        Assert.Equal(8 + channels, detail.StdoutLines.Length);
        Assert.Equal(channels, detail.StdoutLines.Count(l => l.StartsWith("ch ", StringComparison.Ordinal)));
        // Each tensor's channels right under its row: conv.weight's 4.
        int conv = Array.FindIndex(detail.StdoutLines, l => l.Contains("conv.weight", StringComparison.Ordinal));
        Assert.Equal(["ch 0", "ch 1", "ch 2", "ch 3"], detail.StdoutLines[(conv + 1)..(conv + 5)].Select(l => l[..4]));
    }

    [Fact]
    public void ProgressLine_ShowsTheTensorOfTheModel_AndIsClearedBeforeAnythingElseIsWritten()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var host = new ConsoleHost<string>(stdout, stderr, json: false, jsonType: null, (w, s) => w.WriteLine(s), progressLine: true);
        host.WriteProgress(new JobProgress("Quantize", 0, 1, "/m/model.onnx", Completed: false)
        {
            Item = "/m/model.onnx", ItemBytesDone = 3 << 20, ItemBytesTotal = 8 << 20, ItemTensorsDone = 2, ItemTensorsTotal = 10,
        });
        const string line = "Quantize: model.onnx: tensor 3 of 10, 3.0 of 8.0 MiB";
        Assert.Equal("\r" + line, stderr.ToString());
        host.WriteWarning("model.onnx: something", null);
        Assert.Equal("\r" + line + "\r" + new string(' ', line.Length) + "\r" + "dotnet-quant: warning: model.onnx: something" + Environment.NewLine, stderr.ToString());
        host.WriteProgress(new JobProgress("Quantize", 1, 3, "/m/b.onnx", Completed: false)
        {
            Item = "/m/b.onnx", ItemBytesDone = 0, ItemBytesTotal = 1 << 20, ItemTensorsDone = 0, ItemTensorsTotal = 4,
        });
        Assert.EndsWith("\rQuantize: 2 of 3, b.onnx: tensor 1 of 4, 0.0 of 1.0 MiB", stderr.ToString());
        host.WriteResult("result");
        Assert.EndsWith("\r" + new string(' ', "Quantize: 2 of 3, b.onnx: tensor 1 of 4, 0.0 of 1.0 MiB".Length) + "\r", stderr.ToString());
        Assert.Equal("result" + Environment.NewLine, stdout.ToString());
    }
}
