using QuantShell.Core.Errors;
using QuantShell.Core.IO;

namespace QuantShell.Core.Tests;

/// <summary>Tests that act on every write of the process: they run alone, after the others, never beside them.</summary>
[CollectionDefinition(nameof(ProcessWideCollection), DisableParallelization = true)]
public sealed class ProcessWideCollection;

/// <summary>
/// The temporary files being written are registered, so that a host about to end the process at once (a signal) can
/// remove them: <see cref="AtomicFile.RemoveTemporaryFiles"/>. The write whose file was removed fails with an error
/// naming its output and leaves nothing; later writes work (a host that survives the signal goes on). With
/// processEnding the registry refuses new files for good, which only a process can test: Cli InterruptTests.
/// </summary>
[Collection(nameof(ProcessWideCollection))]
public sealed class LiveTemporaryFileTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task RemoveTemporaryFiles_RemovesTheFileBeingWritten_ItsWriteFails_LaterWritesWork()
    {
        string output = _temp.File("out.bin");
        using var writing = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var write = Task.Run(() => AtomicFile.Write(output, new WriteOptions(), stream =>
        {
            stream.Write(new byte[10]);
            writing.Set();
            release.Wait();
            stream.Write(new byte[10]);
        }));
        Assert.True(writing.Wait(TimeSpan.FromSeconds(30)));
        string temporary = Assert.Single(Directory.GetFiles(_temp.Path, ".out.bin.quantshell-*.tmp"));
        Assert.Equal(1, TemporaryFiles.LiveCount);

        Assert.Equal(1, AtomicFile.RemoveTemporaryFiles(processEnding: false));
        Assert.False(File.Exists(temporary));
        Assert.Equal(0, TemporaryFiles.LiveCount);
        release.Set();
        var error = await Assert.ThrowsAsync<QuantShellException>(() => write);
        Assert.Equal(ErrorIds.OutputWriteFailed, error.ErrorId);
        Assert.StartsWith($"{output}: cannot be written", error.Message);
        Assert.Empty(Directory.GetFiles(_temp.Path));

        AtomicFile.Write(output, new WriteOptions(), stream => stream.Write(new byte[3]));
        Assert.Equal(3, new FileInfo(output).Length);
        Assert.Equal(0, TemporaryFiles.LiveCount);
    }

    [Fact]
    public void WritesThatEnd_AreNoLongerRegistered_PlacedOrFailed()
    {
        AtomicFile.Write(_temp.File("a.bin"), new WriteOptions(), stream => stream.Write(new byte[1]));
        Assert.Throws<InvalidOperationException>(() =>
            AtomicFile.Write(_temp.File("b.bin"), new WriteOptions(), _ => throw new InvalidOperationException("the writer fails")));
        Assert.Equal(0, TemporaryFiles.LiveCount);
        Assert.Equal(0, AtomicFile.RemoveTemporaryFiles(processEnding: false));
        Assert.Equal(["a.bin"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }
}
