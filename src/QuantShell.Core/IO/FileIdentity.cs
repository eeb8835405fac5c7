namespace QuantShell.Core.IO;

/// <summary>
/// What makes a file the same file whatever path reaches it: its device and inode. Two paths name one file when they
/// are hard links of it, when one goes through a symbolic link (to the file or to a folder on the way), through
/// <c>..</c>, or through a bind mount. On Linux it comes from <c>statx</c>; elsewhere there is no inode to ask for, so
/// the path with its links resolved stands in for it.
/// </summary>
internal readonly record struct FileIdentity(ulong Device, ulong Inode, string? ResolvedPath)
{
    /// <summary>The identity of the file at <paramref name="path"/> (links followed), or null when there is none.</summary>
    public static FileIdentity? Of(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            if (Posix.StatxCall(Posix.AtFdCwd, path, 0, Posix.StatxIno, out var info) != 0) return null;
            return new FileIdentity(((ulong)info.DevMajor << 32) | info.DevMinor, info.Inode, null);
        }
        var file = new FileInfo(path);
        if (!file.Exists) return null;
        string resolved = file.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? file.FullName;
        return new FileIdentity(0, 0, resolved);
    }

    /// <summary>True when <paramref name="path"/> names a directory entry, whatever it is: a dangling symbolic link counts.</summary>
    public static bool EntryExists(string path)
    {
        if (OperatingSystem.IsLinux())
            return Posix.StatxCall(Posix.AtFdCwd, path, Posix.AtSymlinkNoFollow, Posix.StatxType, out _) == 0;
        return File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;
    }

    /// <summary>True when <paramref name="path"/> is itself a symbolic link (not followed).</summary>
    public static bool IsSymbolicLink(string path) =>
        OperatingSystem.IsLinux()
            ? Posix.StatxCall(Posix.AtFdCwd, path, Posix.AtSymlinkNoFollow, Posix.StatxType, out var info) == 0
              && (info.Mode & Posix.FileTypeMask) == Posix.FileTypeSymbolicLink
            : new FileInfo(path).LinkTarget is not null;

    /// <summary>How many directory entries (hard links) name the file at <paramref name="path"/>; 1 where unknown.</summary>
    public static uint LinkCount(string path) =>
        OperatingSystem.IsLinux() && Posix.StatxCall(Posix.AtFdCwd, path, 0, Posix.StatxNlink, out var info) == 0 ? info.Nlink : 1;
}
