using System.Diagnostics;
using System.Runtime.InteropServices;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Two real processes quantizing different inputs to the same output name at the same moment, many rounds. Each reads
/// a FIFO fed by the test: the test waits until both are writing their temporary files, then lets both inputs finish
/// at once, so every round is a race at the rename. Without --force exactly one wins and the other reports OutputExists;
/// with --force both succeed and the last complete file wins. The output is always one complete file, never a mix, and
/// a reader reading it all along never sees anything else.
/// </summary>
public sealed class ConcurrentWriterTests : IDisposable
{
    private const int Rounds = 8, Count = 1 << 18; // 1 MiB of float32 per input
    private static readonly string[] Quantizer = ["--method", "symmetric", "--threshold", "1"];
    private readonly TempDirectory _temp = new();
    private readonly byte[][] _data;
    private readonly byte[][] _expected;

    public ConcurrentWriterTests()
    {
        var random = new Random(1414);
        _data = new byte[2][];
        _expected = new byte[2][];
        for (int i = 0; i < 2; i++)
        {
            var values = Enumerable.Range(0, Count).Select(_ => (float)(random.NextDouble() * 2 - 1) * (i + 1)).ToArray();
            _data[i] = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            string input = _temp.File($"plain{i}.npy"), output = _temp.File($"expected{i}.npy");
            File.WriteAllBytes(input, [.. NpyFifo.Header(Count), .. _data[i]]);
            var run = CliRunner.Run(["quantize", input, .. Quantizer, "--output", output]);
            Assert.True(run.ExitCode == 0, run.ToString());
            _expected[i] = File.ReadAllBytes(output);
        }
        Assert.NotEqual(_expected[0], _expected[1]);
    }

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    public async Task WithoutForce_ExactlyOneWinsEveryRound_TheOtherReportsOutputExists()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs and the no-replace rename are tested on Linux");
        string output = _temp.File("out.npy");
        var wins = new int[2];
        for (int round = 0; round < Rounds; round++)
        {
            var runs = await Race(output, force: false);
            int winner = Assert.Single(Enumerable.Range(0, 2), i => runs[i].ExitCode == 0);
            var loser = runs[1 - winner];
            Assert.True(loser.ExitCode == 4, loser.ToString());
            Assert.Contains("[OutputExists]", loser.Stderr);
            Assert.Contains("created by another process while this one was writing", loser.Stderr);
            Assert.Equal(_expected[winner], File.ReadAllBytes(output));
            Assert.Equal(new[] { "out.npy" }, Directory.GetFiles(_temp.Path, "*out.npy*").Select(Path.GetFileName));
            wins[winner]++;
            File.Delete(output);
        }
        Assert.Equal(Rounds, wins.Sum());
    }

    [SkippableFact]
    public async Task WithForce_BothSucceed_TheOutputIsAlwaysOneCompleteFile()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "FIFOs are tested on Linux");
        string output = _temp.File("out.npy");
        using var stop = new CancellationTokenSource();
        int reads = 0;
        string? bad = null;
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                // A short pause between reads leaves the two cores to the writers.
                await Task.Delay(2);
                byte[] seen;
                try { seen = File.ReadAllBytes(output); }
                catch (FileNotFoundException) { continue; } // before the first round ends
                if (!seen.AsSpan().SequenceEqual(_expected[0]) && !seen.AsSpan().SequenceEqual(_expected[1]))
                    bad ??= $"a read of {seen.Length} bytes that is neither complete output";
                reads++;
            }
        });
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                var runs = await Race(output, force: true);
                Assert.All(runs, run => Assert.True(run.ExitCode == 0, run.ToString()));
                byte[] final = File.ReadAllBytes(output);
                Assert.True(final.AsSpan().SequenceEqual(_expected[0]) || final.AsSpan().SequenceEqual(_expected[1]), "the output is no complete file");
                Assert.Equal(new[] { "out.npy" }, Directory.GetFiles(_temp.Path, "*out.npy*").Select(Path.GetFileName));
            }
        }
        finally
        {
            stop.Cancel();
            await reader;
        }
        Assert.Null(bad);
        Assert.True(reads > 0, "the reader never read the output");
    }

    /// <summary>One round: both tools writing, then both inputs finished at once; returns both runs.</summary>
    private async Task<CliRun[]> Race(string output, bool force)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fifos = Enumerable.Range(0, 2).Select(i =>
        {
            string path = _temp.File($"in{i}.npy");
            File.Delete(path);
            return new NpyFifo(path);
        }).ToArray();
        var feeding = Enumerable.Range(0, 2).Select(i => fifos[i].Feed(async pipe =>
        {
            int half = _data[i].Length / 2;
            await pipe.WriteAsync(NpyFifo.Header(Count));
            await pipe.WriteAsync(_data[i].AsMemory(0, half));
            await release.Task;
            await pipe.WriteAsync(_data[i].AsMemory(half));
        })).ToArray();
        var tools = Enumerable.Range(0, 2).Select(i =>
        {
            string[] args = [ToolPaths.ToolAssembly, "quantize", fifos[i].Path, .. Quantizer, "--output", output, .. force ? new[] { "--force" } : []];
            var start = new ProcessStartInfo("dotnet", args) { RedirectStandardError = true, RedirectStandardOutput = true };
            var process = Process.Start(start)!;
            return (Process: process, Stdout: process.StandardOutput.ReadToEndAsync(), Stderr: process.StandardError.ReadToEndAsync());
        }).ToArray();
        try
        {
            var clock = Stopwatch.StartNew();
            while (Directory.GetFiles(_temp.Path, ".out.npy.quantshell-*.tmp").Length < 2)
            {
                if (tools.FirstOrDefault(t => t.Process.HasExited) is { Process: not null } ended)
                    Assert.Fail($"a tool ended before the race: exit {ended.Process.ExitCode}: {await ended.Stderr}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the tools never both started writing");
                await Task.Delay(10);
            }
            release.SetResult();
            await Task.WhenAll(feeding);
            var runs = new CliRun[2];
            for (int i = 0; i < 2; i++)
            {
                Assert.True(tools[i].Process.WaitForExit(TimeSpan.FromSeconds(60)), "a tool did not finish");
                runs[i] = new CliRun(tools[i].Process.ExitCode, await tools[i].Stdout, await tools[i].Stderr, []);
            }
            return runs;
        }
        finally
        {
            release.TrySetResult();
            foreach (var tool in tools)
            {
                if (!tool.Process.HasExited) tool.Process.Kill(entireProcessTree: true);
                tool.Process.Dispose();
            }
        }
    }
}
