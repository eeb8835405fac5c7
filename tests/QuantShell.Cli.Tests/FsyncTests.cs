using System.Text.RegularExpressions;

namespace QuantShell.Cli.Tests;

/// <summary>
/// --fsync, observed in the system calls the real tool makes (strace; skipped with the reason where strace is missing
/// or not allowed): the temporary file is flushed before it is renamed into place, and its folder after the rename.
/// Without --fsync nothing is flushed.
/// </summary>
public sealed partial class FsyncTests : IDisposable
{
    private static readonly string[] Quantizer = ["--method", "symmetric", "--threshold", "1"];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    public void Fsync_FlushesTheFileBeforeTheRename_AndTheFolderAfter()
    {
        string? strace = Shell.Find("strace");
        Skip.If(strace is null, "strace is not installed (apt-get install strace) to watch the tool's system calls");
        string input = _temp.File("x.npy");
        File.Copy(Conformance.PyTorch.File("e_seed_example.input.npy"), input);
        string output = _temp.File("out.npy");

        var calls = Trace(strace!, ["quantize", input, .. Quantizer, "--output-path", output, "--fsync"]);
        Assert.True(File.Exists(output));
        int opened = calls.FindIndex(c => c.Name == "openat" && c.Arguments.Contains("/.out.npy.quantshell-") && c.Arguments.Contains("O_CREAT"));
        Assert.True(opened >= 0, "the temporary file was not opened:\n" + string.Join('\n', calls));
        string fileFd = calls[opened].Result;
        int fileSync = calls.FindIndex(opened, c => c.Name is "fsync" or "fdatasync" && c.Arguments == fileFd);
        int rename = calls.FindIndex(opened, c => c.Name.StartsWith("rename") && c.Arguments.Contains("/.out.npy.quantshell-") && c.Arguments.Contains($"\"{output}\""));
        Assert.True(fileSync > opened, "the temporary file was never flushed:\n" + string.Join('\n', calls));
        Assert.True(rename > fileSync, "the file was not flushed before the rename:\n" + string.Join('\n', calls));
        int folderOpened = calls.FindIndex(rename, c => c.Name == "openat" && c.Arguments.Contains($"\"{_temp.Path}\"") && c.Arguments.Contains("O_DIRECTORY"));
        Assert.True(folderOpened > rename, "the folder was not opened after the rename:\n" + string.Join('\n', calls));
        Assert.True(calls.FindIndex(folderOpened, c => c.Name == "fsync" && c.Arguments == calls[folderOpened].Result) > folderOpened,
            "the folder was not flushed:\n" + string.Join('\n', calls));

        File.Delete(output);
        calls = Trace(strace!, ["quantize", input, .. Quantizer, "--output-path", output]);
        Assert.True(File.Exists(output));
        Assert.DoesNotContain(calls, c => c.Name is "fsync" or "fdatasync");
    }

    private sealed record Call(string Name, string Arguments, string Result)
    {
        public override string ToString() => $"{Name}({Arguments}) = {Result}";
    }

    private List<Call> Trace(string strace, string[] args)
    {
        string log = _temp.File($"trace{Guid.NewGuid():N}.txt");
        var run = CliRunner.RunProcess(strace, ["-f", "-qq", "-o", log, "-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2",
                                                "dotnet", ToolPaths.ToolAssembly, .. args], TimeSpan.FromMinutes(2));
        Skip.If(run.ExitCode != 0 && !File.Exists(log), $"strace cannot trace here: {run.Stderr}");
        Assert.True(run.ExitCode == 0, run.ToString());
        var calls = File.ReadLines(log).Select(line => CallLine().Match(line)).Where(m => m.Success)
            .Select(m => new Call(m.Groups["name"].Value, m.Groups["args"].Value, m.Groups["result"].Value)).ToList();
        File.Delete(log);
        return calls;
    }

    // "1234 openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0666) = 23"
    [GeneratedRegex(@"^\d+\s+(?<name>\w+)\((?<args>.*)\)\s+=\s+(?<result>-?\d+)")]
    private static partial Regex CallLine();
}
