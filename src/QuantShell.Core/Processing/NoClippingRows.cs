using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Processing;

/// <summary>
/// The compressed-tensors writer's path for the common case: values chosen by MCT's no-clipping rule (each channel's or
/// group's value a function of its own minimum and maximum) for a POT, symmetric or uniform weight in bfloat16, float16 or
/// float32. Each half of a chunk of rows (the two at once) goes a block of rows at a time (~256 KiB of float32, still in the
/// cache when it is encoded): the block is decoded into a buffer kept for the whole tensor, each group's minimum and maximum
/// found in one vector pass, the block's values chosen from them by the same rule as the general path
/// (<see cref="Selection.ParameterSelector.SelectNoClipping{T}"/>, <see cref="ExactScales"/>), and the codes, the packed
/// words and the error sums made in one pass per group (<see cref="FakeQuantizeKernel.ApplyCodes"/>). The output, the values
/// and the error sums are bit for bit the general path's (a test holds it so); a chunk with a value that is not finite, or
/// one whose general path would sum its errors in another order, is left to the general path.
/// </summary>
internal sealed class NoClippingRows : IDisposable
{
    private readonly DType _dtype;
    private readonly int _columns;
    private readonly int _groupSize;
    private readonly int _groups;
    private readonly float[] _values;
    private readonly float[] _mins;
    private readonly float[] _maxs;
    private readonly int[][] _codes = new int[2][];
    private readonly int _blockRows;

    private const int BlockValues = 1 << 16;

    private NoClippingRows(DType dtype, int columns, int? groupSize, int rowsPerChunk)
    {
        _dtype = dtype;
        _columns = columns;
        _groupSize = groupSize is int g ? Math.Min(g, columns) : columns;
        _groups = groupSize is int size ? (columns + size - 1) / size : 1;
        // Blocks of rows of about 256 KiB of float32 each, so that a block's values are still in the cache when they are
        // encoded. Pooled: fresh memory costs a page fault per page, and the next weight reuses these.
        _blockRows = Math.Clamp(BlockValues / columns, 1, Math.Max(1, rowsPerChunk));
        _values = ArrayPool<float>.Shared.Rent(checked(2 * _blockRows * columns));
        _mins = ArrayPool<float>.Shared.Rent(checked(2 * _blockRows * _groups));
        _maxs = ArrayPool<float>.Shared.Rent(2 * _blockRows * _groups);
        _codes[0] = ArrayPool<int>.Shared.Rent(columns);
        _codes[1] = ArrayPool<int>.Shared.Rent(columns);
    }

    public void Dispose()
    {
        ArrayPool<float>.Shared.Return(_values);
        ArrayPool<float>.Shared.Return(_mins);
        ArrayPool<float>.Shared.Return(_maxs);
        ArrayPool<int>.Shared.Return(_codes[0]);
        ArrayPool<int>.Shared.Return(_codes[1]);
    }

    /// <summary>Chunks written by this path, and chunks left to the general one (for tests).</summary>
    public long Chunks { get; private set; }

    public long Declined { get; private set; }

    /// <summary>The path for <paramref name="tensor"/> (rows of <paramref name="rowsPerChunk"/>), or null when it does not apply.</summary>
    public static NoClippingRows? For(StoredTensor tensor, QuantizerRecipe recipe, int rowsPerChunk)
    {
        if (!recipe.ChoosesFromExtremes || recipe.Spec.Method is not (QuantizationMethod.Symmetric or QuantizationMethod.Pot or QuantizationMethod.Uniform)) return null;
        if (!Vector256.IsHardwareAccelerated || tensor.Rank != 2 || tensor.DType.BigEndian) return null;
        if (tensor.DType.Kind is not (DTypeKind.Float or DTypeKind.BFloat) || tensor.DType.ItemSize is not (2 or 4) || tensor.DType.Kind == DTypeKind.BFloat && tensor.DType.ItemSize != 2)
            return null;
        if (tensor.Shape[1] is < 1 or > int.MaxValue / 4) return null;
        return new NoClippingRows(tensor.DType, (int)tensor.Shape[1], recipe.Spec.GroupSize, rowsPerChunk);
    }

