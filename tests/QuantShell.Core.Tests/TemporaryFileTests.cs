using System.Text;
using QuantShell.Core.IO;

namespace QuantShell.Core.Tests;

/// <summary>
/// Temporary files say where they come from (<c>.NAME.quantshell-PID-RANDOM.tmp</c>), and the stale ones a killed run
/// left are removed by the next run: only that pattern, only in the folder written to, only when not written for a
/// minute and their process is gone. The killed-process case with the real tool: QuantShell.Cli.Tests' SignalTests.
/// </summary>
public sealed class TemporaryFileTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TemporaryName_NamesTheOutputAndTheProcess()
    {
        string temp = TemporaryFiles.NewPath(_temp.File("out.npy"));
        Assert.Equal(_temp.Path, Path.GetDirectoryName(temp));
        Assert.Matches(@"^\.out\.npy\.quantshell-[0-9]+-[0-9a-f]{12}\.tmp$", Path.GetFileName(temp));
        Assert.True(TemporaryFiles.IsTemporaryName(Path.GetFileName(temp), out int processId));
        Assert.Equal(Environment.ProcessId, processId);
        Assert.NotEqual(temp, TemporaryFiles.NewPath(_temp.File("out.npy")));
    }

    [Theory]
    [InlineData(250, 'a')]
    [InlineData(120, 'é')]   // two bytes each in UTF-8
    public void LongOutputName_GivesATemporaryNameWithinTheFileSystemLimit(int length, char letter)
    {
        string name = new string(letter, length - 4) + ".npy";
        Assert.True(Encoding.UTF8.GetByteCount(name) <= 255);
        string temp = TemporaryFiles.NewPath(_temp.File(name));
        Assert.InRange(Encoding.UTF8.GetByteCount(Path.GetFileName(temp)), 1, 255);
        Assert.True(TemporaryFiles.IsTemporaryName(Path.GetFileName(temp), out _));
        File.WriteAllBytes(temp, [1]); // the file system accepts the name
    }

    [Fact]
    public void CleanStale_RemovesOnlyOwnPattern_OldAndOfAGoneProcess_InThatFolder()
    {
        const int gone = 2_000_000_000; // above any pid_max: no such process
        var old = DateTime.UtcNow - TimeSpan.FromMinutes(2);
        string Make(string name, DateTime written)
        {
            string path = _temp.File(name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, [1, 2, 3]);
            File.SetLastWriteTimeUtc(path, written);
            return path;
        }
        string stale = Make($".x.npy.quantshell-{gone}-0123456789ab.tmp", old);
        var kept = new[]
        {
            Make($".y.npy.quantshell-{gone}-0123456789ab.tmp", DateTime.UtcNow),   // written less than a minute ago
            Make($".z.npy.quantshell-{Environment.ProcessId}-0123456789ab.tmp", old), // its process runs (this one)
            Make(".x.npy.0123456789abcdef0123456789abcdef.tmp", old),              // another pattern (older QuantShell, other tools)
            Make($"x.npy.quantshell-{gone}-0123456789ab.tmp", old),                // not hidden: not ours
            Make($".x.npy.quantshell-{gone}-0123456789ab.tmp.keep", old),
            Make($"sub/.x.npy.quantshell-{gone}-0123456789ab.tmp", old),           // another folder
        };
        Assert.Equal(1, TemporaryFiles.CleanStale(_temp.Path, DateTime.UtcNow - TemporaryFiles.StaleAfter));
        Assert.False(File.Exists(stale));
        Assert.All(kept, path => Assert.True(File.Exists(path), path));
    }

    [Fact]
    public void CleanStale_OfAProcessThatRuns_KeepsItsFile()
    {
        // PID 1 always runs.
        string path = _temp.File(".x.npy.quantshell-1-0123456789ab.tmp");
        File.WriteAllBytes(path, [1]);
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - TimeSpan.FromHours(1));
        Assert.Equal(0, TemporaryFiles.CleanStale(_temp.Path, DateTime.UtcNow - TemporaryFiles.StaleAfter));
        Assert.True(File.Exists(path));
    }
}
