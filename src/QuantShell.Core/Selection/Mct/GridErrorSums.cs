using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// The sums of MCT's error terms, (x - q)² or |x - q|, of one channel's values under several grids at once, bit for bit
/// as NumPy adds them (<see cref="NumpySum"/>: blocks of 8192 terms each summed pairwise, the blocks' sums added in order;
/// or, for a strided row, one term after the other). The data is read block by block and every grid is applied to a
/// block while it is in the cache, eight (float32) or four (float64) values per instruction; a long channel's blocks are
/// spread over the cores, their sums then added in NumPy's order. No buffer as large as the channel is made.
/// The arithmetic per value is <see cref="MctGrid.Quantize(float)"/>'s (float32 grids) or its float64 counterpart:
/// clip, subtract, divide, round half to even, multiply, add, each rounded as NumPy rounds it (no fused multiply-add).
/// </summary>
internal static class GridErrorSums
{
    private const int Block = 8192;

    /// <summary>Grids a sum holds on the stack (more on the heap).</summary>
    private const int StackGrids = 256;

    /// <summary>Blocks per parallel task: enough work per task that scheduling costs nothing.</summary>
    private const int BlocksPerTask = 16;

    /// <summary>Whether the kernel handles this method (Lp other than 1 and 2 goes through <c>pow</c> per value elsewhere).</summary>
    public static bool Handles(ErrorMethod method) => method is ErrorMethod.Mse or ErrorMethod.Mae;

    /// <summary>Float32 grids on float32 values: each grid's float32 sum of terms, in NumPy's order.</summary>
    public static void SumSingle(ReadOnlyMemory<float> memory, ReadOnlySpan<MctGrid> grids, bool absolute, bool sequential, bool parallel, Span<float> sums)
    {
        var values = memory.Span;
        // A channel's few grids on the stack (a search scores thousands of channels a candidate set at a time).
        Span<GridF> g = grids.Length <= StackGrids ? stackalloc GridF[grids.Length] : new GridF[grids.Length];
        for (int i = 0; i < g.Length; i++) g[i] = new GridF((float)grids[i].Low, (float)grids[i].High, (float)grids[i].Step);
        if (sequential)
        {
            if (Fused && g.Length > 1) SequentialAcrossSingle(values, g, absolute, sums);
            else for (int i = 0; i < g.Length; i++) sums[i] = SequentialSingle(values, g[i], absolute);
            return;
        }
        int blocks = (values.Length + Block - 1) / Block;
        bool fused = Fused;
        if (blocks == 1 && fused)
        {
            // One block (a small channel): no buffer at all.
            for (int i = 0; i < g.Length; i++)
            {
                float total = 0;
                total += PairwiseTermsSingle(values, g[i], absolute);
                sums[i] = total;
            }
            return;
        }
        var blockSums = new float[g.Length * Math.Max(blocks, 1)];
        if (parallel && blocks >= 2 * BlocksPerTask)
        {
            var shared = g.ToArray();
            Parallel.For(0, (blocks + BlocksPerTask - 1) / BlocksPerTask, () => fused ? null : new float[Block], (task, _, scratch) =>
            {
                int end = Math.Min(blocks, (task + 1) * BlocksPerTask);
                for (int b = task * BlocksPerTask; b < end; b++) BlockSingle(memory.Span, b, shared, absolute, scratch, blockSums, blocks);
                return scratch;
            }, _ => { });
        }
        else
        {
            var scratch = fused ? null : new float[Math.Min(Block, Math.Max(values.Length, 1))];
            for (int b = 0; b < blocks; b++) BlockSingle(values, b, g, absolute, scratch, blockSums, blocks);
        }
        for (int i = 0; i < g.Length; i++)
        {
            float total = 0;
            for (int b = 0; b < blocks; b++) total += blockSums[i * blocks + b];
            sums[i] = total;
        }
    }

