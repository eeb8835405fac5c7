using System.Text;
using System.Text.RegularExpressions;

namespace QuantShell.Cli.Tests;

/// <summary>
/// The README's <c>dotnet quant</c> example runs as written: the sh block under "## dotnet quant", every command line in
/// order under <c>set -euo pipefail</c>, from a copy of examples/ laid out as a clone is after ./build/run-example.sh
/// (its first line puts ../artifacts/tool on PATH; here that folder is the build of dotnet-quant these tests reference).
/// It runs twice in the same folder: the block empties its own output folder, so a user can run it again as written.
/// </summary>
public sealed partial class ReadmeExampleTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    public void DotnetQuantBlock_RunFromExamplesTwice_EveryLineSucceeds()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the block is bash, run on Linux");
        string block = Assert.Single(ReadmeBlocks("dotnet quant", "sh"));
        var commands = CommandLines(block);
        Assert.Equal("export PATH=\"$PWD/../artifacts/tool:$PATH\"", commands[0].Split('#')[0].Trim());
        Assert.True(commands.Count >= 20, $"only {commands.Count} command lines in the README's dotnet quant block");

        // A clone after the set-up: ../artifacts/tool/dotnet-quant beside a copy of examples/ (without a run's outputs).
        string examples = Path.Combine(_temp.Path, "examples");
        CopyDirectory(Path.Combine(TestPaths.RepositoryRoot, "examples"), examples);
        Directory.CreateDirectory(Path.Combine(_temp.Path, "artifacts"));
        string toolFolder = Path.GetDirectoryName(ToolPaths.ToolAssembly)!;
        Assert.True(File.Exists(Path.Combine(toolFolder, "dotnet-quant")), $"no dotnet-quant executable (apphost) in {toolFolder}");
        Directory.CreateSymbolicLink(Path.Combine(_temp.Path, "artifacts", "tool"), toolFolder);

        // Each command line, then a line that says it succeeded (set -e stops at the first that fails).
        var script = new StringBuilder("set -euo pipefail\n");
        for (int i = 0; i < commands.Count; i++) script.Append(commands[i]).Append('\n').Append($"echo 'readme: line {i + 1} done' >&2\n");
        string scriptPath = _temp.File("readme-dotnet-quant.sh");
        File.WriteAllText(scriptPath, script.ToString());

        foreach (int round in new[] { 1, 2 })
        {
            var run = CliRunner.RunProcess("bash", [scriptPath], Timeout, examples);
            Assert.True(run.ExitCode == 0, $"round {round}: {run}");
            int done = run.StderrLines.Count(line => line.StartsWith("readme: line ", StringComparison.Ordinal));
            Assert.Equal(commands.Count, done);
            Assert.DoesNotContain("dotnet-quant: error:", run.Stderr, StringComparison.Ordinal);
        }

        // Every output the block names is there.
        var named = OutputPath().Matches(block).Select(match => match.Value).Distinct().ToArray();
        Assert.True(named.Length >= 15, $"only {named.Length} outputs named");
        foreach (string path in named)
            Assert.True(File.Exists(Path.Combine(examples, path)) || Directory.Exists(Path.Combine(examples, path)), $"{path} was not written");
        Assert.Equal(3, Directory.GetFiles(Path.Combine(examples, "out", "weights"), "*.npy").Length);

        // The seed's quantizer file, from a file and through stdin/stdout, gives the same bytes.
        Assert.Equal(File.ReadAllBytes(Path.Combine(examples, "out", "x.seed.npy")), File.ReadAllBytes(Path.Combine(examples, "out", "y.npy")));
        // "back to the fake format": the dequantized int format is the file the fake format of the same quantizer gives.
        string fake = _temp.File("model.fake.safetensors");
        var fakeRun = CliRunner.Run("quantize", Path.Combine(examples, "model.safetensors"), "--method", "symmetric", "--output-path", fake);
        Assert.True(fakeRun.ExitCode == 0, fakeRun.ToString());
        Assert.Equal(File.ReadAllBytes(fake), File.ReadAllBytes(Path.Combine(examples, "out", "model.back.safetensors")));
    }

    [Fact]
    public void SetUpCommand_PublishesTheToolWhereTheBlockLooksForIt()
    {
        // The block's first line finds dotnet-quant in ../artifacts/tool: build/run-example.sh must publish it there.
        string setUp = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "build", "run-example.sh"));
        Assert.Matches(@"dotnet publish src/QuantShell\.Cli/QuantShell\.Cli\.csproj[^\n]*(\\\n[^\n]*)*-o artifacts/tool\b", setUp);
    }

    [Fact]
    public void CommandLines_JoinsContinuationsAndSkipsComments()
    {
        Assert.Equal(["a \\\n  b", "c # note"], CommandLines("# comment\na \\\n  b\n\nc # note\n"));
    }

    /// <summary>The fenced code blocks of one language under a level-2 heading of the README, up to the next one.</summary>
    internal static List<string> ReadmeBlocks(string heading, string language)
    {
        string readme = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "README.md")).ReplaceLineEndings("\n");
        var section = Regex.Match(readme, $@"(?ms)^## {Regex.Escape(heading)}\n(.*?)(?=^## |\z)");
        Assert.True(section.Success, $"README.md has no section '## {heading}'");
        return Regex.Matches(section.Groups[1].Value, $@"(?ms)^```{Regex.Escape(language)}\n(.*?)^```")
                    .Select(match => match.Groups[1].Value).ToList();
    }

    /// <summary>The commands of a shell block: one per line (a trailing backslash continues it), comments and blank lines left out.</summary>
    internal static List<string> CommandLines(string block)
    {
        var commands = new List<string>();
        var current = new StringBuilder();
        foreach (string line in block.Split('\n'))
        {
            if (current.Length == 0 && (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))) continue;
            current.Append(line);
            if (line.EndsWith('\\')) { current.Append('\n'); continue; }
            commands.Add(current.ToString());
            current.Clear();
        }
        if (current.Length > 0) commands.Add(current.ToString());
        return commands;
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        foreach (string folder in Directory.GetDirectories(from))
        {
            // A run of the examples in the clone leaves examples/out: not part of what ships.
            if (Path.GetFileName(folder) == "out") continue;
            CopyDirectory(folder, Path.Combine(to, Path.GetFileName(folder)));
        }
    }

    /// <summary>A path under the block's output folder, as the block names it (out/x.q.npy, out/weights).</summary>
    [GeneratedRegex(@"(?<![\w./-])out/[\w.-]+")]
    private static partial Regex OutputPath();
}
