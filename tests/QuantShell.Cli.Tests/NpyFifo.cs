using QuantShell.Core.Formats;

namespace QuantShell.Cli.Tests;

/// <summary>
/// A named pipe that a test feeds with .npy bytes, so that the tool reading it is certainly mid-file when the test acts
/// (sends a signal, lets two writers finish together). Writes happen on a thread of their own: opening a FIFO for
/// writing waits until the tool opens it for reading.
/// </summary>
internal sealed class NpyFifo
{
    public NpyFifo(string path)
    {
        Path = path;
        var (code, output) = Shell.Run("mkfifo", path);
        Assert.True(code == 0, $"mkfifo {path}: {output}");
    }

    public string Path { get; }

    /// <summary>The .npy header of a float32 vector of <paramref name="count"/> values.</summary>
    public static byte[] Header(long count)
    {
        using var buffer = new MemoryStream();
        NpyHeader.Write(buffer, DType.Float32, [count]);
        return buffer.ToArray();
    }

    /// <summary>Opens the pipe for writing (once the tool opens it) and runs <paramref name="feed"/> on it.</summary>
    public Task Feed(Func<Stream, Task> feed) => Task.Run(async () =>
    {
        await using var pipe = new FileStream(Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        await feed(pipe);
    });

    /// <summary>
    /// A header promising 256M float32 values, then 1 MiB of zeros every 50 ms until <paramref name="stop"/> or until the
    /// reader is gone: the tool never finishes by itself.
    /// </summary>
    public Task FeedSlowly(CancellationToken stop) => Task.Factory.StartNew(() =>
    {
        // A thread of its own and blocking writes: a busy test host (tests in parallel, each waiting on a process) may
        // leave the thread pool short for seconds, and a feeder waiting for it would leave the tool blocked in a read
        // of the pipe, where no signal's cancellation reaches it.
        try
        {
            using var pipe = new FileStream(Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            pipe.Write(Header(1L << 28));
            var chunk = new byte[1 << 20];
            while (!stop.IsCancellationRequested)
            {
                pipe.Write(chunk);
                stop.WaitHandle.WaitOne(50);
            }
        }
        catch (IOException)
        {
            // The tool stopped reading (killed, canceled).
        }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// A header promising 256M float32 values and 1 MiB of zeros, then nothing until <paramref name="stop"/>, the pipe left
    /// open: the tool reading it waits in a read that no cancellation reaches.
    /// </summary>
    public Task FeedThenStall(CancellationToken stop) => Task.Factory.StartNew(() =>
    {
        try
        {
            using var pipe = new FileStream(Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            pipe.Write(Header(1L << 28));
            pipe.Write(new byte[1 << 20]);
            stop.WaitHandle.WaitOne();
        }
        catch (IOException)
        {
            // The tool stopped reading (killed, canceled).
        }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
