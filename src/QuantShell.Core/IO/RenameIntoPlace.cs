namespace QuantShell.Core.IO;

/// <summary>
/// Puts a complete temporary file into place. Without replacing, the file system decides atomically which of two
/// writers racing for one name wins: <c>renameat2(RENAME_NOREPLACE)</c>, or where a file system refuses that flag,
/// <c>link</c> then <c>unlink</c> (a link fails if the name exists). .NET's <c>File.Move(overwrite: false)</c> is not
/// used on Linux: it checks that the name is free and then calls <c>rename</c>, which replaces a file created in
/// between. Replacing is <c>rename</c>, atomic by itself: a reader sees the old file or the new one, never a mix.
/// </summary>
internal static class RenameIntoPlace
{
    /// <summary>How a no-replace rename is done; the later ones are fallbacks for file systems that refuse the earlier.</summary>
    internal enum Strategy
    {
        RenameNoReplace,
        LinkThenUnlink,
        /// <summary>Last resort for file systems with neither (no hard links, no flag): a small window remains between check and rename.</summary>
        CheckThenRename,
    }

    /// <summary>Renames <paramref name="source"/> to <paramref name="target"/> unless the target exists; false when it does.</summary>
    public static bool WithoutReplacing(string source, string target) =>
        OperatingSystem.IsLinux() ? WithoutReplacing(source, target, Strategy.RenameNoReplace) : MovePortable(source, target);

    /// <summary>The same, starting with a given strategy (tests run each one).</summary>
    internal static bool WithoutReplacing(string source, string target, Strategy strategy)
    {
        if (strategy == Strategy.RenameNoReplace)
        {
            if (Posix.RenameAt2(Posix.AtFdCwd, source, Posix.AtFdCwd, target, Posix.RenameNoReplace) == 0) return true;
            int errno = Posix.LastError;
            if (errno == Posix.EEXIST) return false;
            // EINVAL: this file system does not know the flag (some network and FUSE ones); ENOSYS: an old kernel.
            if (errno is not (Posix.EINVAL or Posix.ENOSYS or Posix.EOPNOTSUPP)) throw Error(errno, target);
            strategy = Strategy.LinkThenUnlink;
        }
        if (strategy == Strategy.LinkThenUnlink)
        {
            if (Posix.Link(source, target) == 0)
            {
                // The output is in place; a temporary name that cannot be removed now is left for the stale-file cleanup.
                try { File.Delete(source); } catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
                return true;
            }
            int errno = Posix.LastError;
            if (errno == Posix.EEXIST) return false;
            // No hard links here (vfat, some FUSE file systems) or too many of them.
            if (errno is not (Posix.EPERM or Posix.EOPNOTSUPP or Posix.EMLINK or Posix.ENOSYS)) throw Error(errno, target);
        }
        if (FileIdentity.EntryExists(target)) return false;
        File.Move(source, target, overwrite: true);
        return true;
    }

    /// <summary>Renames <paramref name="source"/> over <paramref name="target"/>; a symbolic link there is replaced itself.</summary>
    public static void Replacing(string source, string target) => File.Move(source, target, overwrite: true);

    /// <summary>Flushes a folder's entries to the disk (after a rename, so the new name survives a power cut).</summary>
    public static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux()) return; // elsewhere a folder cannot be opened to flush it; the file itself was flushed
        int fd = Posix.Open(directory, Posix.OpenReadOnly | Posix.OpenDirectory | Posix.OpenCloseOnExec);
        if (fd < 0) throw Error(Posix.LastError, directory);
        try
        {
            // EINVAL: a file system that cannot flush a folder (some FUSE ones); nothing more can be done there.
            if (Posix.Fsync(fd) != 0)
            {
                int errno = Posix.LastError;
                if (errno != Posix.EINVAL) throw Error(errno, directory);
            }
        }
        finally
        {
            Posix.Close(fd);
        }
    }

    private static bool MovePortable(string source, string target)
    {
        if (FileIdentity.EntryExists(target)) return false;
        try
        {
            File.Move(source, target, overwrite: false);
            return true;
        }
        catch (IOException) when (FileIdentity.EntryExists(target))
        {
            return false;
        }
    }

    /// <summary>An IOException carrying the errno as its HResult, as .NET's own exceptions on Unix do.</summary>
    private static IOException Error(int errno, string path) => new($"{Posix.Describe(errno)} : '{path}'", errno);
}
