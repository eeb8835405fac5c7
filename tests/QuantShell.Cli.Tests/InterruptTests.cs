using System.Diagnostics;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Signals in the middle of a file, to the real executable reading a FIFO that the test feeds slowly (so the run is
/// certainly mid-way). SIGINT and SIGTERM cancel: exit 130 / 143 and neither the output nor its temporary file is left;
/// a second one, SIGHUP and SIGQUIT end the process at once, after removing the temporary file.
/// SIGKILL cannot be caught: it leaves at most the temporary file, whose name says what made it, and the next run into
/// that folder removes it once it is stale (a minute old, its process gone).
/// </summary>
[Collection(nameof(SignalTestsAlone))]
public sealed class InterruptTests : IDisposable
{
    private static readonly string[] Quantizer = ["--method", "pot", "--threshold", "1"];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <remarks>
    /// With <paramref name="inputStalls"/> the input stops sending (a pipe whose writer stalls), which leaves the tool in a
    /// read no cancellation reaches: the first signal still ends it, once the grace has passed, as a second one would.
    /// </remarks>
    [SkippableTheory]
    [InlineData("INT", 130, "canceled", false)]
    [InlineData("TERM", 143, "terminated (SIGTERM)", false)]
    [InlineData("INT", 130, "canceled", true)]
    [InlineData("TERM", 143, "terminated (SIGTERM)", true)]
    public async Task Signal_MidFile_ExitsWithItsCode_AndLeavesNoFile(string signal, int exitCode, string word, bool inputStalls)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "signals and FIFOs are tested on Linux");
        var fifo = new NpyFifo(_temp.File("slow.npy"));
        using var stop = new CancellationTokenSource();
        var feeding = inputStalls ? fifo.FeedThenStall(stop.Token) : fifo.FeedSlowly(stop.Token);
        using var tool = StartTool(["quantize", fifo.Path, .. Quantizer, "--output", _temp.File("out.npy")], out var stderr);
        try
        {
            await WaitForTemporaryFile(tool, stderr);
            Shell.Run("kill", $"-{signal}", tool.Id.ToString());
            Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), $"the tool did not stop after SIG{signal}: {Describe(tool)}");
            Assert.Equal(exitCode, tool.ExitCode);
            // One message, whichever ended the process (the command's cancellation or the grace).
            Assert.Equal($"dotnet-quant: {word}; no partial output file was left.", (await stderr).Trim());
            Assert.Empty(Directory.GetFiles(_temp.Path, "*out.npy*"));
        }
        finally
        {
            if (!tool.HasExited) tool.Kill(entireProcessTree: true);
            stop.Cancel();
            await feeding;
        }
    }

    /// <summary>
    /// <c>timeout</c> ends its command with a SIGTERM to the command and one to its process group, so the tool can get
    /// two SIGTERMs from nothing to a few milliseconds apart (two that close together merge into one). The first cancels,
    /// the second ends the process at once; either way the exit status is 143 and the temporary file is gone. Before the
    /// second signal removed it, the file stayed in most runs, so this races ten times, at gaps from 0 to 20 ms.
    /// </summary>
    [SkippableFact]
    public async Task TwoSigterms_ToTheProcessAndItsGroup_Exit143_AndLeaveNoFile_TenTimes()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "signals and FIFOs are tested on Linux");
        Skip.If(Shell.Find("setsid") is null, "setsid (util-linux) is not installed");
        int[] gapsMs = [0, 1, 2, 5, 10, 20, 0, 1, 2, 5];
        int rounds = 0;
        foreach (int gap in gapsMs)
        {
            string folder = Directory.CreateDirectory(_temp.File($"round{rounds}")).FullName;
            var fifo = new NpyFifo(Path.Combine(folder, "slow.npy"));
            using var stop = new CancellationTokenSource();
            var feeding = fifo.FeedSlowly(stop.Token);
            // A session (and process group) of its own, so that signalling the group reaches the tool and not the tests.
            using var tool = StartTool(["quantize", fifo.Path, .. Quantizer, "--output", Path.Combine(folder, "out.npy")], out var stderr,
                                       launcher: ["setsid"]);
            try
            {
                await WaitForTemporaryFile(tool, stderr, folder);
                Assert.Equal(tool.Id, ProcessGroupOf(tool.Id));
                string pause = gap == 0 ? "" : $"sleep {gap / 1000.0:0.000}; ";
                // The second may find the process gone already (the first one's cancellation done): not an error.
                var (code, output) = Shell.Run("sh", "-c", $"kill -TERM {tool.Id} || exit 1; {pause}kill -TERM -{tool.Id} 2>/dev/null; exit 0");
                Assert.True(code == 0, $"gap {gap} ms: kill: {output}");
                Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), $"gap {gap} ms: the tool did not stop after two SIGTERMs: {Describe(tool)}");
                Assert.True(tool.ExitCode == 143, $"gap {gap} ms: exit {tool.ExitCode}\n{await stderr}");
                Assert.Empty(Directory.GetFiles(folder, "*out.npy*"));
                rounds++;
            }
            finally
            {
                if (!tool.HasExited) tool.Kill(entireProcessTree: true);
                stop.Cancel();
                await feeding;
            }
        }
        Assert.Equal(gapsMs.Length, rounds);
    }

    /// <summary>
    /// SIGHUP (the terminal closed) and SIGQUIT (Ctrl+\) end the process at once, as their default actions do (status
    /// 129, 131), after removing the temporary file. The core dump SIGQUIT asks for is turned off for the test.
    /// </summary>
    [SkippableTheory]
    [InlineData("HUP", 129)]
    [InlineData("QUIT", 131)]
    public async Task SighupOrSigquit_EndsAtOnce_WithTheSignalsStatus_AndLeavesNoFile(string signal, int exitCode)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "signals and FIFOs are tested on Linux");
        var fifo = new NpyFifo(_temp.File("slow.npy"));
        using var stop = new CancellationTokenSource();
        var feeding = fifo.FeedSlowly(stop.Token);
        using var tool = StartTool(["quantize", fifo.Path, .. Quantizer, "--output", _temp.File("out.npy")], out var stderr,
                                   launcher: ["sh", "-c", "ulimit -c 0; exec \"$@\"", "sh"]);
        try
        {
            await WaitForTemporaryFile(tool, stderr);
            Shell.Run("kill", $"-{signal}", tool.Id.ToString());
            Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), $"the tool did not stop after SIG{signal}: {Describe(tool)}");
            Assert.True(tool.ExitCode == exitCode, $"exit {tool.ExitCode}\n{await stderr}");
            Assert.Empty(Directory.GetFiles(_temp.Path, "*out.npy*"));
        }
        finally
        {
            if (!tool.HasExited) tool.Kill(entireProcessTree: true);
            stop.Cancel();
            await feeding;
        }
    }

    /// <summary>
    /// What a process that did not stop is doing, for the failure's message: its signal masks (pending, blocked, ignored,
    /// caught) and each thread's name and where it waits in the kernel, from /proc.
    /// </summary>
    private static string Describe(Process tool)
    {
        try
        {
            var lines = File.ReadAllLines($"/proc/{tool.Id}/status").Where(line => line.StartsWith("Sig", StringComparison.Ordinal) || line.StartsWith("ShdPnd", StringComparison.Ordinal) || line.StartsWith("State", StringComparison.Ordinal)).ToList();
            foreach (string thread in Directory.GetDirectories($"/proc/{tool.Id}/task"))
                lines.Add($"{File.ReadAllText(Path.Combine(thread, "comm")).Trim()}: {File.ReadAllText(Path.Combine(thread, "wchan"))}");
            return string.Join("; ", lines);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"(its /proc entry: {ex.Message})";
        }
    }

    /// <summary>The process group of a process, from /proc (field 5 of its stat line, after the parenthesised name).</summary>
    private static int ProcessGroupOf(int processId)
    {
        string stat = File.ReadAllText($"/proc/{processId}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
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

    /// <summary>Starts the tool, through <paramref name="launcher"/> (a program and its arguments, such as timeout) if given.</summary>
    private static Process StartTool(string[] args, out Task<string> stderr, string[]? launcher = null)
    {
        string[] command = ["dotnet", ToolPaths.ToolAssembly, .. args];
        if (launcher is not null) command = [.. launcher, .. command];
        var start = new ProcessStartInfo(command[0], command[1..])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var tool = Process.Start(start)!;
        stderr = tool.StandardError.ReadToEndAsync();
        return tool;
    }

    /// <summary>Waits until the tool's temporary output exists (in <paramref name="folder"/>, else the test's folder): it is then writing.</summary>
    private async Task WaitForTemporaryFile(Process tool, Task<string> stderr, string? folder = null)
    {
        var clock = Stopwatch.StartNew();
        while (Directory.GetFiles(folder ?? _temp.Path, ".out.npy.quantshell-*.tmp").Length == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the tool never started writing");
            if (tool.HasExited) Assert.Fail("the tool ended early: " + await stderr);
            await Task.Delay(20);
        }
    }
}

/// <summary>
/// The signal tests run on their own, after the others: each waits (up to 30 s) for a process to react to a signal, and
/// a host busy with the other tests in parallel starved the waits in one CI run.
/// </summary>
[CollectionDefinition(nameof(SignalTestsAlone), DisableParallelization = true)]
public sealed class SignalTestsAlone;
