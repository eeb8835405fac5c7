namespace QuantShell.Core.Formats.Zip;

/// <summary>
/// One entry of a zip archive as its central directory describes it, after <see cref="ZipReader"/> checked it against
/// its local header and the file: the data lies at <see cref="DataOffset"/>, inside the file, overlapping no other entry.
/// </summary>
internal sealed record ZipEntry
{
    public required string Name { get; init; }

    /// <summary>0 (stored) or 8 (deflated); nothing else is accepted.</summary>
    public required ushort Method { get; init; }

    public required uint Crc32 { get; init; }

    public required long CompressedSize { get; init; }

    public required long UncompressedSize { get; init; }

    public required long LocalHeaderOffset { get; init; }

    /// <summary>Where the entry's (compressed) bytes start in the file.</summary>
    public required long DataOffset { get; init; }

    /// <summary>MS-DOS time and date as the archive records them (kept when the entry is copied).</summary>
    public ushort DosTime { get; init; }

    public ushort DosDate { get; init; }

    public bool IsStored => Method == ZipReader.MethodStored;

    public bool IsDirectory => Name.EndsWith('/');
}
