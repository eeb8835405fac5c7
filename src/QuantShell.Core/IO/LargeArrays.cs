using System.Runtime.InteropServices;

namespace QuantShell.Core.IO;

/// <summary>
/// Large arrays: a whole tensor read from a file, blocks of a tensor filled and used again many times. Fresh memory costs
/// a page fault per 4 KiB page at first touch, which for tens of MiB is a good part of reading them from the page cache
/// (on this project's virtual machine a 256 MiB array took ~0.8 s to fill, ~0.1 s in huge pages): on Linux the array's
/// whole 2 MiB pages are offered to transparent huge pages (where the system allows them for regions that ask, a fault
/// per 2 MiB), before anything touches them. Elsewhere, or where it is refused, they are ordinary arrays.
/// </summary>
internal static class LargeArrays
{
    private const long HugePage = 2L << 20;

    /// <summary>An array of <paramref name="length"/> elements whose contents are undefined until written.</summary>
    public static unsafe T[] Allocate<T>(int length) where T : unmanaged
    {
        long bytes = (long)length * sizeof(T);
        if (!OperatingSystem.IsLinux() || bytes < 2 * HugePage) return new T[length];
        // Pinned, so that the advice stays with the array; not zeroed, so that no page is touched before the advice.
        var array = GC.AllocateUninitializedArray<T>(length, pinned: true);
        fixed (T* start = array)
        {
            long first = ((long)start + HugePage - 1) & ~(HugePage - 1);
            long end = ((long)start + bytes) & ~(HugePage - 1);
            if (end > first) _ = Posix.Madvise((nint)first, (nuint)(end - first), Posix.MadvHugePage);
        }
        return array;
    }

    private const long Page = 4096;

    /// <summary>
    /// Asks Linux to map all of <paramref name="array"/>'s pages at once (<c>MADV_POPULATE_WRITE</c>), so that filling a
    /// fresh array of a MiB or more costs one call rather than a page fault per 4 KiB page (on a virtual machine a fault
    /// can cost several microseconds). The contents are unchanged; elsewhere, on older kernels (which refuse the advice)
    /// or for small arrays, nothing is done. For arrays on the large object heap, which the GC does not move.
    /// </summary>
    public static unsafe void Prefault<T>(T[] array) where T : unmanaged
    {
        long bytes = (long)array.Length * sizeof(T);
        if (!OperatingSystem.IsLinux() || bytes < 16 * Page) return;
        fixed (T* start = array)
        {
            long first = ((long)start + Page - 1) & ~(Page - 1);
            long end = ((long)start + bytes) & ~(Page - 1);
            if (end > first) _ = Posix.Madvise((nint)first, (nuint)(end - first), Posix.MadvPopulateWrite);
        }
    }
}