using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>Opens model files for positional reads, with the same errors as the .npy path for missing or unreadable files.</summary>
internal static class TensorFileHandles
{
    public static SafeFileHandle OpenRead(string path, string name)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new QuantShellException($"{name}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex);
        }
    }

    /// <summary>Reads exactly <paramref name="buffer"/>'s length at <paramref name="offset"/>, or says the file ends early.</summary>
    public static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string name, string what)
    {
        if (ReadUpTo(handle, buffer, offset) < buffer.Length)
            throw new TensorFormatException(name, $"the file ends inside {what}.", ErrorIds.TensorDataTruncated);
    }

    /// <summary>
    /// Fills <paramref name="buffer"/> from <paramref name="offset"/> (a read may return less than asked), stopping early
    /// only where the file ends; returns how many bytes were read. The caller says what a short read means.
    /// </summary>
    public static int ReadUpTo(SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int got = RandomAccess.Read(handle, buffer[total..], offset + total);
            if (got == 0) break;
            total += got;
        }
        return total;
    }
}