    /// <summary>
    /// Writes the packed words of the <paramref name="n"/> rows in <paramref name="raw"/> into <paramref name="packed"/> and
    /// adds their errors to <paramref name="stats"/>, as the general path would. The general path's two halves of the rows
    /// are done at once, each a block at a time: <paramref name="choose"/> gives the spec and grids of a block's rows from
    /// their minima and maxima (each channel's value depends on its own values only, so they are the chunk's), and
    /// <paramref name="keep"/> keeps the blocks' specs in order once both halves are done. False (nothing kept, nothing
    /// added) leaves the chunk to the general path: a value that is not finite, a choice that fails (the general path then
    /// gives its own error), or error sums the general path would add in another order.
    /// </summary>
    public bool TryChunk(byte[] raw, int n, Func<float[], float[], int, (QuantizerSpec Spec, Grid<float>[] Grids)> choose, Action<QuantizerSpec> keep,
                         byte[] packed, int words, int offset, int bits, int parallelFrom, ref KernelStats stats)
    {
        int count = n * _columns;
        if (!GridPlan.AppliesRunByRunFloat(count, (long)n * _groups, _groupSize, count))
        {
            Declined++;
            return false;
        }
        int middle = count >= parallelFrom ? n / 2 : n;
        var halves = new KernelStats[2];
        var specs = new List<QuantizerSpec>[] { [], [] };
        var done = new bool[2];
        // Each half a block of rows at a time: its values and extremes, the choice of its channels, its codes and words.
        // The error sums run on in the half's own sums, group after group, as the general path adds them.
        void Half(int from, int to, int half)
        {
            for (int block = from; block < to; block += _blockRows)
            {
                int end = Math.Min(block + _blockRows, to);
                int values = half * _blockRows * _columns, sets = (end - block) * _groups, extremes = half * _blockRows * _groups;
                if (!Extremes(raw, block, end, values, extremes)) return;
                QuantizerSpec spec;
                Grid<float>[] grids;
                try
                {
                    (spec, grids) = choose(_mins.AsSpan(extremes, sets).ToArray(), _maxs.AsSpan(extremes, sets).ToArray(), end - block);
                }
                catch (Errors.QuantShellException)
                {
                    return;
                }
                if (grids.Length != sets) return;
                foreach (var g in grids)
                    if (!float.IsFinite(g.Inverse)) return;
                Encode(grids, packed, block, end, values, words, offset, bits, _codes[half], ref halves[half]);
                specs[half].Add(spec);
            }
            done[half] = true;
        }
        if (middle > 0 && middle < n) Parallel.Invoke(() => Half(0, middle, 0), () => Half(middle, n, 1));
        else
        {
            Half(0, middle, 0);
            Half(middle, n, 1);
        }
        if (!done[0] || !done[1])
        {
            Declined++;
            return false;
        }
        foreach (var spec in specs[0].Concat(specs[1])) keep(spec);
        foreach (var half in halves)
        {
            stats.NonFinite += half.NonFinite;
            stats.Finite += half.Finite;
            stats.SumSquaredError += half.SumSquaredError;
            stats.SumSquaredSignal += half.SumSquaredSignal;
        }
        Chunks++;
        return true;
    }

    /// <summary>Chunks written by the fused route (<see cref="TryDirect"/>), for tests.</summary>
    public long FusedChunks { get; private set; }