    /// <summary>Float64 grids on float32 or float64 values (each value widened): each grid's float64 sum of terms.</summary>
    public static void SumDouble<T>(ReadOnlyMemory<T> memory, ReadOnlySpan<MctGrid> grids, bool absolute, bool sequential, bool parallel, Span<double> sums)
        where T : unmanaged
    {
        var values = memory.Span;
        Span<GridD> g = grids.Length <= StackGrids ? stackalloc GridD[grids.Length] : new GridD[grids.Length];
        for (int i = 0; i < g.Length; i++) g[i] = new GridD(grids[i].Low, grids[i].High, grids[i].Step);
        if (sequential && Fused && g.Length > 1)
        {
            SequentialAcrossDouble(values, g, absolute, sums);
            return;
        }
        if (sequential)
        {
            var scratch = new double[Math.Min(Block, Math.Max(values.Length, 1))];
            for (int i = 0; i < g.Length; i++)
            {
                double total = 0;
                for (int start = 0; start < values.Length; start += Block)
                {
                    int n = Math.Min(Block, values.Length - start);
                    TermsDouble(values.Slice(start, n), g[i], absolute, scratch);
                    for (int k = 0; k < n; k++) total += scratch[k];
                }
                sums[i] = total;
            }
            return;
        }
        int blocks = (values.Length + Block - 1) / Block;
        bool fused = Fused;
        if (blocks == 1 && fused)
        {
            // One block (a small channel): no buffer at all.
            for (int i = 0; i < g.Length; i++)
            {
                double total = 0;
                total += PairwiseTerms(values, g[i], absolute);
                sums[i] = total;
            }
            return;
        }
        var blockSums = new double[g.Length * Math.Max(blocks, 1)];
        if (parallel && blocks >= 2 * BlocksPerTask)
        {
            var shared = g.ToArray();
            Parallel.For(0, (blocks + BlocksPerTask - 1) / BlocksPerTask, () => fused ? null : new double[Block], (task, _, scratch) =>
            {
                int end = Math.Min(blocks, (task + 1) * BlocksPerTask);
                for (int b = task * BlocksPerTask; b < end; b++) BlockDouble(memory.Span, b, shared, absolute, scratch, blockSums, blocks);
                return scratch;
            }, _ => { });
        }
        else
        {
            var scratch = fused ? null : new double[Math.Min(Block, Math.Max(values.Length, 1))];
            for (int b = 0; b < blocks; b++) BlockDouble(values, b, g, absolute, scratch, blockSums, blocks);
        }
        for (int i = 0; i < g.Length; i++)
        {
            double total = 0;
            for (int b = 0; b < blocks; b++) total += blockSums[i * blocks + b];
            sums[i] = total;
        }
    }

    /// <summary>
    /// Only the quotient's division, each block's terms written out and then summed (the literal arithmetic, as a
    /// reference for tests and benchmarks); otherwise float64 grids round from the step's reciprocal where that is
    /// safe, and float32 and float64 grids add each block's terms as they are computed.
    /// </summary>
    internal static bool DivideOnly
    {
        get => _divideOnly;
        set => _divideOnly = value;
    }

    /// <summary>Per thread, so a test comparing the two kernels does not change another's (read where a sum starts).</summary>
    [ThreadStatic]
    private static bool _divideOnly;

    private static bool Fused => !DivideOnly && Vector256.IsHardwareAccelerated;

    private readonly record struct GridF(float Low, float High, float Step);

