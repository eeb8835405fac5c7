using System.Buffers;
using System.Numerics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;

namespace QuantShell.Core.Processing;

/// <summary>
/// Fortran-order files reordered to C order in bounded memory. In Fortran order the first index runs fastest in the
/// file; in the C-order output the last one does. Both are covered by tiles over (first axis, last axis) for each index
/// of the axes in between: a tile is read as runs along the first axis and written as runs along the last, with
/// positioned reads and writes, so memory holds one tile whatever the file size.
/// </summary>
internal static class FortranStreaming
{
    /// <summary>Whether the tiled path applies: positioned I/O on both files, and an array that is not also C-ordered.</summary>
    public static bool Applies(Stream input, Stream output, NpyHeader header) =>
        input is FileStream { CanSeek: true } && output is FileStream { CanSeek: true }
        && header.Shape.Count(d => d > 1) > 1 && header.ElementCount > 0;

    /// <summary>Quantizes into <paramref name="output"/> after its header; returns the C-order index of the first non-finite value, or -1.</summary>
    public static long Run<T>(FileStream input, FileStream output, NpyHeader header, DType outputType,
                              QuantizationPlan plan, FileQuantizeOptions options, ref KernelStats stats, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        // View the array as (first, middle, last): in the file element (i, m, z) sits at i + first * (mF + middle * z),
        // in the output at (i * middle + mC) * last + z, where mF and mC number the middle axes in Fortran and C order.
        long[] shape = header.Shape;
        int rank = shape.Length;
        long first = shape[0], last = shape[rank - 1];
        long middle = 1;
        for (int d = 1; d < rank - 1; d++) middle *= shape[d];
        // With at most one middle axis longer than 1, mF == mC, and a tile can span several middle indices.
        bool oneMiddleAxis = shape.Skip(1).Take(Math.Max(0, rank - 2)).Count(d => d > 1) <= 1;
        int inSize = header.DType.ItemSize, outSize = outputType.ItemSize;
        long inBase = header.DataOffset, outBase = output.Position;

        // Tiles of (first x middle x last). Best: all of first and last and as many middle indices as fit, so reads run
        // over first x middles and writes over middles x last. Otherwise about square over (first, last), one middle index.
        long budget = Math.Max(64, (long)options.ChunkBytes * TileChunks / Math.Max(inSize, outSize));
        int tileFirst, tileMiddle, tileLast;
        if (first * last <= budget)
        {
            tileFirst = (int)first;
            tileLast = (int)last;
            tileMiddle = oneMiddleAxis ? (int)Math.Min(middle, budget / (first * last)) : 1;
        }
        else
        {
            tileMiddle = 1;
            tileLast = (int)Math.Min(last, Math.Max(1, (long)Math.Sqrt(budget)));
            tileFirst = (int)Math.Min(first, Math.Max(1, budget / tileLast));
            if (tileFirst == first) tileLast = (int)Math.Min(last, Math.Max(1, budget / tileFirst));
        }
        bool readsSpanMiddle = tileFirst == first;   // a read covers all of first for tileMiddle middle indices
        bool writesSpanMiddle = tileLast == last;    // a write covers all of last for tileMiddle middle indices

        int tileElements = tileFirst * tileMiddle * tileLast;
        int runElements = (readsSpanMiddle ? tileFirst * tileMiddle : tileFirst) * ReadGroup;
        byte[] rawRun = ArrayPool<byte>.Shared.Rent(runElements / ReadGroup * inSize);
        T[] run = ArrayPool<T>.Shared.Rent(runElements);
        T[] tile = ArrayPool<T>.Shared.Rent(tileElements);
        int rowElements = writesSpanMiddle ? tileMiddle * tileLast : tileLast;
        T[] quantized = ArrayPool<T>.Shared.Rent(rowElements);
        byte[] rawOut = ArrayPool<byte>.Shared.Rent(rowElements * outSize);
        try
        {
            long firstNonFinite = -1;
            var middleIndex = new long[Math.Max(0, rank - 2)];
            for (long m0 = 0; m0 < middle; m0 += tileMiddle)
            {
                int middles = (int)Math.Min(tileMiddle, middle - m0);
                long middleF = oneMiddleAxis ? m0 : FortranMiddle(middleIndex, shape);
                for (long a = 0; a < first; a += tileFirst)
                {
                    int rows = (int)Math.Min(tileFirst, first - a);
                    for (long b = 0; b < last; b += tileLast)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        int columns = (int)Math.Min(tileLast, last - b);
                        // Read: runs along first (and, when they hold all of first, along the middle indices too),
                        // a group of consecutive last-axis positions at a time, then scattered into the tile so that each
                        // store fills a run of the group's width along last rather than a single element.
                        int runLength = readsSpanMiddle ? rows * middles : rows;
                        for (int z0 = 0; z0 < columns; z0 += ReadGroup)
                        {
                            int group = Math.Min(ReadGroup, columns - z0);
                            for (int mm = 0; mm < middles; mm += readsSpanMiddle ? middles : 1)
                            {
                                for (int g = 0; g < group; g++)
                                {
                                    long offset = inBase + (a + first * (middleF + mm + middle * (b + z0 + g))) * inSize;
                                    ReadExactly(input, rawRun.AsSpan(0, runLength * inSize), offset);
                                    ElementConverter.Decode(rawRun.AsSpan(0, runLength * inSize), header.DType, run.AsSpan(g * runLength, runLength));
                                }
                                // The runs list first fastest, then middle.
                                int k = 0;
                                for (int m = mm; k < runLength; m++)
                                {
                                    for (int r = 0; r < rows; r++, k++)
                                    {
                                        int at = (r * middles + m) * columns + z0;
                                        for (int g = 0; g < group; g++) tile[at + g] = run[g * runLength + k];
                                    }
                                }
                            }
                        }
                        // Quantize and write: runs along last (and, when they hold all of last, along the middle indices).
                        for (int r = 0; r < rows; r++)
                        {
                            for (int mm = 0; mm < middles; mm += writesSpanMiddle ? middles : 1)
                            {
                                int length = writesSpanMiddle ? middles * columns : columns;
                                long cIndex = ((a + r) * middle + m0 + mm) * last + b;
                                var source = tile.AsSpan((r * middles + mm) * columns, length);
                                long before = stats.NonFinite;
                                plan.Apply<T>(source, quantized.AsSpan(0, length), cIndex, ref stats);
                                if (stats.NonFinite > before)
                                {
                                    long at = cIndex + NonFiniteInput.IndexOf<T>(source);
                                    if (firstNonFinite < 0 || at < firstNonFinite) firstNonFinite = at;
                                }
                                ElementConverter.Encode<T>(quantized.AsSpan(0, length), outputType, rawOut.AsSpan(0, length * outSize));
                                RandomAccess.Write(output.SafeFileHandle, rawOut.AsSpan(0, length * outSize), outBase + cIndex * outSize);
                            }
                        }
                    }
                }
                if (!oneMiddleAxis) NextInCOrder(middleIndex, shape);
            }
            output.Seek(outBase + header.ElementCount * outSize, SeekOrigin.Begin);
            return firstNonFinite;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rawRun);
            ArrayPool<T>.Shared.Return(run);
            ArrayPool<T>.Shared.Return(tile);
            ArrayPool<T>.Shared.Return(quantized);
            ArrayPool<byte>.Shared.Return(rawOut);
        }
    }

    /// <summary>Last-axis positions read before scattering into the tile (one 64-byte line of float32).</summary>
    private const int ReadGroup = 16;

    /// <summary>A tile holds up to this many file-path chunks (16 MiB with the default 1 MiB chunk).</summary>
    private const int TileChunks = 16;

    /// <summary>Fortran-order number of a middle multi-index (axes 1 .. rank-2, the first of them fastest).</summary>
    private static long FortranMiddle(long[] middleIndex, long[] shape)
    {
        long offset = 0, stride = 1;
        for (int k = 0; k < middleIndex.Length; k++)
        {
            offset += middleIndex[k] * stride;
            stride *= shape[k + 1];
        }
        return offset;
    }

    /// <summary>Advances a middle multi-index in C order (the last middle axis fastest).</summary>
    private static void NextInCOrder(long[] middleIndex, long[] shape)
    {
        for (int axis = middleIndex.Length - 1; axis >= 0; axis--)
        {
            if (++middleIndex[axis] < shape[axis + 1]) return;
            middleIndex[axis] = 0;
        }
    }

    private static void ReadExactly(FileStream input, Span<byte> buffer, long offset)
    {
        if (TensorFileHandles.ReadUpTo(input.SafeFileHandle, buffer, offset) < buffer.Length) throw new EndOfStreamException();
    }
}