    /// <summary>
    /// The fused route, once a weight's values are chosen group by group (<paramref name="choice"/>, taken after it gave
    /// what the general choice gives for the weight's first block): the <paramref name="chunks"/> chunks of
    /// <paramref name="rowsPerChunk"/> rows from <paramref name="firstRow"/> on (fewer rows at the tensor's end), each group
    /// read, decoded, its minimum and maximum found, its value chosen and its codes, words and error sums made while it is
    /// in the cache. Every half of every chunk (the general path's halves) is a unit of work, and the units run on every
    /// core at once, each reading its own rows (<paramref name="open"/>: a stream of the tensor's bytes per unit, read at
    /// positions); each unit's error sums are its own, added here in the order the general path adds them, so the totals
    /// are its own. Writes the rows' words into <paramref name="packed"/> and their thresholds into
    /// <paramref name="thresholds"/> and their scales into <paramref name="scales"/> (from <paramref name="at"/> on); false (nothing added) leaves the rows to <see cref="TryChunk"/> and the general path.
    /// </summary>
    public bool TryDirect(Func<Stream> open, long firstRow, int rowsPerChunk, int chunks, long rows, SymmetricGroupChoice choice, double[] thresholds, float[] scales, int at,
                          byte[] packed, int words, int offset, int bits, int parallelFrom, ref KernelStats stats)
    {
        long windowRows = Math.Min((long)chunks * rowsPerChunk, rows - firstRow);
        chunks = (int)((windowRows + rowsPerChunk - 1) / rowsPerChunk);
        var units = new (int From, int To)[2 * chunks];
        for (int k = 0; k < chunks; k++)
        {
            int from = k * rowsPerChunk, n = (int)Math.Min(rowsPerChunk, windowRows - from);
            if (n <= 0) return false;
            int count = n * _columns;
            if (!GridPlan.AppliesRunByRunFloat(count, (long)n * _groups, _groupSize, count)) return false;
            int middle = count >= parallelFrom ? n / 2 : n;
            units[2 * k] = (from, from + middle);
            units[2 * k + 1] = (from + middle, from + n);
        }
        var sums = new KernelStats[units.Length];
        int failed = 0;
        try
        {
            Parallel.For(0, units.Length, (u, loop) =>
            {
                if (Volatile.Read(ref failed) != 0) return;
                if (!Unit(open, firstRow, units[u].From, units[u].To, choice, thresholds, scales, at, packed, words, offset, bits, ref sums[u]))
                {
                    Volatile.Write(ref failed, 1);
                    loop.Stop();
                }
            });
        }
        catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
        {
            // A read that fails (a file that shrank) is the tensor's error, as the general path gives it.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
        }
        if (failed != 0)
        {
            Declined++;
            return false;
        }
        foreach (var sum in sums)
        {
            stats.NonFinite += sum.NonFinite;
            stats.Finite += sum.Finite;
            stats.SumSquaredError += sum.SumSquaredError;
            stats.SumSquaredSignal += sum.SumSquaredSignal;
        }
        FusedChunks += chunks;
        return true;
    }

    // Bytes of rows one unit reads at a time: small enough to be in the cache when its groups are encoded.
    private const int ReadBytes = 128 << 10;