    /// <summary>A float64 grid, with the step's reciprocal and how far from a half-integer its product must lie to round as the quotient.</summary>
    private readonly struct GridD
    {
        public GridD(double low, double high, double step)
        {
            Low = low;
            High = high;
            Step = step;
            Inverse = 1 / step;
            // Every c = clip(x) - a lies between 0 and b - a (rounded alike), so |c / s| is at most about |(b - a) / s|.
            double tolerance = (Math.Abs((high - low) / step) + 1) * Tolerance;
            // Finite ends keep every c finite (a NaN value clips to a), so the products are finite and compare as numbers.
            Reciprocal = !DivideOnly && double.IsFinite(low) && double.IsFinite(high) && double.IsNormal(step) && double.IsNormal(Inverse) && tolerance < 0.125;
            // Where the reciprocal may not be used no distance is below the limit (nor is NaN), so every vector divides.
            Limit = Reciprocal ? 0.5 - tolerance : -1;
        }

        public double Low { get; }
        public double High { get; }
        public double Step { get; }
        public double Inverse { get; }

        /// <summary>A product c·(1/s) whose distance from its nearest integer is less than this rounds as c / s does (-1: none).</summary>
        public double Limit { get; }

        /// <summary>Whether the reciprocal may be used (a normal step with a normal reciprocal and a modest number of levels).</summary>
        public bool Reciprocal { get; }
    }

    /// <summary>2^-48: well above the three roundings of 2^-53 that separate c·(1/s) from c / s, relative to c / s.</summary>
    private static readonly double Tolerance = Math.ScaleB(1.0, -48);

    private static void BlockSingle(ReadOnlySpan<float> values, int block, ReadOnlySpan<GridF> grids, bool absolute, float[]? scratch, float[] blockSums, int blocks)
    {
        int start = block * Block, n = Math.Min(Block, values.Length - start);
        var slice = values.Slice(start, n);
        if (scratch is null)
        {
            for (int i = 0; i < grids.Length; i++) blockSums[i * blocks + block] = PairwiseTermsSingle(slice, grids[i], absolute);
            return;
        }
        var terms = scratch.AsSpan(0, n);
        for (int i = 0; i < grids.Length; i++)
        {
            TermsSingle(slice, grids[i], absolute, terms);
            blockSums[i * blocks + block] = PairwiseSingle(terms);
        }
    }

    private static void BlockDouble<T>(ReadOnlySpan<T> values, int block, ReadOnlySpan<GridD> grids, bool absolute, double[]? scratch, double[] blockSums, int blocks)
        where T : unmanaged
    {
        int start = block * Block, n = Math.Min(Block, values.Length - start);
        var slice = values.Slice(start, n);
        if (scratch is null)
        {
            for (int i = 0; i < grids.Length; i++) blockSums[i * blocks + block] = PairwiseTerms(slice, grids[i], absolute);
            return;
        }
        var terms = scratch.AsSpan(0, n);
        for (int i = 0; i < grids.Length; i++)
        {
            TermsDouble(slice, grids[i], absolute, terms);
            blockSums[i * blocks + block] = PairwiseDouble(terms);
        }
    }

    /// <summary>
    /// <see cref="PairwiseDouble"/> of the terms of <paramref name="x"/> under one float64 grid, each term computed where
    /// the sum takes it (the same splits, the same eight running sums, the same order), so no buffer holds them.
    /// </summary>
    private static double PairwiseTerms<T>(ReadOnlySpan<T> x, in GridD grid, bool absolute) where T : unmanaged
    {
        int n = x.Length;
        if (n < 8)
        {
            double sum = -0.0;
            for (int i = 0; i < n; i++) sum += Term(x[i], grid, absolute);
            return sum;
        }
        if (n <= 128) return LeafTerms(x, grid, absolute);
        int half = n / 2;
        half -= half % 8;
        return PairwiseTerms(x[..half], grid, absolute) + PairwiseTerms(x[half..], grid, absolute);
    }

    /// <summary>One value's term, by the division (as the vector lanes that are not certain to round alike).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Term<T>(T raw, in GridD grid, bool absolute) where T : unmanaged
    {
        double v = Widen(raw);
        double a = grid.Low, b = grid.High, step = grid.Step;
        double clipped = v > a ? v : a;
        clipped = clipped < b ? clipped : b;
        double d = v - (step * Math.Round((clipped - a) / step) + a);
        return absolute ? Math.Abs(d) : d * d;
    }

