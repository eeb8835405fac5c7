using System.Diagnostics;
using System.Text;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Ctrl+C in the middle of a file: the real executable reads from a FIFO that a writer feeds slowly, so the run is
/// certainly mid-way when SIGINT arrives. It must exit 130 and leave neither the output nor its temporary file.
/// </summary>
public sealed class InterruptTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Sigint_MidFile_Exits130_AndLeavesNoFile()
    {
        if (!OperatingSystem.IsLinux()) return;
        string fifo = _temp.File("slow.npy");
        Run("mkfifo", fifo);
        // A header that promises 256M float32 values, then 1 MiB of zeros every 50 ms.
        string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }";
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        byte[] header = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, .. BitConverter.GetBytes((ushort)(total - 10)),
                         .. Encoding.ASCII.GetBytes(dict.PadRight(total - 11) + "\n")];
        File.WriteAllBytes(_temp.File("header.bin"), header);
        File.WriteAllBytes(_temp.File("chunk.bin"), new byte[1 << 20]);
        using var writer = Process.Start(new ProcessStartInfo("sh", ["-c", $"{{ cat '{_temp.File("header.bin")}'; while true; do cat '{_temp.File("chunk.bin")}' || exit 0; sleep 0.05; done; }} > '{fifo}' 2>/dev/null"]))!;
        string output = _temp.File("out.npy");
        var start = new ProcessStartInfo("dotnet", [ToolPaths.ToolAssembly, "quantize", fifo, "--method", "pot", "--threshold", "1", "--output", output])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var tool = Process.Start(start)!;
        var stderr = tool.StandardError.ReadToEndAsync();
        try
        {
            // Wait until the temporary output exists: the tool is then writing.
            var clock = Stopwatch.StartNew();
            while (Directory.GetFiles(_temp.Path, ".out.npy.*.tmp").Length == 0)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the tool never started writing");
                if (tool.HasExited) Assert.Fail("the tool ended early: " + await stderr);
                await Task.Delay(20);
            }
            Run("kill", "-INT", tool.Id.ToString());
            Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), "the tool did not stop after SIGINT");
            Assert.Equal(130, tool.ExitCode);
            Assert.Contains("canceled", await stderr);
            Assert.Empty(Directory.GetFiles(_temp.Path, "*out.npy*"));
        }
        finally
        {
            if (!tool.HasExited) tool.Kill(entireProcessTree: true);
            writer.Kill(entireProcessTree: true);
        }
    }

    private static void Run(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args))!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
