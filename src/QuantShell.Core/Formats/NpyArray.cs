using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;

namespace QuantShell.Core.Formats;

/// <summary>
/// A whole .npy array in memory, in C order. <see cref="Data"/> is <c>Half[]</c>, <c>float[]</c> or <c>double[]</c>
/// for float16, float32 and float64 files; integer and bool files are read as float32.
/// </summary>
public sealed class NpyArray
{
    public NpyArray(long[] shape, Array data, DType? sourceDType = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        DType = data switch
        {
            Half[] => DType.Float16,
            float[] => DType.Float32,
            double[] => DType.Float64,
            _ => throw new ArgumentException($"Data must be Half[], float[] or double[], not {data.GetType().Name}.", nameof(data)),
        };
        long count = shape.Aggregate(1L, (a, b) => checked(a * b));
        if (count != data.Length) throw new ArgumentException($"Shape {NpyHeader.FormatShape(shape)} needs {count} elements but data has {data.Length}.", nameof(data));
        Shape = shape;
        Data = data;
        SourceDType = sourceDType ?? DType;
    }

    public long[] Shape { get; }
    public Array Data { get; }

    /// <summary>The in-memory float dtype (little-endian).</summary>
    public DType DType { get; }

    /// <summary>The dtype the file had, e.g. <c>&gt;i2</c> for a big-endian int16 file read as float32.</summary>
    public DType SourceDType { get; }

    public long ElementCount => Data.LongLength;

    /// <summary>Reads a whole file (any supported version, dtype and order) into C order.</summary>
    public static NpyArray Read(string path)
    {
        using var stream = NpyFiles.OpenRead(path);
        return Read(stream, path);
    }

    public static NpyArray Read(Stream stream, string name) => ReadData(stream, NpyHeader.Read(stream, name), name);

    /// <summary>Reads the data that follows a header already read from <paramref name="stream"/>.</summary>
    public static NpyArray ReadData(Stream stream, NpyHeader header, string name)
    {
        var dtype = header.DType;
        Array data;
        if (dtype.Kind == DTypeKind.Float && dtype.ItemSize == 8) data = ReadElements<double>(stream, header, name);
        else
        {
            var floats = ReadElements<float>(stream, header, name);
            data = dtype.Kind == DTypeKind.Float && dtype.ItemSize == 2 ? floats.Select(f => (Half)f).ToArray() : floats;
        }
        return new NpyArray(header.Shape, data, dtype);
    }

    internal static T[] ReadElements<T>(Stream stream, NpyHeader header, string name) where T : unmanaged
    {
        long count = header.ElementCount;
        if (count > Array.MaxLength)
            throw new TensorFormatException(name, $"shape {header.ShapeText} has too many elements to hold in memory at once.", ErrorIds.NpyArrayTooLarge);
        int itemSize = header.DType.ItemSize;
        if (stream is FileStream { CanSeek: true } file && header.DataBytes >= NpyFiles.ParallelReadBytes && Environment.ProcessorCount > 1)
        {
            var inParts = ReadInParts<T>(file, header, name);
            return header.FortranOrder ? FortranToC(inParts, header.Shape) : inParts;
        }
        var buffer = new byte[Math.Min(NpyFiles.ChunkBytes, Math.Max(itemSize, header.DataBytes))];
        int perChunk = buffer.Length / itemSize;
        // A seekable file's size was checked against the header before we got here, so the whole array can be
        // allocated up front (every element is written below, so it need not be zeroed first; large ones in huge pages).
        // A pipe's header is only a claim: grow with the data that really arrives instead.
        var values = stream.CanSeek ? LargeArrays.Allocate<T>((int)count) : new T[Math.Min(count, perChunk)];
        for (long start = 0; start < count; start += perChunk)
        {
            int n = (int)Math.Min(perChunk, count - start);
            NpyFiles.ReadExactly(stream, buffer.AsSpan(0, n * itemSize), name, header);
            if (start + n > values.LongLength) Array.Resize(ref values, (int)Math.Min(count, Math.Max(start + n, values.LongLength * 2)));
            ElementConverter.Decode(buffer.AsSpan(0, n * itemSize), header.DType, values.AsSpan((int)start, n));
        }
        NpyFiles.ExpectEnd(stream, name, header);
        return header.FortranOrder ? FortranToC(values, header.Shape) : values;
    }

