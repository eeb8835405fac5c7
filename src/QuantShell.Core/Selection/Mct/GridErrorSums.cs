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

    /// <summary>Blocks per parallel task: enough work per task that scheduling costs nothing.</summary>
    private const int BlocksPerTask = 16;

    /// <summary>Whether the kernel handles this method (Lp other than 1 and 2 goes through <c>pow</c> per value elsewhere).</summary>
    public static bool Handles(ErrorMethod method) => method is ErrorMethod.Mse or ErrorMethod.Mae;

    /// <summary>Float32 grids on float32 values: each grid's float32 sum of terms, in NumPy's order.</summary>
    public static void SumSingle(ReadOnlyMemory<float> memory, ReadOnlySpan<MctGrid> grids, bool absolute, bool sequential, bool parallel, Span<float> sums)
    {
        var values = memory.Span;
        var g = new GridF[grids.Length];
        for (int i = 0; i < g.Length; i++) g[i] = new GridF((float)grids[i].Low, (float)grids[i].High, (float)grids[i].Step);
        if (sequential)
        {
            for (int i = 0; i < g.Length; i++) sums[i] = SequentialSingle(values, g[i], absolute);
            return;
        }
        int blocks = (values.Length + Block - 1) / Block;
        var blockSums = new float[g.Length * Math.Max(blocks, 1)];
        if (parallel && blocks >= 2 * BlocksPerTask)
        {
            Parallel.For(0, (blocks + BlocksPerTask - 1) / BlocksPerTask, () => new float[Block], (task, _, scratch) =>
            {
                int end = Math.Min(blocks, (task + 1) * BlocksPerTask);
                for (int b = task * BlocksPerTask; b < end; b++) BlockSingle(memory.Span, b, g, absolute, scratch, blockSums, blocks);
                return scratch;
            }, _ => { });
        }
        else
        {
            var scratch = new float[Math.Min(Block, Math.Max(values.Length, 1))];
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
        var g = new GridD[grids.Length];
        for (int i = 0; i < g.Length; i++) g[i] = new GridD(grids[i].Low, grids[i].High, grids[i].Step);
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
        var blockSums = new double[g.Length * Math.Max(blocks, 1)];
        if (parallel && blocks >= 2 * BlocksPerTask)
        {
            Parallel.For(0, (blocks + BlocksPerTask - 1) / BlocksPerTask, () => new double[Block], (task, _, scratch) =>
            {
                int end = Math.Min(blocks, (task + 1) * BlocksPerTask);
                for (int b = task * BlocksPerTask; b < end; b++) BlockDouble(memory.Span, b, g, absolute, scratch, blockSums, blocks);
                return scratch;
            }, _ => { });
        }
        else
        {
            var scratch = new double[Math.Min(Block, Math.Max(values.Length, 1))];
            for (int b = 0; b < blocks; b++) BlockDouble(values, b, g, absolute, scratch, blockSums, blocks);
        }
        for (int i = 0; i < g.Length; i++)
        {
            double total = 0;
            for (int b = 0; b < blocks; b++) total += blockSums[i * blocks + b];
            sums[i] = total;
        }
    }

    private readonly record struct GridF(float Low, float High, float Step);

    private readonly record struct GridD(double Low, double High, double Step);

    private static void BlockSingle(ReadOnlySpan<float> values, int block, GridF[] grids, bool absolute, float[] scratch, float[] blockSums, int blocks)
    {
        int start = block * Block, n = Math.Min(Block, values.Length - start);
        var slice = values.Slice(start, n);
        var terms = scratch.AsSpan(0, n);
        for (int i = 0; i < grids.Length; i++)
        {
            TermsSingle(slice, grids[i], absolute, terms);
            blockSums[i * blocks + block] = PairwiseSingle(terms);
        }
    }

    private static void BlockDouble<T>(ReadOnlySpan<T> values, int block, GridD[] grids, bool absolute, double[] scratch, double[] blockSums, int blocks)
        where T : unmanaged
    {
        int start = block * Block, n = Math.Min(Block, values.Length - start);
        var slice = values.Slice(start, n);
        var terms = scratch.AsSpan(0, n);
        for (int i = 0; i < grids.Length; i++)
        {
            TermsDouble(slice, grids[i], absolute, terms);
            blockSums[i * blocks + block] = PairwiseDouble(terms);
        }
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
    private static void TermsDouble<T>(ReadOnlySpan<T> x, GridD grid, bool absolute, Span<double> terms) where T : unmanaged
    {
        double a = grid.Low, b = grid.High, step = grid.Step;
        int i = 0;
        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated)
        {
            var av = Vector256.Create(a);
            var bv = Vector256.Create(b);
            var sv = Vector256.Create(step);
            ref float source = ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x));
            ref double target = ref MemoryMarshal.GetReference(terms);
            for (; i <= x.Length - Vector128<float>.Count; i += Vector128<float>.Count)
            {
                var v = Vector256.WidenLower(Vector128.LoadUnsafe(ref source, (nuint)i).ToVector256Unsafe());
                var clipped = Clip(v, av, bv);
                var q = sv * Vector256.Round((clipped - av) / sv) + av;
                var d = v - q;
                (absolute ? Vector256.Abs(d) : d * d).StoreUnsafe(ref target, (nuint)i);
            }
        }
        else if (typeof(T) == typeof(double) && Vector256.IsHardwareAccelerated)
        {
            var av = Vector256.Create(a);
            var bv = Vector256.Create(b);
            var sv = Vector256.Create(step);
            ref double source = ref Unsafe.As<T, double>(ref MemoryMarshal.GetReference(x));
            ref double target = ref MemoryMarshal.GetReference(terms);
            for (; i <= x.Length - Vector256<double>.Count; i += Vector256<double>.Count)
            {
                var v = Vector256.LoadUnsafe(ref source, (nuint)i);
                var clipped = Clip(v, av, bv);
                var q = sv * Vector256.Round((clipped - av) / sv) + av;
                var d = v - q;
                (absolute ? Vector256.Abs(d) : d * d).StoreUnsafe(ref target, (nuint)i);
            }
        }
        for (; i < x.Length; i++)
        {
            T raw = x[i];
            double v = typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref raw) : Unsafe.As<T, double>(ref raw);
            double clipped = v > a ? v : a;
            clipped = clipped < b ? clipped : b;
            double d = v - (step * Math.Round((clipped - a) / step) + a);
            terms[i] = absolute ? Math.Abs(d) : d * d;
        }
    }

    /// <summary>
    /// x &gt; a ? x : a, then c &lt; b ? c : b: x86's maxps/minps are exactly these selections (the second operand unless
    /// the first is greater/less), so one instruction each rather than a compare and a blend.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<TValue> Clip<TValue>(Vector256<TValue> x, Vector256<TValue> a, Vector256<TValue> b)
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
