using System.Runtime.Versioning;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Permission errors with the real tool run as the user nobody (root ignores permission bits; skipped with the reason
/// where another user cannot be had): an unreadable input is InputFileUnreadable, a read-only output folder is
/// OutputDirectoryUnwritable, both exit 4 alone, and among several inputs the others are still written (exit 1).
/// An output folder that is a file is OutputDirectoryIsFile (exit 4).
/// </summary>
public sealed class PermissionTests : IDisposable
{
    private static readonly string[] Quantizer = ["--method", "symmetric", "--threshold", "1"];
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    [SupportedOSPlatform("linux")] // OtherUser skips elsewhere
    public void AsAnotherUser_UnreadableInputAndReadOnlyFolder_AreReported_TheOtherInputsWritten()
    {
        OtherUser.SkipUnlessAvailable(ToolPaths.ToolAssembly);
        string seed = Conformance.PyTorch.File("e_seed_example.input.npy");
        // work/: nobody's; work/secret.npy: root's, unreadable; locked/: root's, read-only for others.
        Directory.CreateDirectory(_temp.File("work"));
        Directory.CreateDirectory(_temp.File("locked"));
        File.Copy(seed, _temp.File("work/good.npy"));
        File.Copy(seed, _temp.File("work/secret.npy"));
        File.Copy(seed, _temp.File("locked/c.npy"));
        OtherUser.Chown(_temp.File("work/good.npy"));
        OtherUser.Chown(_temp.File("work"), recursive: false);
        File.SetUnixFileMode(_temp.File("work/secret.npy"), UnixFileMode.None);
        File.SetUnixFileMode(_temp.File("locked"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                                   UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        File.SetUnixFileMode(_temp.Path, File.GetUnixFileMode(_temp.Path) | UnixFileMode.OtherExecute | UnixFileMode.OtherRead);

        var run = AsNobody(["quantize", _temp.File("work/good.npy"), _temp.File("work/secret.npy"), _temp.File("locked/c.npy"), .. Quantizer]);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal(2, run.StderrLines.Length);
        Assert.Contains(run.StderrLines, line => line.Contains(_temp.File("work/secret.npy")) && line.EndsWith("[InputFileUnreadable]"));
        Assert.Contains(run.StderrLines, line => line.Contains(_temp.File("locked/c.q.npy")) && line.Contains("not writable (permission denied)") && line.EndsWith("[OutputDirectoryUnwritable]"));
        Assert.True(File.Exists(_temp.File("work/good.q.npy")), run.ToString());
        Assert.Equal(new[] { "c.npy" }, Directory.GetFiles(_temp.File("locked")).Select(Path.GetFileName));
        Assert.Equal(new[] { "good.npy", "good.q.npy", "secret.npy" }, Directory.GetFiles(_temp.File("work")).Select(Path.GetFileName).Order());

        // Each alone: exit 4.
        run = AsNobody(["quantize", _temp.File("work/secret.npy"), .. Quantizer, "--output-path", _temp.File("work/s.npy")]);
        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Contains("[InputFileUnreadable]", run.Stderr);
        run = AsNobody(["quantize", _temp.File("work/good.npy"), .. Quantizer, "--output-directory", _temp.File("locked")]);
        Assert.True(run.ExitCode == 4, run.ToString());
        Assert.Contains("[OutputDirectoryUnwritable]", run.Stderr);
    }

    [Fact]
    public void OutputFolderThatIsAFile_IsOutputDirectoryIsFile_Exit4()
    {
        string input = _temp.File("x.npy");
        File.Copy(Conformance.PyTorch.File("e_seed_example.input.npy"), input);
        var run = CliRunner.Run(["quantize", input, .. Quantizer, "--output-directory", input]);
        Assert.True(run.Code == ExitCode.IOError, run.ToString());
        Assert.EndsWith("[OutputDirectoryIsFile]", Assert.Single(run.StderrLines));
        run = CliRunner.Run(["quantize", input, .. Quantizer, "--output-path", Path.Combine(input, "out.npy")]);
        Assert.True(run.Code == ExitCode.IOError, run.ToString());
        Assert.EndsWith("[OutputDirectoryIsFile]", Assert.Single(run.StderrLines));
    }

    private static CliRun AsNobody(string[] args) =>
        CliRunner.RunProcess(Shell.Find("setpriv")!, OtherUser.Command("dotnet", [ToolPaths.ToolAssembly, .. args]), TimeSpan.FromMinutes(1));
}
