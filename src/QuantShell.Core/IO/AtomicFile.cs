using QuantShell.Core.Errors;

namespace QuantShell.Core.IO;

/// <summary>
/// Writes files so nothing is lost: into a temporary file in the target directory, renamed into place only when
/// complete; an existing file is replaced only with <c>force</c>; a failure or cancellation leaves no partial file.
/// </summary>
public static class AtomicFile
{
    /// <summary>Checks that <paramref name="path"/> may be written (directory exists, not a directory, no overwrite without force).</summary>
    public static void CheckWritable(string path, bool force, string? name = null)
    {
        string full = Path.GetFullPath(path);
        path = name ?? path;
        if (Directory.Exists(full))
            throw new QuantShellException($"{path}: is a directory; give a file name for the output.", ErrorIds.OutputIsDirectory, QuantShellErrorKind.InvalidArgument, path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
            throw new QuantShellException($"{path}: the output directory '{directory}' does not exist.", ErrorIds.OutputDirectoryNotFound, QuantShellErrorKind.NotFound, path);
        if (!force && File.Exists(full))
            throw new QuantShellException($"{path}: the output file already exists; use -Force (--force) to replace it.", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, path);
    }

    /// <summary>Runs <paramref name="write"/> against a temporary file, then renames it to <paramref name="path"/>.</summary>
    public static T Write<T>(string path, bool force, Func<Stream, T> write, string? name = null)
    {
        CheckWritable(path, force, name);
        string full = Path.GetFullPath(path);
        path = name ?? path;
        string directory = Path.GetDirectoryName(full)!;
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            T result;
            // No FileStream buffer: callers write whole chunks (the .npy header is the only small write).
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                result = write(stream);
                stream.Flush(flushToDisk: false);
            }
            try
            {
                File.Move(temp, full, overwrite: force);
            }
            catch (IOException) when (!force && File.Exists(full))
            {
                throw new QuantShellException($"{path}: the output file already exists; use -Force (--force) to replace it.", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, path);
            }
            return result;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException && ex is not QuantShellException)
        {
            TryDelete(temp);
            throw new QuantShellException($"{path}: cannot be written ({ex.Message}).", ErrorIds.OutputWriteFailed, QuantShellErrorKind.WriteFailed, path, ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void Write(string path, bool force, Action<Stream> write, string? name = null) =>
        Write<object?>(path, force, stream => { write(stream); return null; }, name);

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
