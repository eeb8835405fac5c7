using Microsoft.Win32.SafeHandles;

namespace QuantShell.Core.Formats;

/// <summary>
/// A tensor stream whose next bytes lie as they are, contiguous, in a regular file, so the streaming path can map them
/// instead of reading them (<c>Processing/MappedInput</c>): a file window, a stored zip entry, a tensor view of either.
/// The stream still sees every byte (a zip entry checks its CRC-32 over them) and its position moves on as if they had
/// been read.
/// </summary>
internal interface IMappableSource
{
    /// <summary>The file and offset of the next <paramref name="length"/> bytes, or null when they are not stored as they are.</summary>
    (SafeFileHandle Handle, long Offset)? MappableRegion(long length);

    /// <summary>The next bytes, mapped and used by the caller, in order (what reading them would have seen).</summary>
    void Observe(ReadOnlySpan<byte> bytes);

    /// <summary>Moves past <paramref name="length"/> bytes, all of them observed.</summary>
    void Advance(long length);
}
