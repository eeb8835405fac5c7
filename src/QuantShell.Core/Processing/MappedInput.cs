using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Processing;

/// <summary>
/// Tensor bytes of a regular file read through a memory mapping instead of <c>read</c>: the kernel then reads the page
/// cache itself, which saves copying every byte into a buffer first (issue 15: one of the three passes over the data on
/// the quantizing thread, about a fifth of a run's CPU time). The file is mapped a window at a time, so the memory it
/// adds (mapped file pages count as resident) stays at one window whatever the file's size. Before each window the
/// file's length is checked, so a file that shrank is the same error as a short read. Only a file truncated by another
/// process in the milliseconds a window is being read escapes that check: the mapping then faults (SIGBUS) and the
/// process ends as if killed; the output is never partial (it is still the temporary file, removed by a later run).
/// </summary>
internal sealed class MappedInput : IDisposable
{
    /// <summary>Bytes mapped at a time.</summary>
    public const int WindowBytes = 16 << 20;

    /// <summary>Below this many bytes a tensor is read: mapping costs more than the copy it saves.</summary>
    public const long MinimumBytes = 4 << 20;

    private readonly MemoryMappedFile _map;
    private readonly IMappableSource? _source;
    private readonly SafeFileHandle _handle;
    private readonly long _offset;
    private readonly long _length;

    private MappedInput(MemoryMappedFile map, IMappableSource? source, SafeFileHandle handle, long offset, long length)
    {
        _map = map;
        _source = source;
        _handle = handle;
        _offset = offset;
        _length = length;
    }

    /// <summary>
    /// A mapping of the next <paramref name="length"/> bytes of <paramref name="input"/> when they lie as they are in a
    /// regular file (an .npy <see cref="FileStream"/>, a model file's tensor: <see cref="IMappableSource"/>) and are
    /// many enough; else null (read them).
    /// </summary>
    public static MappedInput? TryOpen(Stream input, long length)
    {
        if (length < MinimumBytes) return null;
        (SafeFileHandle Handle, long Offset) region;
        IMappableSource? source = null;
        switch (input)
        {
            case IMappableSource mappable when mappable.MappableRegion(length) is { } found:
                region = found;
                source = mappable;
                break;
            case FileStream { CanSeek: true } file when file.GetType() == typeof(FileStream):
                region = (file.SafeFileHandle, file.Position);
                break;
            default:
                return null;
        }
        if (region.Handle.IsInvalid || RandomAccess.GetLength(region.Handle) < region.Offset + length) return null; // the read path reports it
        try
        {
            var map = MemoryMappedFile.CreateFromFile(region.Handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            return new MappedInput(map, source, region.Handle, region.Offset, length);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null; // a file system that cannot map (some FUSE ones): read it
        }
    }

    /// <summary>The mapped length.</summary>
    public long Length => _length;

    /// <summary>
    /// Maps <paramref name="length"/> bytes from <paramref name="offset"/> (relative to the tensor's first byte);
    /// <paramref name="truncated"/> is the error when the file no longer holds them. Dispose the window to unmap it.
    /// </summary>
    public Window Map(long offset, int length, Func<Exception> truncated)
    {
        if (RandomAccess.GetLength(_handle) < _offset + offset + length) throw truncated();
        return new Window(_map.CreateViewAccessor(_offset + offset, length, MemoryMappedFileAccess.Read), length);
    }

    /// <summary>Shows the stream the bytes of a window just used (a zip entry adds them to its CRC-32), in order.</summary>
    public void Observe(ReadOnlySpan<byte> bytes) => _source?.Observe(bytes);

    /// <summary>Moves <paramref name="input"/> past the bytes mapped, as reading them would have (a zip entry checks its CRC-32).</summary>
    public void Consumed(Stream input)
    {
        if (_source is not null) _source.Advance(_length);
        else input.Seek(_length, SeekOrigin.Current);
    }

    public void Dispose() => _map.Dispose();

    /// <summary>One mapped window: its bytes stay readable until it is disposed.</summary>
    public sealed unsafe class Window : IDisposable
    {
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _bytes;
        private readonly int _length;
        private bool _released;

        internal Window(MemoryMappedViewAccessor view, int length)
        {
            _view = view;
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _bytes = pointer + view.PointerOffset;
            _length = length;
        }

        public ReadOnlySpan<byte> Bytes => _released ? throw new ObjectDisposedException(nameof(Window)) : new(_bytes, _length);

        public void Dispose()
        {
            if (_released) return;
            _released = true;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
    }
}