    /// <summary>Rows [from, to) of a window (from <paramref name="firstRow"/> of the tensor): read, chosen, encoded; false when a value is not finite or a choice fails.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe bool Unit(Func<Stream> open, long firstRow, int from, int to, SymmetricGroupChoice choice, double[] thresholds, float[] scales, int at, byte[] packed,
                             int words, int offset, int bits, ref KernelStats stats)
    {
        if (from >= to) return true;
        int itemSize = _dtype.ItemSize, rowBytes = _columns * itemSize, wordBytes = words * 4;
        int readRows = Math.Max(1, ReadBytes / rowBytes);
        bool packFour = bits == 4 && _groupSize % 32 == 0 && _columns % _groupSize == 0 && Avx2.IsSupported;
        var raw = ArrayPool<byte>.Shared.Rent(Math.Min(readRows, to - from) * rowBytes);
        var group = ArrayPool<float>.Shared.Rent(_groupSize);
        var codes = packFour ? null : ArrayPool<int>.Shared.Rent(_columns);
        try
        {
            using var source = open();
            fixed (byte* input = raw)
            fixed (float* values = group)
            fixed (byte* output = packed)
            fixed (int* c = codes)
            {
                for (int r = from; r < to; r += readRows)
                {
                    int m = Math.Min(readRows, to - r);
                    source.Position = (firstRow + r) * rowBytes;
                    using (Diagnostics.Timeline.Time(Diagnostics.TimelinePhase.Read, (long)m * rowBytes)) source.ReadExactly(raw, 0, m * rowBytes);
                    for (int i = 0; i < m; i++)
                    {
                        int row = r + i;
                        byte* bytes = input + (long)i * rowBytes;
                        byte* rowWords = output + (long)row * wordBytes;
                        for (int g = 0; g < _groups; g++)
                        {
                            int start = g * _groupSize, length = Math.Min(_groupSize, _columns - start);
                            var span = new Span<float>(values, length);
                            var groupBytes = new ReadOnlySpan<byte>(bytes + (long)start * itemSize, length * itemSize);
                            float min, max;
                            if (_dtype.Kind == DTypeKind.BFloat && length % 16 == 0)
                            {
                                if (!DecodeExtremesBFloat16((ushort*)(bytes + (long)start * 2), length, values, out min, out max)) return false;
                            }
                            else
                            {
                                if (_dtype.Kind == DTypeKind.BFloat) DecodeBFloat16(groupBytes, span);
                                else if (itemSize == 4) MemoryMarshal.Cast<byte, float>(groupBytes).CopyTo(span);
                                else ElementConverter.Decode<float>(groupBytes, _dtype, span);
                                if (!GroupExtremes(values, length, out min, out max)) return false;
                            }
                            long channel = at + (long)row * _groups + g;
                            if (!choice.TryChoose(min, max, out thresholds[channel], out float scale)) return false;
                            scales[channel] = scale;
                            var grid = new Grid<float>(scale, 0, choice.QuantMin, choice.QuantMax);
                            if (!float.IsFinite(grid.Inverse)) return false;
                            if (packFour) FakeQuantizeKernel.ApplyCodesPackFour(values, length, grid, offset, (uint*)rowWords + start / 8, ref stats);
                            else if (!FakeQuantizeKernel.ApplyCodes(values, length, grid, c + start, ref stats))
                                throw new InvalidOperationException("A value checked finite is not.");
                        }
                        if (packFour) continue;
                        if (bits == 4 && _columns % 8 == 0 && Avx2.IsSupported) PackFour(c, _columns, offset, (uint*)rowWords);
                        else
                        {
                            var line = new Span<byte>(rowWords, wordBytes);
                            line.Clear();
                            CompressedTensorsWriter.PackRow(codes!.AsSpan(0, _columns), offset, bits, line);
                        }
                    }
                }
            }
            return true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(raw);
            ArrayPool<float>.Shared.Return(group);
            if (codes is not null) ArrayPool<int>.Shared.Return(codes);
        }
    }

    /// <summary>
    /// Decodes rows [from, to) into the values from <paramref name="values"/> on and finds each group's minimum and maximum
    /// (from <paramref name="extremes"/> on); false when a value is not finite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe bool Extremes(byte[] raw, int from, int to, int values, int extremes)
    {
        int itemSize = _dtype.ItemSize;
        for (int r = from; r < to; r++)
        {
            var row = _values.AsSpan(values + (r - from) * _columns, _columns);
            var bytes = raw.AsSpan(r * _columns * itemSize, _columns * itemSize);
            if (_dtype.Kind == DTypeKind.BFloat) DecodeBFloat16(bytes, row);
            else if (itemSize == 4) MemoryMarshal.Cast<byte, float>(bytes).CopyTo(row);
            else ElementConverter.Decode<float>(bytes, _dtype, row);
            fixed (float* first = row)
            {
                for (int g = 0; g < _groups; g++)
                {
                    int start = g * _groupSize, length = Math.Min(_groupSize, _columns - start);
                    int set = extremes + (r - from) * _groups + g;
                    if (!GroupExtremes(first + start, length, out _mins[set], out _maxs[set])) return false;
                }
            }
        }
        return true;
    }

    /// <summary>bfloat16 to float32: the 16 bits as the high half of the float's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DecodeBFloat16(ReadOnlySpan<byte> bytes, Span<float> values)
    {
        var source = MemoryMarshal.Cast<byte, ushort>(bytes);
        fixed (ushort* s = source)
        fixed (float* d = values)
        {
            int i = 0;
            for (; i <= values.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
            {
                var (low, high) = Vector256.Widen(Vector256.Load(s + i));
                Vector256.ShiftLeft(low, 16).AsSingle().Store(d + i);
                Vector256.ShiftLeft(high, 16).AsSingle().Store(d + i + Vector256<float>.Count);
            }
            for (; i < values.Length; i++) d[i] = BitConverter.Int32BitsToSingle(s[i] << 16);
        }
    }

    /// <summary>
    /// The minimum and maximum of finite values as <see cref="Selection.Mct.MctWeightsSelection.Min{T}"/> and
    /// <see cref="Selection.Mct.MctWeightsSelection.Max{T}"/> give them (the first of equal values: which zero, -0 or +0, when
    /// the extreme is zero); false when a value is not finite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool GroupExtremes(float* values, int length, out float min, out float max)
    {
        min = float.PositiveInfinity;
        max = float.NegativeInfinity;
        int i = 0;
        if (length >= Vector256<float>.Count)
        {
            var low = Vector256.Create(float.PositiveInfinity);
            var high = Vector256.Create(float.NegativeInfinity);
            var finite = Vector256<float>.AllBitsSet;
            var maxFinite = Vector256.Create(float.MaxValue);
            for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var x = Vector256.Load(values + i);
                low = Vector256.MinNative(low, x);
                high = Vector256.MaxNative(high, x);
                finite &= Vector256.LessThanOrEqual(Vector256.Abs(x), maxFinite);
            }
            if (finite.AsInt32() != Vector256<int>.AllBitsSet) return false;
            min = LowestLane(low);
            max = HighestLane(high);
        }
        for (; i < length; i++)
        {
            float x = values[i];
            if (!float.IsFinite(x)) return false;
            if (x < min) min = x;
            if (x > max) max = x;
        }
        if (min == 0 || max == 0) ZeroExtremesInOrder(values, length, out min, out max);
        return true;
    }

    /// <summary>
    /// The least lane of finite lanes (which of equal values, -0 or +0, is not decided here: a zero extreme is found again in order).
    /// The extremes of a set do not depend on the order they are compared in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LowestLane(Vector256<float> v)
    {
        if (!Avx.IsSupported)
        {
            float m = float.PositiveInfinity;
            for (int k = 0; k < Vector256<float>.Count; k++) m = v[k] < m ? v[k] : m;
            return m;
        }
        v = Avx.Min(v, Avx.Permute2x128(v, v, 1));
        v = Avx.Min(v, Avx.Permute(v, 0b01_00_11_10));
        return Avx.Min(v, Avx.Permute(v, 0b10_11_00_01)).ToScalar();
    }

    /// <summary>The greatest lane of finite lanes (see <see cref="LowestLane"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HighestLane(Vector256<float> v)
    {
        if (!Avx.IsSupported)
        {
            float m = float.NegativeInfinity;
            for (int k = 0; k < Vector256<float>.Count; k++) m = v[k] > m ? v[k] : m;
            return m;
        }
        v = Avx.Max(v, Avx.Permute2x128(v, v, 1));
        v = Avx.Max(v, Avx.Permute(v, 0b01_00_11_10));
        return Avx.Max(v, Avx.Permute(v, 0b10_11_00_01)).ToScalar();
    }

    /// <summary>
    /// <see cref="DecodeBFloat16"/> and <see cref="GroupExtremes"/> of one group (<paramref name="length"/> a multiple of 16)
    /// in one pass: the same values into <paramref name="values"/>, the same minimum and maximum, false when a value is not
    /// finite (its exponent bits all ones).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool DecodeExtremesBFloat16(ushort* source, int length, float* values, out float min, out float max)
    {
        if (!Avx2.IsSupported)
        {
            DecodeBFloat16(new ReadOnlySpan<byte>(source, length * 2), new Span<float>(values, length));
            return GroupExtremes(values, length, out min, out max);
        }
        var low = Vector256.Create(float.PositiveInfinity);
        var high = Vector256.Create(float.NegativeInfinity);
        var magnitude = Vector256<ushort>.Zero;
        var noSign = Vector256.Create((ushort)0x7FFF);
        for (int i = 0; i < length; i += 16)
        {
            var raw = Vector256.Load(source + i);
            magnitude = Avx2.Max(magnitude, raw & noSign);
            // Elements 0-7 and 8-15 of the 16 as the high halves of float32 lanes: quadwords 0, 2 | 1, 3, then interleaved with zeros.
            var ordered = Avx2.Permute4x64(raw.AsUInt64(), 0b11_01_10_00).AsUInt16();
            var first = Avx2.UnpackLow(Vector256<ushort>.Zero, ordered).AsSingle();
            var second = Avx2.UnpackHigh(Vector256<ushort>.Zero, ordered).AsSingle();
            first.Store(values + i);
            second.Store(values + i + 8);
            low = Avx.Min(low, Avx.Min(first, second));
            high = Avx.Max(high, Avx.Max(first, second));
        }
        min = float.PositiveInfinity;
        max = float.NegativeInfinity;
        // The largest magnitude's bits: an exponent of all ones is an infinity or NaN.
        if (MaxBits(magnitude) >= 0x7F80) return false;
        min = LowestLane(low);
        max = HighestLane(high);
        if (min == 0 || max == 0) ZeroExtremesInOrder(values, length, out min, out max);
        return true;
    }

    /// <summary>
    /// The extremes again, value after value: equal values that differ only in the sign of zero are told apart by which
    /// comes first, as the general path takes them.
    /// </summary>
    private static unsafe void ZeroExtremesInOrder(float* values, int length, out float min, out float max)
    {
        min = float.PositiveInfinity;
        max = float.NegativeInfinity;
        for (int k = 0; k < length; k++)
        {
            float x = values[k];
            min = x < min ? x : min;
            max = x > max ? x : max;
        }
    }

    /// <summary>The largest of sixteen unsigned 16-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MaxBits(Vector256<ushort> v)
    {
        var m = Sse41.Max(v.GetLower(), v.GetUpper());
        // The minimum of the complements is the complement of the maximum (one instruction for eight lanes).
        return 0xFFFF - Sse41.MinHorizontal(Vector128<ushort>.AllBitsSet - m).ToScalar();
    }

    /// <summary>Rows [from, to) (their values from <paramref name="values"/> on): codes, packed words, and the error sums added to <paramref name="stats"/> group by group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void Encode(Grid<float>[] grids, byte[] packed, int from, int to, int values, int words, int offset, int bits, int[] codes, ref KernelStats stats)
    {
        int wordBytes = words * 4;
        fixed (float* first = _values)
        fixed (int* c = codes)
        {
            for (int r = from; r < to; r++)
            {
                float* row = first + values + (long)(r - from) * _columns;
                for (int g = 0; g < _groups; g++)
                {
                    int start = g * _groupSize, length = Math.Min(_groupSize, _columns - start);
                    if (!FakeQuantizeKernel.ApplyCodes(row + start, length, grids[(r - from) * _groups + g], c + start, ref stats))
                        throw new InvalidOperationException("A value checked finite is not.");
                }
                var output = packed.AsSpan(r * wordBytes, wordBytes);
                if (bits == 4 && _columns % 8 == 0 && Avx2.IsSupported)
                {
                    fixed (byte* o = output) PackFour(c, _columns, offset, (uint*)o);
                }
                else
                {
                    output.Clear();
                    CompressedTensorsWriter.PackRow(codes.AsSpan(0, _columns), offset, bits, output);
                }
            }
        }
    }

    /// <summary>4-bit codes (plus <paramref name="offset"/>) eight to a word, element i at bit 4i: <see cref="CompressedTensorsWriter.PackRow"/>'s layout.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackFour(int* codes, int count, int offset, uint* words)
    {
        var shifts = Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28);
        var add = Vector256.Create(offset);
        var mask = Vector256.Create(15);
        for (int w = 0; w < count / 8; w++)
        {
            var nibbles = ((Vector256.Load(codes + 8 * w) + add) & mask).AsUInt32();
            words[w] = BitConverter.IsLittleEndian
                ? Vector256.Sum(Avx2.ShiftLeftLogicalVariable(nibbles, shifts))
                : System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Vector256.Sum(Avx2.ShiftLeftLogicalVariable(nibbles, shifts)));
        }
    }
}

