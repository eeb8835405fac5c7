using System.Runtime.InteropServices;

namespace QuantShell.Core.IO;

/// <summary>
/// The few Linux C library calls .NET has no API for: a file's identity (<c>statx</c>: device and inode), renaming
/// without replacing (<c>renameat2</c> with <c>RENAME_NOREPLACE</c>), hard links, and flushing a directory
/// (<c>open</c> + <c>fsync</c>), asking for huge pages (<c>madvise</c>). Only called on Linux. <c>statx</c> is used rather than <c>stat</c> because its
/// structure has the same layout on every Linux architecture (fixed-size fields), where <c>struct stat</c> differs
/// between x64, arm64 and the 32-bit ones.
/// </summary>
internal static partial class Posix
{
    private const string LibC = "libc";

    public const int AtFdCwd = -100;
    public const int AtSymlinkNoFollow = 0x100;
    public const uint StatxType = 0x1, StatxNlink = 0x4, StatxIno = 0x100, StatxMtime = 0x40;
    public const uint RenameNoReplace = 1;
    public const int OpenReadOnly = 0, OpenDirectory = 0x10000, OpenCloseOnExec = 0x80000;
    public const ushort FileTypeMask = 0xF000, FileTypeDirectory = 0x4000, FileTypeSymbolicLink = 0xA000;

    // errno values (Linux, every architecture .NET runs on).
    public const int EPERM = 1, ENOENT = 2, EACCES = 13, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, EINVAL = 22, ENOSPC = 28,
                     EROFS = 30, EMLINK = 31, ENOSYS = 38, EOPNOTSUPP = 95, EDQUOT = 122;

    /// <summary>The kernel's <c>struct statx</c> (256 bytes); only the fields QuantShell reads are named.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Inode;
        [FieldOffset(112)] public long MtimeSeconds;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;
    }

    [LibraryImport(LibC, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int StatxCall(int dirfd, string path, int flags, uint mask, out Statx buffer);

    [LibraryImport(LibC, EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int RenameAt2(int oldDirfd, string oldPath, int newDirfd, string newPath, uint flags);

    [LibraryImport(LibC, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string oldPath, string newPath);

    [LibraryImport(LibC, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(LibC, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport(LibC, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    public const int MadvHugePage = 14;

    /// <summary>Maps the range's pages now, as writes would (Linux 5.14 and later; EINVAL before).</summary>
    public const int MadvPopulateWrite = 23;

    [LibraryImport(LibC, EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);

    /// <summary>The <c>errno</c> of the last call above.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>The text of an errno, as the C library words it ("No space left on device").</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
