using System.Diagnostics;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Signals in the middle of a file, to the real executable reading a FIFO that the test feeds slowly (so the run is
/// certainly mid-way). SIGINT and SIGTERM cancel: exit 130 / 143 and neither the output nor its temporary file is left.
/// SIGKILL cannot be caught: it leaves at most the temporary file, whose name says what made it, and the next run into
/// that folder removes it once it is stale (a minute old, its process gone).
/// </summary>
public sealed class InterruptTests : IDisposable
{
    private static readonly string[] Quantizer = ["--method", "pot", "--threshold", "1"];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableTheory]
    [InlineData("INT", 130, "canceled")]
    [InlineData("TERM", 143, "terminated (SIGTERM)")]
    public async Task Signal_MidFile_ExitsWithItsCode_AndLeavesNoFile(string signal, int exitCode, string word)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "signals and FIFOs are tested on Linux");
        var fifo = new NpyFifo(_temp.File("slow.npy"));
        using var stop = new CancellationTokenSource();
        var feeding = fifo.FeedSlowly(stop.Token);
        using var tool = StartTool(["quantize", fifo.Path, .. Quantizer, "--output", _temp.File("out.npy")], out var stderr);
        try
        {
            await WaitForTemporaryFile(tool, stderr);
            Shell.Run("kill", $"-{signal}", tool.Id.ToString());
            Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), $"the tool did not stop after SIG{signal}");
            Assert.Equal(exitCode, tool.ExitCode);
            Assert.Contains(word, await stderr);
            Assert.Empty(Directory.GetFiles(_temp.Path, "*out.npy*"));
        }
        finally
        {
            if (!tool.HasExited) tool.Kill(entireProcessTree: true);
            stop.Cancel();
            await feeding;
        }
    }

    [SkippableFact]
    public async Task Sigkill_LeavesOnlyANamedTemporaryFile_TheNextRunRemovesItOnceStale()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "signals and FIFOs are tested on Linux");
        var fifo = new NpyFifo(_temp.File("slow.npy"));
        using var stop = new CancellationTokenSource();
        var feeding = fifo.FeedSlowly(stop.Token);
        int killed;
        using (var tool = StartTool(["quantize", fifo.Path, .. Quantizer, "--output", _temp.File("out.npy")], out var stderr))
        {
            killed = tool.Id;
            try
            {
                await WaitForTemporaryFile(tool, stderr);
                Shell.Run("kill", "-KILL", tool.Id.ToString());
                Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), "the tool did not die after SIGKILL");
                Assert.Equal(128 + 9, tool.ExitCode);
            }
            finally
            {
                if (!tool.HasExited) tool.Kill(entireProcessTree: true);
                stop.Cancel();
                await feeding;
            }
        }
        // What is left: the temporary file alone, named after the output and the killed process.
        string left = Assert.Single(Directory.GetFiles(_temp.Path, "*out.npy*"));
        Assert.Matches($@"^\.out\.npy\.quantshell-{killed}-[0-9a-f]{{12}}\.tmp$", Path.GetFileName(left));

        // The next run into that folder leaves a temporary file written less than a minute ago alone...
        string input = _temp.File("x.npy");
        File.Copy(Conformance.PyTorch.File("e_seed_example.input.npy"), input);
        var run = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", input, .. Quantizer, "--output", _temp.File("a.npy")], TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(left));
        // ...and removes it once it is a minute old (its process is gone), and only it.
        File.SetLastWriteTimeUtc(left, DateTime.UtcNow - TimeSpan.FromMinutes(2));
        string other = _temp.File(".out.npy.0123456789abcdef.tmp");
        File.WriteAllBytes(other, [1]);
        File.SetLastWriteTimeUtc(other, DateTime.UtcNow - TimeSpan.FromMinutes(2));
        run = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", input, .. Quantizer, "--output", _temp.File("b.npy")], TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.False(File.Exists(left));
        Assert.True(File.Exists(other));
        Assert.True(File.Exists(_temp.File("b.npy")));
    }

    private static Process StartTool(string[] args, out Task<string> stderr)
    {
        var start = new ProcessStartInfo("dotnet", [ToolPaths.ToolAssembly, .. args])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var tool = Process.Start(start)!;
        stderr = tool.StandardError.ReadToEndAsync();
        return tool;
    }

    /// <summary>Waits until the tool's temporary output exists: it is then writing.</summary>
    private async Task WaitForTemporaryFile(Process tool, Task<string> stderr)
    {
        var clock = Stopwatch.StartNew();
        while (Directory.GetFiles(_temp.Path, ".out.npy.quantshell-*.tmp").Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the tool never started writing");
            if (tool.HasExited) Assert.Fail("the tool ended early: " + await stderr);
            await Task.Delay(20);
        }
    }
}