/// <summary>
/// MCT's symmetric no-clipping choice for one channel or group from its minimum and maximum, with the general choice's
/// arithmetic (<see cref="Selection.ParameterSelector.SelectNoClipping{T}"/> then <see cref="ExactScales.For"/>): get_tensor_max
/// in float32 (max(-min, max·f)), raised to MCT's least threshold, rounded to float32 (<see cref="Selection.ParameterSelector"/>'s
/// FromMct), its scale moved to one the dtype holds. False where the general choice could fail (it then gives its own error).
/// </summary>
internal readonly struct SymmetricGroupChoice
{
    private readonly int _bits;
    private readonly bool _signed;
    private readonly DType _dtype;
    private readonly bool _exact;
    private readonly float _factor;
    private readonly double _levels;
    private readonly double _step;

    public SymmetricGroupChoice(int bits, bool signed, DType dtype)
    {
        _bits = bits;
        _signed = signed;
        _dtype = dtype;
        _exact = dtype.Kind == DTypeKind.BFloat || dtype.Kind == DTypeKind.Float && dtype.ItemSize == 2;
        _factor = (float)(bits == 1 ? 0.0 : Math.Pow(2.0, bits - 1) / (Math.Pow(2.0, bits - 1) - 1));
        _levels = signed ? Math.Pow(2, bits - 1) : Math.Pow(2, bits);
        (QuantMin, QuantMax) = RangeMath.SymmetricRange(bits, signed);
        _step = Math.ScaleB(1.0, signed ? bits - 1 : bits);
    }

    public int QuantMin { get; }

    public int QuantMax { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryChoose(float min, float max, out double threshold, out float scale)
    {
        double t = Selection.Mct.MctWeightsSelection.NumpyMaximum(-min, max * _factor);
        if (t < Selection.Mct.MctWeightsSelection.MinThreshold) t = Selection.Mct.MctWeightsSelection.MinThreshold;
        t = (float)t;
        threshold = t;
        scale = 0;
        if (!Valid(t)) return false;
        scale = Scale(t);
        if (_exact && !ExactScales.Holds(_dtype, scale))
        {
            float near = ExactScales.Nearest(_dtype, scale);
            if (!(near > 0) || !float.IsFinite(near)) return false;
            t = near * _levels;
            if (!Valid(t)) return false;
            scale = Scale(t);
            if (!ExactScales.Holds(_dtype, scale)) return false;
            threshold = t;
        }
        return true;
    }

    // RangeMath.SymmetricScale, its power of two computed once.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private float Scale(double t) => (float)(t / _step);

    // QuantizerSpec's check of a symmetric threshold.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Valid(double t) => double.IsFinite(t) && t > 0 && (float)t > 0f && !float.IsInfinity((float)t);
}