    /// <summary>NumPy's pairwise leaf (8 to 128 terms): eight running sums (two vectors of four), then the rest one by one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double LeafTerms<T>(ReadOnlySpan<T> x, in GridD grid, bool absolute) where T : unmanaged
    {
        int n = x.Length, i = 8;
        var av = Vector256.Create(grid.Low);
        var bv = Vector256.Create(grid.High);
        var sv = Vector256.Create(grid.Step);
        Vector256<double> low, high;
        if (grid.Reciprocal)
        {
            var rv = Vector256.Create(grid.Inverse);
            var lv = Vector256.Create(grid.Limit);
            (low, high) = TermPair(x, 0, av, bv, sv, rv, lv, absolute);
            for (; i < n - n % 8; i += 8)
            {
                var (l, h) = TermPair(x, i, av, bv, sv, rv, lv, absolute);
                low += l;
                high += h;
            }
        }
        else
        {
            low = TermVector(Load(x, 0), av, bv, sv, absolute);
            high = TermVector(Load(x, 4), av, bv, sv, absolute);
            for (; i < n - n % 8; i += 8)
            {
                low += TermVector(Load(x, i), av, bv, sv, absolute);
                high += TermVector(Load(x, i + 4), av, bv, sv, absolute);
            }
        }
        double sum = ((low[0] + low[1]) + (low[2] + low[3])) + ((high[0] + high[1]) + (high[2] + high[3]));
        for (; i < n; i++) sum += Term(x[i], grid, absolute);
        return sum;
    }