    /// <summary>
    /// A large file's data read by several threads at once, each a part of it at its own offset into its own place in the
    /// array (the same values as one chunk after the other). Filling fresh memory costs the kernel a page fault and a
    /// zeroed page per page, which the parts share out among the cores; the file's position is left after the data, as
    /// the sequential read leaves it.
    /// </summary>
    private static T[] ReadInParts<T>(FileStream file, NpyHeader header, string name) where T : unmanaged
    {
        long count = header.ElementCount, dataStart = file.Position;
        int itemSize = header.DType.ItemSize, perChunk = NpyFiles.ChunkBytes / itemSize;
        var values = LargeArrays.Allocate<T>((int)count);
        var handle = file.SafeFileHandle;
        long chunks = (count + perChunk - 1) / perChunk;
        int parts = (int)Math.Min(chunks, 2L * Environment.ProcessorCount);
        long chunksPerPart = (chunks + parts - 1) / parts;
        try
        {
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, () => new byte[NpyFiles.ChunkBytes], (part, _, buffer) =>
            {
                long end = Math.Min(count, (part + 1) * chunksPerPart * perChunk);
                for (long start = part * chunksPerPart * perChunk; start < end; start += perChunk)
                {
                    int n = (int)Math.Min(perChunk, end - start);
                    var bytes = buffer.AsSpan(0, n * itemSize);
                    if (TensorFileHandles.ReadUpTo(handle, bytes, dataStart + start * itemSize) < bytes.Length) throw NpyFiles.Truncated(name, header);
                    ElementConverter.Decode(bytes, header.DType, values.AsSpan((int)start, n));
                }
                return buffer;
            }, _ => { });
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            // One error, as the sequential read gives (the first part's that failed).
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }
        file.Position = dataStart + header.DataBytes;
        return values;
    }

    /// <summary>Reorders elements stored in Fortran (column-major) order into C (row-major) order.</summary>
    internal static T[] FortranToC<T>(T[] fortran, long[] shape) where T : unmanaged
    {
        if (shape.Length < 2 || fortran.Length == 0) return fortran;
        var c = LargeArrays.Allocate<T>(fortran.Length); // every element is written below
        int rank = shape.Length;
        var fortranStride = new long[rank];
        fortranStride[0] = 1;
        for (int d = 1; d < rank; d++) fortranStride[d] = fortranStride[d - 1] * shape[d - 1];
        var index = new long[rank];
        long offset = 0;
        for (long i = 0; i < c.LongLength; i++)
        {
            c[i] = fortran[offset];
            for (int d = rank - 1; d >= 0; d--)
            {
                if (++index[d] < shape[d]) { offset += fortranStride[d]; break; }
                offset -= (index[d] - 1) * fortranStride[d];
                index[d] = 0;
            }
        }
        return c;
    }

    /// <summary>Writes the array as a little-endian, C-order .npy file, atomically; refuses to replace a file unless <paramref name="force"/>.</summary>
    public void Write(string path, bool force = false) => Write(path, new WriteOptions { Force = force });

    /// <summary>Writes the array as a little-endian, C-order .npy file, atomically, as <paramref name="options"/> say.</summary>
    public void Write(string path, WriteOptions options) =>
        AtomicFile.Write(path, options, stream => WriteTo(stream));

    public void WriteTo(Stream stream)
    {
        NpyHeader.Write(stream, DType, Shape);
        switch (Data)
        {
            case Half[] h: stream.Write(MemoryMarshal.AsBytes(h.AsSpan())); break;
            case float[] f: stream.Write(MemoryMarshal.AsBytes(f.AsSpan())); break;
            case double[] d: stream.Write(MemoryMarshal.AsBytes(d.AsSpan())); break;
        }
    }
}

/// <summary>Shared file plumbing for .npy reading.</summary>
internal static class NpyFiles
{
    public const int ChunkBytes = 1 << 20;

    /// <summary>From how many bytes of data a file's array is read by several threads: 32 MiB (a test may lower it for its own thread).</summary>
    internal static long ParallelReadBytes
    {
        get => _parallelReadBytes ?? 32L << 20;
        set => _parallelReadBytes = value;
    }

    [ThreadStatic]
    private static long? _parallelReadBytes;

    /// <summary>Opens a file to read; errors name it as <paramref name="name"/> (the path as the user gave it).</summary>
    public static FileStream OpenRead(string path, string? name = null)
    {
        name ??= path;
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.SequentialScan);
        }
        catch (FileNotFoundException) { throw new QuantShellException($"{name}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, name); }
        catch (DirectoryNotFoundException) { throw new QuantShellException($"{name}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, name); }
        catch (UnauthorizedAccessException ex) { throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex); }
        catch (IOException ex) { throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex); }
    }

    public static void ReadExactly(Stream stream, Span<byte> buffer, string name, NpyHeader header)
    {
        if (NpyHeader.ReadUpTo(stream, buffer) < buffer.Length) throw Truncated(name, header);
    }

    /// <summary>The error of data that ends before the header's shape is filled (read in order or in parts).</summary>
    public static TensorFormatException Truncated(string name, NpyHeader header) =>
        new(name, $"data is truncated: shape {header.ShapeText} of {header.DType.Name} needs {header.DataBytes} bytes.", ErrorIds.NpyDataTruncated);

    /// <summary>For streams whose length is unknown up front (stdin), checks that nothing follows the data.</summary>
    public static void ExpectEnd(Stream stream, string name, NpyHeader header)
    {
        if (stream.CanSeek) return; // checked against the length when the header was read
        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) != 0)
            throw new TensorFormatException(name, $"trailing data after the array of shape {header.ShapeText} ({header.DataBytes} bytes).", ErrorIds.NpyTrailingData);
    }
}
