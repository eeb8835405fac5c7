using System.Text.Json;
using System.Text.Json.Nodes;

namespace QuantShell.Cli.Tests;

/// <summary>
/// A model folder split over N processes of the real tool (--part K/N at once, then --finish) gives the folder one process
/// gives, byte for byte; the command line's options and errors for folders.
/// </summary>
public sealed class ModelFolderCommandTests : IDisposable
{
    private static readonly string Fixture = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "hf_sharded");
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>A copy of the test folder in the temporary folder (its outputs then go beside it).</summary>
    private string CopyOfFixture(string name)
    {
        string input = _temp.File(name);
        foreach (string file in Directory.GetFiles(Fixture, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(input, Path.GetRelativePath(Fixture, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return input;
    }

    private static readonly string[] Options = ["--method", "symmetric", "--bits", "4", "--group-size", "8", "--format", "compressed-tensors"];

    [Fact]
    public async Task SplitOverTwoProcesses_ThenFinish_EqualsOneProcess()
    {
        string whole = _temp.File("whole"), split = _temp.File("split");
        var one = CliRunner.Run(["quantize", Fixture, "--output", whole, .. Options]);
        Assert.True(one.ExitCode == 0, one.ToString());
        const int parts = 2;
        var runs = await Task.WhenAll(Enumerable.Range(1, parts).Select(k => Task.Run(() =>
            CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", Fixture, "--output", split, "--part", $"{k}/{parts}", "--verbose", .. Options], TimeSpan.FromMinutes(2)))));
        Assert.All(runs, run => Assert.True(run.ExitCode == 0, run.ToString()));
        // With --verbose a line per tensor of the folder, each in one part, and each part's summary line.
        Assert.Equal(10 + parts, runs.Sum(r => r.StdoutLines.Length));
        Assert.False(Directory.Exists(split));
        var finish = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", Fixture, "--output", split, "--finish", "--format", "compressed-tensors"], TimeSpan.FromMinutes(2));
        Assert.True(finish.ExitCode == 0, finish.ToString());
        var files = Directory.GetFiles(whole, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(whole, f)).Order().ToList();
        Assert.Equal(8, files.Count); // two shards, the index, config.json and the four other files
        Assert.Equal(files, Directory.GetFiles(split, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(split, f)).Order());
        foreach (string file in files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, file)), File.ReadAllBytes(Path.Combine(split, file)));
        Assert.Equal("compressed-tensors", (string)JsonNode.Parse(File.ReadAllText(Path.Combine(split, "config.json")))!["quantization_config"]!["quant_method"]!);
        Assert.Equal(["split", "whole"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order());
    }

    /// <summary>
    /// inspect and measure take a model folder as one input, as quantize does: every tensor of its shards; the tensors
    /// quantize would quantize, each measured with the quantizer quantize chooses (the same values as its --json).
    /// </summary>
    [Fact]
    public void InspectAndMeasure_TakeAFolderAsOneInput()
    {
        var inspect = CliRunner.Run("inspect", Fixture);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        Assert.Equal($"{Fixture}: model folder of 2 safetensors shards, 10 tensors (10 bfloat16), 21.5 KiB of values", inspect.StdoutLines[0]);
        Assert.Equal(12, inspect.StdoutLines.Length);
        var listed = inspect.StdoutLines.Skip(2).Select(l => l.Split(' ')[0]).ToArray();
        Assert.Contains("lm_head.weight", listed);
        Assert.Contains("model.layers.1.mlp.down_proj.weight", listed);
        var json = CliRunner.Run("inspect", Fixture, "--json", "--statistics").StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(10, json.Length);
        Assert.All(json, t => Assert.Equal(JsonValueKind.Number, t.GetProperty("max").ValueKind));

        string[] options = ["--method", "symmetric", "--bits", "4", "--group-size", "8"];
        var measured = CliRunner.Run(["measure", Fixture, "--json", .. options]).StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var quantized = CliRunner.Run(["quantize", Fixture, "--output", _temp.File("q"), "--json", .. options]).StdoutLines
            .Select(l => JsonDocument.Parse(l).RootElement).Where(r => r.GetProperty("kind").GetString() == "tensor" && !r.GetProperty("skipped").GetBoolean()).ToArray();
        Assert.Equal(5, quantized.Length);
        Assert.Equal(quantized.Select(r => r.GetProperty("tensorName").GetString()), measured.Select(r => r.GetProperty("tensorName").GetString()));
        // The same quantizer; the same SQNR but for the summation (the kernel's float32 blocks in quantize, float64 in measure).
        for (int i = 0; i < quantized.Length; i++)
        {
            Assert.Equal(quantized[i].GetProperty("quantizer").GetRawText(), measured[i].GetProperty("quantizer").GetRawText());
            Assert.Equal(quantized[i].GetProperty("sqnrDb").GetDouble(), measured[i].GetProperty("sqnrDb").GetDouble(), 1e-4);
        }

        // A folder that is not a model folder: what it holds and how to give its files.
        string samples = _temp.File("samples");
        Directory.CreateDirectory(samples);
        File.WriteAllBytes(Path.Combine(samples, "a.npy"), [0]);
        foreach (string command in new[] { "inspect", "measure" })
        {
            var run = CliRunner.Run(command, samples);
            Assert.Equal(2, run.ExitCode);
            Assert.EndsWith($"It holds 1 .npy file: give them with a wildcard, '{Path.Join(samples, "*.npy")}'. [ModelFolderInvalid]", Assert.Single(run.StderrLines));
        }
    }

    /// <summary>
    /// dequantize takes a model folder too: an int folder comes back as the fake folder quantize writes, byte for byte
    /// (every file); a compressed-tensors folder as plain weights, its config without quantization_config; the default
    /// output is DIR.q beside DIR.int; one summary line naming the folders.
    /// </summary>
    [Fact]
    public void Dequantize_AFolder_GivesTheFakeFolder()
    {
        string input = CopyOfFixture("tiny");
        string fake = _temp.File("fake"), ints = _temp.File("tiny.int");
        Assert.Equal(0, CliRunner.Run("quantize", input, "--bits", "4", "--output", fake).ExitCode);
        Assert.Equal(0, CliRunner.Run("quantize", input, "--bits", "4", "--format", "int", "--output", ints).ExitCode);
        var back = CliRunner.Run("dequantize", ints);
        Assert.True(back.ExitCode == 0, back.ToString());
        string defaultOutput = _temp.File("tiny.q");
        Assert.Equal($"{ints} -> {defaultOutput}: 5 of 10 tensors dequantized (int8 codes -> bfloat16), 5 copied unchanged", Assert.Single(back.StdoutLines));
        var files = Directory.GetFiles(fake, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(fake, f)).Order().ToList();
        Assert.Equal(8, files.Count);
        Assert.Equal(files, Directory.GetFiles(defaultOutput, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(defaultOutput, f)).Order());
        foreach (string file in files)
            Assert.True(File.ReadAllBytes(Path.Combine(fake, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(defaultOutput, file))), file);
        Assert.Contains("[OutputExists]", CliRunner.Run("dequantize", ints).Stderr);

        string compressed = _temp.File("ct"), plain = _temp.File("plain");
        Assert.Equal(0, CliRunner.Run(["quantize", input, "--output", compressed, .. Options]).ExitCode);
        var json = CliRunner.Run("dequantize", compressed, "--output", plain, "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        var tensors = json.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(10, tensors.Length);
        Assert.Equal(5, tensors.Count(t => t.GetProperty("dequantized").GetBoolean()));
        Assert.Null(JsonNode.Parse(File.ReadAllText(Path.Combine(plain, "config.json")))!["quantization_config"]);
        var inspect = CliRunner.Run("inspect", plain);
        Assert.StartsWith($"{plain}: model folder of 2 safetensors shards, 10 tensors (10 bfloat16)", inspect.StdoutLines[0]);
    }

    /// <summary>Pooling (--calibrate, new --from-path) takes .npy inputs: a model folder is refused as a model file is, saying so.</summary>
    [Fact]
    public void Pooling_AModelFolder_SaysWhatItIs()
    {
        foreach (string[] args in new[] { new[] { "measure", Fixture, "--calibrate", "--method", "pot" }, ["quantize", Fixture, "--calibrate", "--output", _temp.File("o")],
                                          ["new", "--method", "pot", "--from-path", Fixture] })
        {
            var run = CliRunner.Run(args);
            Assert.Equal(2, run.ExitCode);
            string pooledBy = args[0] == "new" ? "--from-path" : "--calibrate";
            Assert.Equal($"dotnet-quant: error: {Fixture}: is a Hugging Face model folder; {pooledBy} pools .npy inputs (a model's tensors each get their own values when it is quantized). [ParameterNotApplicable]",
                         Assert.Single(run.StderrLines));
        }
        Assert.False(Directory.Exists(_temp.File("o")));
    }

    [Fact]
    public void Folder_DefaultOutputBesideIt_AndErrorsWithTheirIds()
    {
        string input = CopyOfFixture("tiny");
        var run = CliRunner.Run("quantize", input, "--format", "int", "--bits", "4");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(Path.Combine(_temp.File("tiny.int"), "model.safetensors.index.json")));
        var again = CliRunner.Run("quantize", input, "--format", "int", "--bits", "4");
        Assert.Contains("[OutputExists]", again.Stderr);
        var part = CliRunner.Run("quantize", input, "--part", "3/2");
        Assert.Contains("[PartInvalid]", part.Stderr);
        var ragged = CliRunner.Run("quantize", input, "--output", _temp.File("ct"), "--format", "compressed-tensors", "--group-size", "16");
        Assert.NotEqual(0, ragged.ExitCode);
        Assert.Contains("q_proj.weight", ragged.Stderr);
        Assert.Contains("[OutputFormatNotSupported]", ragged.Stderr);
        File.Delete(Path.Combine(input, "model-00002-of-00002.safetensors"));
        var missing = CliRunner.Run("quantize", input, "--output", _temp.File("m"));
        Assert.Contains("[ModelFolderShardMissing]", missing.Stderr);
        Assert.Contains("model-00002-of-00002.safetensors", missing.Stderr);
        Assert.Equal(["tiny", "tiny.int"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order());
    }
}
