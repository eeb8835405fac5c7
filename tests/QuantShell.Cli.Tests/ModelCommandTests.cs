using System.Runtime.InteropServices;
using System.Text.Json;
using QuantShell.Core.Formats;

namespace QuantShell.Cli.Tests;

/// <summary>Model files through dotnet-quant: quantize with rules, the int format and dequantize, inspect and measure.</summary>
public sealed class ModelCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>An .npz with two weights, a bias and an integer buffer (seeded values).</summary>
    private string WriteModel()
    {
        var random = new Random(41);
        byte[] Floats(int count) => MemoryMarshal.AsBytes(Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray().AsSpan()).ToArray();
        var tensors = new List<OutputTensor>
        {
            new("encoder.weight", DType.Float32, [6, 5], s => s.Write(Floats(30))),
            new("encoder.bias", DType.Float32, [6], s => s.Write(Floats(6))),
            new("decoder.weight", DType.Float32, [5, 6], s => s.Write(Floats(30))),
            new("count", DType.Int64, [], s => s.Write(BitConverter.GetBytes(7L))),
        };
        string path = _temp.File("model.npz");
        using var stream = File.Create(path);
        TensorFiles.Write(TensorFileKind.Npz, stream, tensors, new Dictionary<string, string>(), CancellationToken.None);
        return path;
    }

    private static JsonElement[] JsonLines(CliRun run) => run.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();

    [Fact]
    public void Quantize_WithRules_PrintsOneJsonLinePerTensor_AndWritesTheSameKind()
    {
        string model = WriteModel();
        string rules = _temp.File("rules.json");
        File.WriteAllText(rules, """
            {"rules": [{"match": "*.bias", "skip": true},
                       {"match": "encoder.*", "quantizer": {"target": "weights", "method": "pot", "numBits": 4, "perChannel": true, "channelAxis": 0}}]}
            """);
        var run = CliRunner.Run("quantize", model, "--rules", rules, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var all = JsonLines(run);
        // A line per tensor, then the model's summary line.
        Assert.Equal(["tensor", "tensor", "tensor", "tensor", "model"], all.Select(l => l.GetProperty("kind").GetString()));
        var summary = all[^1];
        Assert.Equal(4, summary.GetProperty("tensorCount").GetInt32());
        Assert.Equal(1, summary.GetProperty("quantizedCount").GetInt32());
        Assert.Equal(3, summary.GetProperty("skippedCount").GetInt32());
        Assert.Equal([("int64 values (not floating)", 1), ("no rule matches", 1), ("skipped by rule 0 ('*.bias')", 1)],
            summary.GetProperty("skipped").EnumerateArray().Select(s => (s.GetProperty("reason").GetString(), s.GetProperty("count").GetInt32())));
        Assert.Equal(new FileInfo(model).Length, summary.GetProperty("inputBytes").GetInt64());
        Assert.Equal(new FileInfo(_temp.File("model.q.npz")).Length, summary.GetProperty("outputBytes").GetInt64());
        Assert.Equal(all[0].GetProperty("sqnrDb").GetDouble(), summary.GetProperty("sqnrDb").GetDouble(), 9); // one tensor quantized
        var lines = all[..^1];
        Assert.Equal(["encoder.weight", "encoder.bias", "decoder.weight", "count"], lines.Select(l => l.GetProperty("tensorName").GetString()));
        Assert.Equal([false, true, true, true], lines.Select(l => l.GetProperty("skipped").GetBoolean()));
        Assert.Equal("pot", lines[0].GetProperty("method").GetString());
        Assert.Equal(6, lines[0].GetProperty("threshold").GetArrayLength());
        Assert.Equal("rule 0 ('*.bias') skips it", lines[1].GetProperty("skipReason").GetString());
        Assert.Equal("no rule matches it", lines[2].GetProperty("skipReason").GetString());
        using var output = TensorFiles.Open(_temp.File("model.q.npz"));
        Assert.Equal(TensorFileKind.Npz, output.Kind);
        Assert.Equal(4, output.Tensors.Count);
    }

    [Fact]
    public void Quantize_IntForm_ThenDequantize_GivesTheFakeForm()
    {
        string model = WriteModel();
        Assert.Equal(ExitCode.Success, CliRunner.Run("quantize", model, "--method", "uniform", "--num-bits", "4").Code);
        var codes = CliRunner.Run("quantize", model, "--method", "uniform", "--num-bits", "4", "--format", "int", "--force", "--verbose");
        Assert.True(codes.Code == ExitCode.Success, codes.ToString());
        Assert.Contains(codes.StdoutLines, line => line.Contains("int codes", StringComparison.Ordinal));
        Assert.Contains(": 2 of 4 tensors quantized (int), SQNR ", codes.StdoutLines[^1]);
        var back = CliRunner.Run("dequantize", _temp.File("model.int.npz"), "--output-path", _temp.File("back.npz"), "--json");
        Assert.True(back.Code == ExitCode.Success, back.ToString());
        Assert.Equal(2, JsonLines(back).Count(l => l.GetProperty("dequantized").GetBoolean()));
        using var fake = TensorFiles.Open(_temp.File("model.q.npz"));
        using var dequantized = TensorFiles.Open(_temp.File("back.npz"));
        foreach (var tensor in fake.Tensors)
        {
            using var a = fake.OpenTensor(tensor);
            using var b = dequantized.OpenTensor(dequantized.Tensor(tensor.Name));
            using MemoryStream x = new(), y = new();
            a.CopyTo(x);
            b.CopyTo(y);
            Assert.Equal(x.ToArray(), y.ToArray());
        }
    }

    /// <summary>
    /// A file the int format wrote, given to quantize, inspect or measure: the warning says it holds integer codes and
    /// that dequantizing gives the values back (it counted its tensors by type: "1 int8 values (not floating), ...").
    /// </summary>
    [Fact]
    public void AnIntFormFile_QuantizeInspectMeasure_SayItHoldsCodes()
    {
        string model = WriteModel();
        Assert.Equal(ExitCode.Success, CliRunner.Run("quantize", model, "--method", "uniform", "--num-bits", "4", "--format", "int").Code);
        string codes = _temp.File("model.int.npz");
        const string why = "no float weights: the file holds the integer codes of 2 tensors, as the int format writes them; dequantizing it gives their values back";

        var again = CliRunner.Run("quantize", codes, "--output-path", _temp.File("again.npz"));
        Assert.True(again.Code == ExitCode.Success, again.ToString());
        Assert.Equal($"dotnet-quant: warning: {codes}: nothing quantized, the output holds the same values: {why}", Assert.Single(again.StderrLines));
        var inspect = CliRunner.Run("inspect", codes);
        Assert.Equal($"dotnet-quant: warning: {codes}: nothing to quantize by default: {why}", Assert.Single(inspect.StderrLines));
        var measure = CliRunner.Run("measure", codes);
        Assert.Equal($"dotnet-quant: warning: {codes}: nothing measured: {why}", Assert.Single(measure.StderrLines));
        // With rules the rules' own count is given, as for any file.
        var rules = _temp.File("none.json");
        File.WriteAllText(rules, """{ "rules": [ { "match": "nothing-matches-this", "skip": true } ] }""");
        var ruled = CliRunner.Run("quantize", codes, "--rules", rules, "--output-path", _temp.File("ruled.npz"));
        Assert.DoesNotContain("integer codes", ruled.Stderr);
    }

    /// <summary>
    /// A record that names another format (here an int file's record rewritten as the fake format's) is no sign of
    /// integer codes: the warning counts the tensors by why each was skipped instead.
    /// </summary>
    [Fact]
    public void ARecordOfAnotherFormat_IsNotTakenForCodes()
    {
        string model = WriteModel();
        Assert.Equal(ExitCode.Success, CliRunner.Run("quantize", model, "--method", "uniform", "--num-bits", "4", "--format", "int").Code);
        string codes = _temp.File("model.int.npz");
        using (var archive = System.IO.Compression.ZipFile.Open(codes, System.IO.Compression.ZipArchiveMode.Update))
        {
            var entry = archive.GetEntry("quantshell.json")!;
            string json;
            using (var reader = new StreamReader(entry.Open())) json = reader.ReadToEnd();
            Assert.Contains("\"format\":\"int\"", json);
            entry.Delete();
            using var writer = new StreamWriter(archive.CreateEntry("quantshell.json").Open());
            writer.Write(json.Replace("\"format\":\"int\"", "\"format\":\"fake\""));
        }
        var again = CliRunner.Run("quantize", codes, "--output-path", _temp.File("again.npz"));
        Assert.True(again.Code == ExitCode.Success, again.ToString());
        string warning = Assert.Single(again.StderrLines);
        Assert.DoesNotContain("integer codes", warning);
        Assert.Contains("none of its", warning);
    }

    [Fact]
    public void Dequantize_AFileWithoutARecord_IsInvalidInput()
    {
        var run = CliRunner.Run("dequantize", WriteModel(), "-o", _temp.File("x.npz"));
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.EndsWith("[QuantizationRecordMissing]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Inspect_ListsEveryTensor_WithoutStatisticsUnlessAsked()
    {
        string model = WriteModel();
        var listed = JsonLines(CliRunner.Run("inspect", model, "--json"));
        Assert.Equal(4, listed.Length);
        Assert.Equal(JsonValueKind.Null, listed[0].GetProperty("min").ValueKind);
        Assert.Equal("int64", listed[3].GetProperty("dtype").GetString());
        var withStatistics = JsonLines(CliRunner.Run("inspect", model, "--statistics", "--json"));
        Assert.Equal(7.0, withStatistics[3].GetProperty("max").GetDouble());
    }

    [Fact]
    public void Inspect_AModelAsText_IsALineForTheFileAndARowPerTensor()
    {
        string model = WriteModel();
        var run = CliRunner.Run("inspect", model);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        // The file's line, the table's header, a row per tensor (not nine lines each); rows as read, trimmed.
        Assert.Equal($"{model}: NPZ, 4 tensors (3 float32, 1 int64), 0.3 KiB of values", run.StdoutLines[0]);
        Assert.Matches(@"^ *tensor +dtype +shape +bytes$", run.StdoutLines[1]);
        Assert.Equal(6, run.StdoutLines.Length);
        Assert.Matches(@"^ *encoder\.weight +float32 +\(6, 5\) +120$", run.StdoutLines[2]);
        Assert.Matches(@"^ *count +int64 +\(\) +8$", run.StdoutLines[5]);

        // --statistics adds the value columns; --verbose gives each tensor's facts one per line, as for an .npy file.
        var statistics = CliRunner.Run("inspect", model, "--statistics");
        Assert.Matches(@"^ *tensor +dtype +shape +bytes +min +max +mean +std +non-finite$", statistics.StdoutLines[1]);
        Assert.Matches(@"^ *count +int64 +\(\) +8 +7 +7 +7 +0 +0$", statistics.StdoutLines[5]);
        var verbose = CliRunner.Run("inspect", model, "--verbose");
        Assert.Equal(4, verbose.StdoutLines.Count(l => l.StartsWith("Tensor:", StringComparison.Ordinal)));
        Assert.Contains("Tensor:     decoder.weight", verbose.StdoutLines);

        // Two inputs: each its own block, a blank line between them.
        var two = CliRunner.Run("inspect", model, Conformance.PyTorch.File("e_seed_example.input.npy"));
        Assert.True(two.Code == ExitCode.Success, two.ToString());
        Assert.Contains("\n\nPath:", two.Stdout.ReplaceLineEndings("\n"));
        Assert.StartsWith("Path:", two.StdoutLines[6]);
    }

    [Fact]
    public void Measure_AModel_MeasuresTheDefaultWeights()
    {
        var run = CliRunner.Run("measure", WriteModel(), "--method", "symmetric", "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Equal(["encoder.weight", "decoder.weight"], JsonLines(run).Select(l => l.GetProperty("tensorName").GetString()));
    }

    [Fact]
    public void Quantize_AModel_PerChannelFalse_ChoosesOneValuePerTensor()
    {
        // A model's weights are per channel by default; '--per-channel false' (-PerChannel:$false) asks for one threshold per tensor.
        string model = WriteModel();
        var byDefault = JsonLines(CliRunner.Run("quantize", model, "--method", "symmetric", "--json"));
        var perTensor = JsonLines(CliRunner.Run("quantize", model, "--method", "symmetric", "--per-channel", "false", "--json", "--force"));
        var explicitOn = JsonLines(CliRunner.Run("quantize", model, "--method", "symmetric", "--per-channel", "true", "--json", "--force"));
        foreach (int i in new[] { 0, 2 })
        {
            Assert.True(byDefault[i].GetProperty("perChannel").GetBoolean());
            Assert.Equal(byDefault[i].GetProperty("shape")[0].GetInt32(), byDefault[i].GetProperty("threshold").GetArrayLength());
            Assert.False(perTensor[i].GetProperty("perChannel").GetBoolean());
            Assert.Equal(1, perTensor[i].GetProperty("threshold").GetArrayLength());
            Assert.Equal(byDefault[i].GetProperty("threshold").ToString(), explicitOn[i].GetProperty("threshold").ToString());
        }
        // With rules, it is one of the options the rules decide.
        string rules = _temp.File("rules.json");
        File.WriteAllText(rules, """{"rules": [{"match": "*", "skip": true}]}""");
        var conflict = CliRunner.Run("quantize", model, "--rules", rules, "--per-channel", "false", "--force");
        Assert.Equal(ExitCode.InvalidArguments, conflict.Code);
        Assert.Contains("[OptionConflict]", conflict.Stderr);
    }

    /// <summary>A file given twice (its name and a wildcard's match) is read once: one output, one line, no collision.</summary>
    [Fact]
    public void AFileGivenTwice_IsQuantizedOnce()
    {
        string model = WriteModel();
        string folder = _temp.File("twice");
        var run = CliRunner.Run("quantize", model, model, "--output-directory", folder);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Single(run.StdoutLines);
        Assert.Empty(run.Stderr);
        Assert.Single(Directory.GetFiles(folder));
        var inspected = CliRunner.Run("inspect", model, model, "--json");
        Assert.Equal(4, inspected.StdoutLines.Length);
    }

    /// <summary>What a quantizer file or a rule says wrongly is named as the file spells it (numBits, threshold[2]), not as an option.</summary>
    [Fact]
    public void FileErrors_SpellTheFilesFields()
    {
        string model = WriteModel();
        string quantizer = _temp.File("q.json");
        File.WriteAllText(quantizer, """{"target": "weights", "method": "pot", "numBits": 8, "threshold": [3]}""");
        var fromQuantizer = CliRunner.Run("quantize", model, "--quantizer", quantizer, "--output-path", _temp.File("o.npz"));
        Assert.Equal($"dotnet-quant: error: {quantizer}: threshold must be a power of two for a POT quantizer but is 3. [ThresholdNotPowerOfTwo]", Assert.Single(fromQuantizer.StderrLines));
        string rules = _temp.File("r.json");
        File.WriteAllText(rules, """{"rules": [{"match": "*", "quantizer": {"target": "weights", "method": "pot", "numBits": 99}}]}""");
        var fromRules = CliRunner.Run("quantize", model, "--rules", rules, "--output-path", _temp.File("o.npz"));
        Assert.Equal($"dotnet-quant: error: {rules}: rule 0: numBits must be between 1 and 16 but is 99. [NumBitsOutOfRange]", Assert.Single(fromRules.StderrLines));
    }

    /// <summary>
    /// A rule whose per-channel quantizer does not fit a tensor it matches (an axis out of range, a value count no axis
    /// has): the error names the file, the tensor and its shape, the rule, and the rules file's field (channelAxis), not a
    /// command-line option; quantize and measure alike, before any output is written.
    /// </summary>
    [Theory]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 4, "perChannel": true, "channelAxis": 7}""", "ChannelAxisOutOfRange",
                "channelAxis 7 is out of range for a tensor of rank 2 (allowed: -2..1).")]
    [InlineData("""{"target": "weights", "method": "pot", "numBits": 4, "perChannel": true, "threshold": [1, 2, 4]}""", "ChannelCountMismatch",
                "threshold has 3 values but no axis of shape (6, 5) has length 3; give one value per channel of an axis, or choose the axis with channelAxis.")]
    public void Quantize_ARuleThatDoesNotFitATensor_NamesTheRuleAndItsFields(string quantizer, string errorId, string problem)
    {
        string model = WriteModel();
        string rules = _temp.File("fit.rules.json");
        File.WriteAllText(rules, $$"""{"rules": [{"match": "*.bias", "skip": true}, {"match": "encoder.*", "quantizer": {{quantizer}}}]}""");
        string output = _temp.File("fit.npz");
        foreach (var run in new[] { CliRunner.Run("quantize", model, "--rules", rules, "--output-path", output), CliRunner.Run("measure", model, "--rules", rules) })
        {
            Assert.Equal(ExitCode.InvalidArguments, run.Code);
            Assert.Equal($"dotnet-quant: error: {model}: tensor 'encoder.weight' (shape (6, 5)) matches {rules}: rule 1 ('encoder.*'): {problem} [{errorId}]", Assert.Single(run.StderrLines));
        }
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("OutputFormatNotSupported", "--format", "qdq")]
    [InlineData("OptionConflict", "--rules", "RULES", "--method", "pot")]
    public void Quantize_FormatsAndOptionsThatDoNotApply_AreRefusedByName(string errorId, params string[] options)
    {
        string rules = _temp.File("r.json");
        File.WriteAllText(rules, """{"rules": []}""");
        var run = CliRunner.Run(["quantize", WriteModel(), .. options.Select(o => o == "RULES" ? rules : o)]);
        Assert.NotEqual(ExitCode.Success, run.Code);
        Assert.EndsWith($"[{errorId}]", Assert.Single(run.StderrLines));
    }
    /// <summary>Group-wise scales have no qdq form: refused before any value is chosen, naming the file, the tensor and the group size; nothing written.</summary>
    [Fact]
    public void Quantize_OnnxModel_QdqForm_GroupWise_IsRefusedNamingFileAndTensor()
    {
        string model = _temp.File("small_cnn.onnx");
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx"), model);
        string output = _temp.File("out.onnx");
        var run = CliRunner.Run("quantize", model, "--group-size", "8", "--format", "qdq", "--output-path", output);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"dotnet-quant: error: {model}: tensor 'conv.weight': group-wise scales (--group-size 8) have no qdq form", line);
        Assert.Contains("--format fake", line);
        Assert.EndsWith("[GroupSizeInvalid]", line);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Quantize_OnnxModel_QdqForm_ThenDequantize_GivesTheFakeForm()
    {
        string model = _temp.File("small_cnn.onnx");
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx"), model);
        var qdq = CliRunner.Run("quantize", model, "--method", "uniform", "--num-bits", "6", "--format", "qdq", "--json");
        Assert.True(qdq.Code == ExitCode.Success, qdq.ToString());
        var lines = JsonLines(qdq)[..^1];
        Assert.Equal(10, lines.Length);
        var quantized = lines.Where(l => !l.GetProperty("skipped").GetBoolean()).ToList();
        Assert.Equal(["conv.weight", "fc.weight", "proj.weight", "head.weight", "tied", "sub.weight"], quantized.Select(l => l.GetProperty("tensorName").GetString()));
        Assert.All(quantized, l => Assert.Equal("qdq", l.GetProperty("format").GetString()));
        Assert.All(quantized, l => Assert.Equal("uint8", l.GetProperty("outputDtype").GetString()));
        var fake = CliRunner.Run("quantize", model, "--method", "uniform", "--num-bits", "6");
        Assert.True(fake.Code == ExitCode.Success, fake.ToString());
        var back = CliRunner.Run("dequantize", _temp.File("small_cnn.qdq.onnx"), "--output-path", _temp.File("back.onnx"));
        Assert.True(back.Code == ExitCode.Success, back.ToString());
        using var fakeFile = TensorFiles.Open(_temp.File("small_cnn.q.onnx"));
        using var backFile = TensorFiles.Open(_temp.File("back.onnx"));
        foreach (var tensor in fakeFile.Tensors)
        {
            using var a = fakeFile.OpenTensor(tensor);
            using var b = backFile.OpenTensor(backFile.Tensor(tensor.Name));
            using var bytesA = new MemoryStream();
            using var bytesB = new MemoryStream();
            a.CopyTo(bytesA);
            b.CopyTo(bytesB);
            Assert.True(bytesA.ToArray().AsSpan().SequenceEqual(bytesB.ToArray()), tensor.Name);
        }
        var refused = CliRunner.Run("quantize", model, "--format", "int", "--output-path", _temp.File("m.int.onnx"));
        Assert.Equal(ExitCode.InvalidArguments, refused.Code);
        Assert.Contains("--format qdq (or fake). [OutputFormatNotSupported]", refused.Stderr);
    }
}
