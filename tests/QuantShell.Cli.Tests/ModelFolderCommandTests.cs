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

    [Fact]
    public void Folder_DefaultOutputBesideIt_AndErrorsWithTheirIds()
    {
        string input = _temp.File("tiny");
        foreach (string file in Directory.GetFiles(Fixture, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(input, Path.GetRelativePath(Fixture, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
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
