using QuantShell.Core.Diagnostics;
using QuantShell.Core.Errors;

namespace QuantShell.Core.IO;

/// <summary>
/// Writes files so nothing is lost, whatever happens meanwhile. Every output of the core goes through here:
/// <list type="bullet">
/// <item>the data goes into a temporary file in the target folder (<see cref="TemporaryFiles"/>), renamed into place only
/// when complete: a failure, a full disk or a cancellation removes it and leaves an existing file byte-identical;</item>
/// <item>an existing file (or symbolic link, or anything else at that name) is replaced only with
/// <see cref="WriteOptions.Force"/>; without it, of several processes writing one name at once exactly one wins, decided
/// by the file system (<see cref="RenameIntoPlace"/>), and the others report that the output exists;</item>
/// <item>with <see cref="WriteOptions.Force"/> the rename replaces the name atomically: a reader sees the old file or the
/// new one, never a mix; a symbolic link at that name is replaced itself, the file it points to is never written;</item>
/// <item>with <see cref="WriteOptions.Fsync"/> the data is flushed to the disk before the rename and the folder after it.</item>
/// </list>
/// Failures are <see cref="QuantShellException"/>s naming the output: <c>NoSpaceLeft</c>, <c>OutputDirectoryUnwritable</c>,
/// <c>OutputExists</c>, <c>OutputWriteFailed</c>.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Checks that <paramref name="path"/> may be written: its folder exists (and is a folder), it is not a folder, and
    /// nothing is at that name unless <paramref name="force"/>. <paramref name="name"/> names it in messages.
    /// </summary>
    public static void CheckWritable(string path, bool force, string? name = null)
    {
        string full = Path.GetFullPath(path);
        path = name ?? path;
        if (Directory.Exists(full))
            throw new QuantShellException($"{path}: is a directory; give a file name for the output.", ErrorIds.OutputIsDirectory, QuantShellErrorKind.InvalidArgument, path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
        {
            if (directory is not null && FileInTheWay(directory) is { } file)
                throw new QuantShellException($"{path}: '{file}' is a file, not a folder, so the output cannot be written under it.", ErrorIds.OutputDirectoryIsFile, QuantShellErrorKind.WriteFailed, path);
            throw new QuantShellException($"{path}: the output directory '{directory}' does not exist.", ErrorIds.OutputDirectoryNotFound, QuantShellErrorKind.NotFound, path);
        }
        if (!force && FileIdentity.EntryExists(full)) throw Exists(path, full);
    }

    /// <summary>Runs <paramref name="write"/> against a temporary file, then renames it to <paramref name="path"/>.</summary>
    public static T Write<T>(string path, WriteOptions options, Func<Stream, T> write, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(write);
        CheckWritable(path, options.Force, name);
        string full = Path.GetFullPath(path);
        string shown = name ?? path;
        string directory = Path.GetDirectoryName(full)!;
        TemporaryFiles.CleanStaleIfDue(directory);
        string temp = TemporaryFiles.NewPath(full);
        FileStream stream;
        try
        {
            // No FileStream buffer: callers write whole chunks (the .npy header is the only small write). Registered
            // while it is written, so that a process ended by a signal removes it first (RemoveTemporaryFiles).
            stream = TemporaryFiles.Create(temp);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CannotCreate(ex, shown, directory);
        }

        T result;
        bool placed = false;
        try
        {
            var flush = default(PhaseTimer);
            using (stream)
            {
                result = write(stream);
                flush = Timeline.Time(TimelinePhase.Flush);
                stream.Flush(flushToDisk: options.Fsync);
            }
            flush.Dispose();
            using var rename = Timeline.Time(TimelinePhase.Rename);
            if (options.Force) RenameIntoPlace.Replacing(temp, full);
            else if (!RenameIntoPlace.WithoutReplacing(temp, full))
                throw new QuantShellException($"{shown}: the output file was created by another process while this one was writing; nothing was written (use {Parameter.Force} to replace it).",
                    ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, shown);
            placed = true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw CannotWrite(ex, shown, directory);
        }
        finally
        {
            if (!placed) TryDelete(temp);
            TemporaryFiles.Forget(temp);
        }

        if (options.Fsync)
        {
            try
            {
                RenameIntoPlace.FlushDirectory(directory);
            }
            catch (IOException ex)
            {
                throw new QuantShellException($"{shown}: the file is complete and in place, but its folder '{directory}' could not be flushed to the disk ({ex.Message}); it may not survive a power cut.",
                    ErrorIds.OutputWriteFailed, QuantShellErrorKind.WriteFailed, shown, ex);
            }
        }
        return result;
    }

    /// <summary>
    /// Removes the temporary files of every write in progress in this process and returns how many: for a host about to
    /// end the process at once (a second Ctrl+C, a SIGTERM no one cancels), after which nothing else would remove them.
    /// Those writes then fail (their file is gone). <paramref name="processEnding"/>: the process ends right after this
    /// call, so writes that would start afterwards are refused (<see cref="OperationCanceledException"/>) rather than
    /// leave a file. Safe to call from any thread; never fails.
    /// </summary>
    public static int RemoveTemporaryFiles(bool processEnding) => TemporaryFiles.RemoveLive(processEnding);

    public static void Write(string path, WriteOptions options, Action<Stream> write, string? name = null) =>
        Write<object?>(path, options, stream => { write(stream); return null; }, name);

    /// <summary>The errno behind an I/O exception (.NET on Unix keeps it as the HResult), or 0.</summary>
    internal static int ErrnoOf(Exception exception) => exception switch
    {
        UnauthorizedAccessException => Posix.EACCES,
        IOException io when io.HResult is > 0 and < 4096 => io.HResult,
        _ => 0,
    };

    private static QuantShellException Exists(string shown, string full)
    {
        string what = FileIdentity.IsSymbolicLink(full)
            ? $"is a symbolic link (to '{new FileInfo(full).LinkTarget}'); use {Parameter.Force} to replace the link itself (the file it points to is never written)"
            : $"the output file already exists; use {Parameter.Force} to replace it";
        return new QuantShellException($"{shown}: {what}.", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, shown);
    }

    private static QuantShellException CannotCreate(Exception ex, string shown, string directory)
    {
        int errno = ErrnoOf(ex);
        if (errno is Posix.EACCES or Posix.EPERM or Posix.EROFS)
        {
            string why = errno == Posix.EROFS ? "it is on a read-only file system" : "permission denied";
            return new QuantShellException($"{shown}: the output folder '{directory}' is not writable ({why}); nothing was written.",
                ErrorIds.OutputDirectoryUnwritable, QuantShellErrorKind.WriteFailed, shown, ex);
        }
        return CannotWrite(ex, shown, directory);
    }

    private static QuantShellException CannotWrite(Exception ex, string shown, string directory)
    {
        int errno = ErrnoOf(ex);
        if (errno is Posix.ENOSPC or Posix.EDQUOT)
        {
            string why = errno == Posix.EDQUOT ? "the disk quota is exhausted" : "no space left on the device";
            return new QuantShellException($"{shown}: {why} of '{directory}'; nothing was written, and any existing file is unchanged.",
                ErrorIds.NoSpaceLeft, QuantShellErrorKind.WriteFailed, shown, ex);
        }
        return new QuantShellException($"{shown}: cannot be written ({ex.Message}); nothing was written, and any existing file is unchanged.",
            ErrorIds.OutputWriteFailed, QuantShellErrorKind.WriteFailed, shown, ex);
    }

    // The nearest existing ancestor, when it is a file: "a.npy/out.npy" cannot be written because a.npy is a file.
    private static string? FileInTheWay(string directory)
    {
        for (string? folder = directory; folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (Directory.Exists(folder)) return null;
            if (File.Exists(folder)) return folder;
        }
        return null;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
