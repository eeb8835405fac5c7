namespace QuantShell.Cli.Tests;

/// <summary>
/// The real tool writing onto a full disk: a 1 MiB tmpfs mounted by the test (as root; skipped with the reason
/// elsewhere). One error line naming the output with [NoSpaceLeft], exit 4, no temporary file, an existing output
/// byte-identical; the same for the quantizer file written by --export-quantizer and by 'new'.
/// </summary>
public sealed class DiskFullTests : IDisposable
{
    private static readonly string[] Quantizer = ["--method", "symmetric", "--threshold", "1"];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    public void Quantize_LargerThanTheFreeSpace_FailsWithNoSpaceLeft_Exit4_AndLosesNothing()
    {
        using var mount = ScratchMount.Tmpfs(_temp.File("full"), 1 << 20);
        var random = new Random(4);
        string input = _temp.File("big.npy");
        File.WriteAllBytes(input, [.. NpyFifo.Header(1 << 20), .. Enumerable.Range(0, 4 << 20).Select(_ => (byte)random.Next(0, 64))]);
        string output = Path.Combine(mount.Path, "out.npy");

        var run = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", input, .. Quantizer, "--output-path", output], TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 4, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"dotnet-quant: error: {output}: no space left on the device", line);
        Assert.EndsWith("[NoSpaceLeft]", line);
        Assert.Empty(Directory.GetFileSystemEntries(mount.Path));

        byte[] existing = [1, 2, 3, 4];
        File.WriteAllBytes(output, existing);
        run = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", input, .. Quantizer, "--output-path", output, "--force"], TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Contains("[NoSpaceLeft]", run.Stderr);
        Assert.Equal(existing, File.ReadAllBytes(output));
        Assert.Equal(new[] { "out.npy" }, Directory.GetFileSystemEntries(mount.Path).Select(Path.GetFileName));
    }

    [SkippableFact]
    public void QuantizerFiles_OntoAFullDisk_FailWithNoSpaceLeft_Exit4()
    {
        using var mount = ScratchMount.Tmpfs(_temp.File("full"), 1 << 20);
        string input = _temp.File("x.npy");
        File.Copy(Conformance.PyTorch.File("e_seed_example.input.npy"), input);
        using (var filler = new FileStream(Path.Combine(mount.Path, "filler"), FileMode.CreateNew))
        {
            try { while (true) filler.Write(new byte[4096]); }
            catch (IOException) { /* full */ }
        }
        string exported = Path.Combine(mount.Path, "q.json");
        var run = CliRunner.Run(["quantize", input, .. Quantizer, "--output-path", _temp.File("x.q.npy"), "--export-quantizer", exported]);
        Assert.True(run.Code == ExitCode.IOError, run.ToString());
        Assert.Contains($"{exported}: no space left", run.Stderr);
        Assert.Contains("[NoSpaceLeft]", run.Stderr);

        string created = Path.Combine(mount.Path, "new.json");
        run = CliRunner.Run(["new", "--method", "symmetric", "--threshold", "1", "--output-path", created, "--fsync"]);
        Assert.True(run.Code == ExitCode.IOError, run.ToString());
        Assert.Contains("[NoSpaceLeft]", run.Stderr);
        Assert.Equal(new[] { "filler" }, Directory.GetFileSystemEntries(mount.Path).Select(Path.GetFileName));
    }

    /// <summary>Standard output on a full device (/dev/full): one error line, the I/O exit code, not an internal error.</summary>
    [SkippableFact]
    public void StandardOutput_OnAFullDevice_IsOneErrorLine_Exit4()
    {
        Skip.IfNot(File.Exists("/dev/full"), "no /dev/full on this system");
        string input = _temp.File("x.npy");
        File.WriteAllBytes(input, [.. NpyFifo.Header(4), .. new byte[16]]);
        string command = $"exec dotnet '{ToolPaths.ToolAssembly}' inspect '{input}' > /dev/full";
        var run = CliRunner.RunProcess("bash", ["-c", command], TimeSpan.FromMinutes(1));
        Assert.True(run.ExitCode == 4, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith("dotnet-quant: error: standard output cannot be written: ", line);
        Assert.EndsWith("[NoSpaceLeft]", line);
    }
}