    /// <summary>Four values from <paramref name="i"/> on, as float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Load<T>(ReadOnlySpan<T> x, int i) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
            return Vector256.WidenLower(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x)), (nuint)i).ToVector256Unsafe());
        return Vector256.LoadUnsafe(ref Unsafe.As<T, double>(ref MemoryMarshal.GetReference(x)), (nuint)i);
    }

    /// <summary>Four terms by the division.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> TermVector(Vector256<double> v, Vector256<double> av, Vector256<double> bv, Vector256<double> sv, bool absolute)
    {
        var d = v - (sv * Vector256.Round((Clip(v, av, bv) - av) / sv) + av);
        return absolute ? Vector256.Abs(d) : d * d;
    }

    /// <summary>
    /// Eight terms (values i to i + 7), the quotients rounded from the products by the reciprocal; when any product lies
    /// within the tolerance of a half-integer, both vectors' quotients are divided after all.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<double> Low, Vector256<double> High) TermPair<T>(ReadOnlySpan<T> x, int i, Vector256<double> av, Vector256<double> bv,
        Vector256<double> sv, Vector256<double> rv, Vector256<double> lv, bool absolute) where T : unmanaged
    {
        var v0 = Load(x, i);
        var v1 = Load(x, i + 4);
        var c0 = Clip(v0, av, bv) - av;
        var c1 = Clip(v1, av, bv) - av;
        var y0 = c0 * rv;
        var y1 = c1 * rv;
        var k0 = Vector256.Round(y0);
        var k1 = Vector256.Round(y1);
        if (Vector256.GreaterThanOrEqualAny(Vector256.MaxNative(Vector256.Abs(y0 - k0), Vector256.Abs(y1 - k1)), lv))
        {
            k0 = Vector256.Round(c0 / sv);
            k1 = Vector256.Round(c1 / sv);
        }
        var d0 = v0 - (sv * k0 + av);
        var d1 = v1 - (sv * k1 + av);
        return absolute ? (Vector256.Abs(d0), Vector256.Abs(d1)) : (d0 * d0, d1 * d1);
    }

    /// <summary>
    /// <see cref="PairwiseSingle"/> of the terms of <paramref name="x"/> under one float32 grid, each term computed where
    /// the sum takes it (the same splits, the same eight running sums in one vector, the same order), so no buffer holds
    /// them. The quotient is divided, not rounded from the float32 reciprocal as float64 grids do: that is safe where the
    /// product lies farther than (|(b - a)/s| + 1)·2^-22 from every half-integer, but on the benchmark machine its extra
    /// work (the product, the distance, the check) cost more than the division it saved (build/bench/results-selection.md).
    /// </summary>
    private static float PairwiseTermsSingle(ReadOnlySpan<float> x, in GridF grid, bool absolute)
    {
        int n = x.Length;
        if (n < 8)
        {
            float sum = -0.0f;
            for (int i = 0; i < n; i++) sum += TermSingle(x[i], grid, absolute);
            return sum;
        }
        if (n <= 128) return LeafSingle(x, grid, absolute);
        int half = n / 2;
        half -= half % 8;
        return PairwiseTermsSingle(x[..half], grid, absolute) + PairwiseTermsSingle(x[half..], grid, absolute);
    }

    /// <summary>One value's term on a float32 grid, by the division (as <see cref="TermsSingle"/>'s value-by-value part).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TermSingle(float v, in GridF grid, bool absolute)
    {
        float a = grid.Low, b = grid.High, step = grid.Step;
        float clipped = v > a ? v : a;
        clipped = clipped < b ? clipped : b;
        float d = v - (step * MathF.Round((clipped - a) / step) + a);
        return absolute ? MathF.Abs(d) : d * d;
    }

    /// <summary>
    /// NumPy's pairwise leaf of float32 terms (8 to 128): the eight running sums one vector, r = t0, then r += t for each
    /// further whole vector of terms, then ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest one by one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float LeafSingle(ReadOnlySpan<float> x, in GridF grid, bool absolute)
    {
        int n = x.Length, whole = n - n % 8, i = 8;
        ref float source = ref MemoryMarshal.GetReference(x);
        var av = Vector256.Create(grid.Low);
        var bv = Vector256.Create(grid.High);
        var sv = Vector256.Create(grid.Step);
        var r = TermVectorSingle(Vector256.LoadUnsafe(ref source), av, bv, sv, absolute);
        for (; i < whole; i += 8) r += TermVectorSingle(Vector256.LoadUnsafe(ref source, (nuint)i), av, bv, sv, absolute);
        float sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) sum += TermSingle(x[i], grid, absolute);
        return sum;
    }

    /// <summary>Eight float32 terms, as <see cref="TermsSingle"/>'s vector loop computes them (clip, subtract, divide, round, multiply, add; no fused multiply-add).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> TermVectorSingle(Vector256<float> v, Vector256<float> av, Vector256<float> bv, Vector256<float> sv, bool absolute)
    {
        var d = v - (sv * Vector256.Round((Clip(v, av, bv) - av) / sv) + av);
        return absolute ? Vector256.Abs(d) : d * d;
    }

    private static float SequentialSingle(ReadOnlySpan<float> values, GridF grid, bool absolute)
    {
        Span<float> terms = new float[Math.Min(Block, Math.Max(values.Length, 1))];
        float total = 0;
        for (int start = 0; start < values.Length; start += Block)
        {
            int n = Math.Min(Block, values.Length - start);
            TermsSingle(values.Slice(start, n), grid, absolute, terms);
            for (int k = 0; k < n; k++) total += terms[k];
        }
        return total;
    }

    /// <summary>
    /// A strided row's sums (each grid's terms added one after the other, as NumPy adds along a strided axis) with the
    /// grids across the lanes: one value at a time, broadcast, its term on eight float32 grids at once, each lane's running
    /// sum taking its grid's terms in the values' order, as <see cref="SequentialSingle"/> adds them; so every sum is the
    /// same bit for bit, without the one chain of additions per grid that bounds the scalar loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SequentialAcrossSingle(ReadOnlySpan<float> values, ReadOnlySpan<GridF> grids, bool absolute, Span<float> sums)
    {
        Span<float> lanes = stackalloc float[Vector256<float>.Count];
        Span<float> a = stackalloc float[Vector256<float>.Count], b = stackalloc float[Vector256<float>.Count], step = stackalloc float[Vector256<float>.Count];
        for (int first = 0; first < grids.Length; first += Vector256<float>.Count)
        {
            // Lanes past the last grid repeat it (their sums are not read).
            for (int lane = 0; lane < a.Length; lane++)
            {
                var grid = grids[Math.Min(first + lane, grids.Length - 1)];
                (a[lane], b[lane], step[lane]) = (grid.Low, grid.High, grid.Step);
            }
            var av = Vector256.Create<float>(a);
            var bv = Vector256.Create<float>(b);
            var sv = Vector256.Create<float>(step);
            var total = Vector256<float>.Zero;
            foreach (float x in values)
            {
                var v = Vector256.Create(x);
                var d = v - (sv * Vector256.Round((Clip(v, av, bv) - av) / sv) + av);
                total += absolute ? Vector256.Abs(d) : d * d;
            }
            total.CopyTo(lanes);
            for (int lane = 0; lane < lanes.Length && first + lane < grids.Length; lane++) sums[first + lane] = lanes[lane];
        }
    }

    /// <summary>
    /// <see cref="SequentialAcrossSingle"/> for float64 grids: four grids a vector, two vectors at a time (two independent
    /// chains of additions), each value widened and broadcast; each lane's sum is the scalar loop's, term for term.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SequentialAcrossDouble<T>(ReadOnlySpan<T> values, ReadOnlySpan<GridD> grids, bool absolute, Span<double> sums) where T : unmanaged
    {
        Span<double> lanes = stackalloc double[2 * Vector256<double>.Count];
        ref T start = ref MemoryMarshal.GetReference(values);
        for (int first = 0; first < grids.Length; first += 2 * Vector256<double>.Count)
        {
            var one = new GridLanes(grids, first);
            var two = new GridLanes(grids, first + Vector256<double>.Count);
            Vector256<double> low = Vector256<double>.Zero, high = Vector256<double>.Zero;
            if (first + Vector256<double>.Count >= grids.Length)
            {
                for (int i = 0; i < values.Length; i++) low += one.Term(Vector256.Create(Widen(Unsafe.Add(ref start, i))), absolute);
            }
            else
            {
                for (int i = 0; i < values.Length; i++)
                {
                    var v = Vector256.Create(Widen(Unsafe.Add(ref start, i)));
                    low += one.Term(v, absolute);
                    high += two.Term(v, absolute);
                }
            }
            low.CopyTo(lanes);
            high.CopyTo(lanes[Vector256<double>.Count..]);
            for (int lane = 0; lane < lanes.Length && first + lane < grids.Length; lane++) sums[first + lane] = lanes[lane];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Widen<T>(T raw) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref raw) : Unsafe.As<T, double>(ref raw);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TermsSingle(ReadOnlySpan<float> x, GridF grid, bool absolute, Span<float> terms)
    {
        float a = grid.Low, b = grid.High, step = grid.Step;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var av = Vector256.Create(a);
            var bv = Vector256.Create(b);
            var sv = Vector256.Create(step);
            ref float source = ref MemoryMarshal.GetReference(x);
            ref float target = ref MemoryMarshal.GetReference(terms);
            for (; i <= x.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref source, (nuint)i);
                // x > a ? x : a, then c < b ? c : b (the values are finite).
                var clipped = Clip(v, av, bv);
                var q = sv * Vector256.Round((clipped - av) / sv) + av;
                var d = v - q;
                (absolute ? Vector256.Abs(d) : d * d).StoreUnsafe(ref target, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            float v = x[i];
            float clipped = v > a ? v : a;
            clipped = clipped < b ? clipped : b;
            float d = v - (step * MathF.Round((clipped - a) / step) + a);
            terms[i] = absolute ? MathF.Abs(d) : d * d;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TermsDouble<T>(ReadOnlySpan<T> x, in GridD grid, bool absolute, Span<double> terms) where T : unmanaged
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            if (typeof(T) == typeof(float))
                i = VectorFromSingle(MemoryMarshal.Cast<T, float>(x), grid, absolute, terms);
            else if (typeof(T) == typeof(double))
                i = VectorFromDouble(MemoryMarshal.Cast<T, double>(x), grid, absolute, terms);
        }
        double a = grid.Low, b = grid.High, step = grid.Step;
        for (; i < x.Length; i++)
        {
            T raw = x[i];
            double v = Widen(raw);
            double clipped = v > a ? v : a;
            clipped = clipped < b ? clipped : b;
            double d = v - (step * Math.Round((clipped - a) / step) + a);
            terms[i] = absolute ? Math.Abs(d) : d * d;
        }
    }

    // The two vector loops of float64 grids: float32 values (widened) or float64 values, with the quotient (c - a) / s
    // rounded from the product by the step's reciprocal (checked, below) or, in a vector the check does not pass, from
    // the division itself: every vector where the reciprocal may not be used (Limit -1, DivideOnly among them). Each
    // returns how many values it did (whole vectors); the caller does the rest value by value.
    //
    // Only the rounded quotient k = round(c / s) feeds the rest of the arithmetic (q = s·k + a, then x - q), so a product
    // c·(1/s) that rounds to the same integer gives the same level, term and sum. The product and the quotient each carry
    // at most three roundings of 2^-53 of c / s (1/s, the product; the quotient), so they differ by less than
    // Tolerance = (|(b - a)/s| + 1)·2^-48; where the product lies farther than that from every half-integer they round
    // alike, and a vector with any lane nearer (or NaN) is divided after all.

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int VectorFromSingle(ReadOnlySpan<float> x, in GridD grid, bool absolute, Span<double> terms)
    {
        var lanes = new GridLanes(grid);
        ref float source = ref MemoryMarshal.GetReference(x);
        ref double target = ref MemoryMarshal.GetReference(terms);
        int i = 0;
        for (; i <= x.Length - Vector128<float>.Count; i += Vector128<float>.Count)
        {
            var v = Vector256.WidenLower(Vector128.LoadUnsafe(ref source, (nuint)i).ToVector256Unsafe());
            lanes.Term(v, absolute).StoreUnsafe(ref target, (nuint)i);
        }
        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int VectorFromDouble(ReadOnlySpan<double> x, in GridD grid, bool absolute, Span<double> terms)
    {
        var lanes = new GridLanes(grid);
        ref double source = ref MemoryMarshal.GetReference(x);
        ref double target = ref MemoryMarshal.GetReference(terms);
        int i = 0;
        for (; i <= x.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            lanes.Term(Vector256.LoadUnsafe(ref source, (nuint)i), absolute).StoreUnsafe(ref target, (nuint)i);
        return i;
    }

    /// <summary>
    /// A float64 grid in every lane, and the term of four values on it (the loops above, whatever the values' type); or
    /// four grids, one a lane, and the term of one value on each (<see cref="SequentialAcrossDouble{T}"/>).
    /// </summary>
    private readonly struct GridLanes
    {
        private readonly Vector256<double> _low, _high, _step, _inverse, _limit;

        public GridLanes(in GridD grid)
        {
            _low = Vector256.Create(grid.Low);
            _high = Vector256.Create(grid.High);
            _step = Vector256.Create(grid.Step);
            _inverse = Vector256.Create(grid.Inverse);
            _limit = Vector256.Create(grid.Limit);
        }

        /// <summary>Grids <paramref name="first"/> to first + 3, a lane each; lanes past the last grid repeat it (their sums are not read).</summary>
        public GridLanes(ReadOnlySpan<GridD> grids, int first)
        {
            int last = grids.Length - 1;
            ref readonly GridD g0 = ref grids[Math.Min(first, last)], g1 = ref grids[Math.Min(first + 1, last)],
                g2 = ref grids[Math.Min(first + 2, last)], g3 = ref grids[Math.Min(first + 3, last)];
            _low = Vector256.Create(g0.Low, g1.Low, g2.Low, g3.Low);
            _high = Vector256.Create(g0.High, g1.High, g2.High, g3.High);
            _step = Vector256.Create(g0.Step, g1.Step, g2.Step, g3.Step);
            _inverse = Vector256.Create(g0.Inverse, g1.Inverse, g2.Inverse, g3.Inverse);
            // A lane whose grid may not use the reciprocal has limit -1, so every vector with it divides.
            _limit = Vector256.Create(g0.Limit, g1.Limit, g2.Limit, g3.Limit);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<double> Term(Vector256<double> v, bool absolute)
        {
            var c = Clip(v, _low, _high) - _low;
            var y = c * _inverse;
            var k = Vector256.Round(y);
            if (!Vector256.LessThanAll(Vector256.Abs(y - k), _limit)) k = Vector256.Round(c / _step);
            var d = v - (_step * k + _low);
            return absolute ? Vector256.Abs(d) : d * d;
        }
    }

    /// <summary>
    /// x &gt; a ? x : a, then c &lt; b ? c : b: x86's maxps/minps are exactly these selections (the second operand unless
    /// the first is greater/less), so one instruction each rather than a compare and a blend.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<TValue> Clip<TValue>(Vector256<TValue> x, Vector256<TValue> a, Vector256<TValue> b)
    {
        if (Avx.IsSupported)
        {
            if (typeof(TValue) == typeof(float))
                return Avx.Min(Avx.Max(x.AsSingle(), a.AsSingle()), b.AsSingle()).As<float, TValue>();
            if (typeof(TValue) == typeof(double))
                return Avx.Min(Avx.Max(x.AsDouble(), a.AsDouble()), b.AsDouble()).As<double, TValue>();
        }
        var clipped = Vector256.ConditionalSelect(Vector256.GreaterThan(x, a), x, a);
        return Vector256.ConditionalSelect(Vector256.LessThan(clipped, b), clipped, b);
    }

    /// <summary>NumPy's pairwise sum of float32 values (see <see cref="NumpySum"/>), its eight running sums one vector.</summary>
    public static float PairwiseSingle(ReadOnlySpan<float> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            float sum = -0.0f;
            for (int i = 0; i < n; i++) sum += a[i];
            return sum;
        }
        if (n <= 128)
        {
            ref float start = ref MemoryMarshal.GetReference(a);
            var r = Vector256.LoadUnsafe(ref start);
            int i = 8;
            for (; i < n - n % 8; i += 8) r += Vector256.LoadUnsafe(ref start, (nuint)i);
            float sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < n; i++) sum += a[i];
            return sum;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseSingle(a[..half]) + PairwiseSingle(a[half..]);
    }

    /// <summary>NumPy's pairwise sum of float64 values, its eight running sums two vectors.</summary>
    public static double PairwiseDouble(ReadOnlySpan<double> a)
    {
        int n = a.Length;
        if (n < 8)
        {
            double sum = -0.0;
            for (int i = 0; i < n; i++) sum += a[i];
            return sum;
        }
        if (n <= 128)
        {
            ref double start = ref MemoryMarshal.GetReference(a);
            var low = Vector256.LoadUnsafe(ref start);
            var high = Vector256.LoadUnsafe(ref start, 4);
            int i = 8;
            for (; i < n - n % 8; i += 8)
            {
                low += Vector256.LoadUnsafe(ref start, (nuint)i);
                high += Vector256.LoadUnsafe(ref start, (nuint)(i + 4));
            }
            double sum = ((low[0] + low[1]) + (low[2] + low[3])) + ((high[0] + high[1]) + (high[2] + high[3]));
            for (; i < n; i++) sum += a[i];
            return sum;
        }
        int half = n / 2;
        half -= half % 8;
        return PairwiseDouble(a[..half]) + PairwiseDouble(a[half..]);
    }
}
