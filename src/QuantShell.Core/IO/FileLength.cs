namespace QuantShell.Core.IO;

/// <summary>The length of the file a path names.</summary>
internal static class FileLength
{
    /// <summary>
    /// The length of the file, through symbolic links: <see cref="FileInfo.Length"/> of a link is the length of the
    /// link itself (the target's name), which would make a linked model look truncated. A dangling link has length 0.
    /// </summary>
    public static long Of(FileInfo info)
    {
        if (info.LinkTarget is null) return info.Length;
        return info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target ? target.Length : 0;
    }
}
