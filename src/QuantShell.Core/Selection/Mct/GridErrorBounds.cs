using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// Bounds of the float64 error <see cref="TensorErrors{T}"/> computes for float32 values on a float64 grid (MCT's
/// per-channel searches: float64 thresholds and ranges on a float32 tensor), from the same arithmetic done in float32:
/// eight values an instruction and the quotient rounded from the step's float32 reciprocal, about three times the float64
/// kernel's speed (ISNet-medium's channels: 0.15 against 0.45 ns a value and candidate). Each level k is exactly NumPy's (a product within the reciprocal's reach of a half-integer is divided
/// in float64 after all); only the terms differ, by at most the float32 rounding of q = s·k + a and of x - q, which the
/// bound carries, with the float32 sums' own rounding and NumPy's float64 sum's. For 8 bits the bounds are a few 1e-4 of
/// the error apart; past about 12 bits they are too wide to decide anything and <see cref="Useful"/> says so.
/// </summary>
internal static class GridErrorBounds
{
    /// <summary>float32's unit roundoff, 2^-24; 2^-48, 2^-50 and 2^-52 (float64's rounding, with room).</summary>
    private const double U = 1.0 / (1 << 24), Minus48 = U * U, Minus50 = Minus48 / 4, Minus52 = Minus48 / 16;

    /// <summary>Values whose float32 terms one lane adds before its sum goes into float64: 32 additions a lane.</summary>
    private const int Chunk = 256;

    /// <summary>A grid's float32 arithmetic and the bounds of its differences from the float64 arithmetic.</summary>
    private readonly struct Screen
    {
        public required double Low { get; init; }
        public required double High { get; init; }
        public required double Step { get; init; }
        public required float Low32 { get; init; }
        public required float High32 { get; init; }
        public required float Step32 { get; init; }
        public required float Inverse32 { get; init; }

        /// <summary>A product whose distance from its nearest integer is at most this rounds as NumPy's quotient does.</summary>
        public required float Limit { get; init; }

        /// <summary>At least |q' - q|: the float32 level value against the float64 one, for every level.</summary>
        public required double LevelError { get; init; }

        /// <summary>The float32 parameters in every lane: low, high, step, the step's reciprocal, the limit.</summary>
        public (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) Lanes() =>
            (Vector256.Create(Low32), Vector256.Create(High32), Vector256.Create(Step32), Vector256.Create(Inverse32), Vector256.Create(Limit));
    }

    /// <summary>
    /// Whether bounding is worth a pass on this grid: float32 arithmetic, a vector unit, and bounds an estimated
    /// 1% of the error apart or closer (about 12 bits and fewer).
    /// </summary>
    public static bool Useful(in MctGrid grid) =>
        Vector256.IsHardwareAccelerated && !grid.Single && Prepare(grid, out var screen)
        && 2 * screen.LevelError * Math.Sqrt(12) / grid.Step < 0.01;

    /// <summary>
    /// Bounds of the mean error (squared when not <paramref name="absolute"/>) of <paramref name="values"/> on the float64
    /// <paramref name="grid"/>, as <see cref="TensorErrors{T}"/> computes it: <c>low &lt;= error &lt;= high</c> whatever order
    /// NumPy adds in (pairwise or one term after the other). False (and no bounds) where they cannot be given: a grid
    /// outside float32's reach, or values that are not all finite.
    /// </summary>
    public static bool TryBound(ReadOnlySpan<float> values, in MctGrid grid, bool absolute, out double low, out double high)
    {
        low = double.NegativeInfinity;
        high = double.PositiveInfinity;
        int n = values.Length;
        if (n == 0 || grid.Single || !Vector256.IsHardwareAccelerated || !Prepare(grid, out var screen)) return false;
        return Means(n, Sum(values, screen, absolute), screen.LevelError, absolute, out low, out high);
    }

    /// <summary>The bounds of the mean from S' (<see cref="Sum"/>) of <paramref name="n"/> values; false where not finite.</summary>
    private static bool Means(int n, double sum, double levelError, bool absolute, out double low, out double high)
    {
        low = double.NegativeInfinity;
        high = double.PositiveInfinity;
        if (!double.IsFinite(sum)) return false;
        double bound = Bound(n, sum, levelError, absolute);
        if (!double.IsFinite(bound)) return false;
        low = Math.Max(0, sum - bound) / n;
        high = (sum + bound) / n;
        return double.IsFinite(high);
    }

    /// <summary>
    /// <see cref="TryBound"/> of each of <paramref name="candidates"/>' grids on the same values, except that a candidate
    /// whose terms so far already put it above the least upper bound of the candidates finished before it is left there:
    /// every term is at least 0, so the bound of the part is a lower bound of the whole (its low; its high +∞), and it
    /// cannot be the least. All candidates first take the first eighth of the values (at least one chunk); then they are
    /// finished lowest sum first (a near-least upper bound early), each of the rest checked against the least upper bound
    /// after every chunk. A finished candidate's bounds are <see cref="TryBound"/>'s bit for bit. False (nothing bounded)
    /// where <see cref="TryBound"/> would be false for one of them. <paramref name="cut"/>: the candidates left part way.
    /// Fewer than <see cref="BoundTogetherFrom"/> values are bounded one candidate after the other (none is left).
    /// </summary>
    public static bool TryBoundLeast(ReadOnlySpan<float> values, ReadOnlySpan<MctCandidate> candidates, bool absolute, Span<double> lows, Span<double> highs, out int cut)
    {
        cut = 0;
        if (values.Length >= BoundTogetherFrom)
            return absolute ? BoundLeast<AbsoluteTerms>(values, candidates, absolute, lows, highs, out cut)
                            : BoundLeast<SquaredTerms>(values, candidates, absolute, lows, highs, out cut);
        for (int i = 0; i < candidates.Length; i++)
            if (!TryBound(values, candidates[i].Grid, absolute, out lows[i], out highs[i])) return false;
        return true;
    }

    /// <summary>
    /// From how many values <see cref="TryBoundLeast"/> bounds a set's candidates together, each left part way once it is
    /// above the least: four chunks. A channel of fewer has little to leave part way (its candidates all take a first
    /// chunk), and bounding together cost more than it saved there: from more than one chunk on, PaddleOCR's detector and
    /// recognizer took 6-7% longer (from every length, the recognizer 10-19%); from four, they take as long as bounding one
    /// by one and ISNet-medium gains most (medians of 7 alternated runs: 2.64 -> 2.41 s).
    /// </summary>
    public const int BoundTogetherFrom = 4 * Chunk;

    private static bool BoundLeast<TTerms>(ReadOnlySpan<float> x, ReadOnlySpan<MctCandidate> candidates, bool absolute, Span<double> lows, Span<double> highs, out int cut)
        where TTerms : struct, ITerms
    {
        cut = 0;
        int count = candidates.Length, n = x.Length;
        if (n == 0 || !Vector256.IsHardwareAccelerated) return false;
        int whole = n - n % Vector256<float>.Count, chunks = (whole + Chunk - 1) / Chunk, words = (chunks + 63) / 64;
        bool small = count <= 64;
        Span<Screen> screens = small ? stackalloc Screen[count] : new Screen[count];
        Span<Vector256<double>> totals = small ? stackalloc Vector256<double>[count] : new Vector256<double>[count];
        Span<int> next = small ? stackalloc int[count] : new int[count];
        Span<int> order = small ? stackalloc int[count] : new int[count];
        Span<double> firstSums = small ? stackalloc double[count] : new double[count];
        Span<ulong> redo = count * words <= 1024 ? stackalloc ulong[count * words] : new ulong[count * words];
        redo.Clear();
        int first = Math.Min(chunks, Math.Max(1, (chunks + 7) / 8));
        for (int i = 0; i < count; i++)
        {
            if (candidates[i].Grid.Single || !Prepare(candidates[i].Grid, out screens[i])) return false;
            totals[i] = Vector256<double>.Zero;
            next[i] = FastSum<TTerms>(x[..whole], screens[i], redo.Slice(i * words, words), ref totals[i], 0, first, double.PositiveInfinity);
            firstSums[i] = Vector256.Sum(totals[i]);
            // Lowest first, the first of equals first (an insertion: a set holds 30 or 64).
            int k = i;
            for (; k > 0 && firstSums[order[k - 1]] > firstSums[i]; k--) order[k] = order[k - 1];
            order[k] = i;
        }
        double leastHigh = double.PositiveInfinity;
        foreach (int i in order)
        {
            ref readonly var screen = ref screens[i];
            var flags = redo.Slice(i * words, words);
            // Past this sum of terms the part's low bound lies above the least upper bound (checked again when reached).
            double scaled = leastHigh * n;
            double stopAt = double.IsFinite(scaled) ? scaled + Bound(n, 2 * scaled, screen.LevelError, absolute) : double.PositiveInfinity;
            bool left = false;
            while (true)
            {
                double part = Vector256.Sum(totals[i]);
                if (part >= stopAt)
                {
                    double low = Math.Max(0, part - Bound(n, part, screen.LevelError, absolute)) / n;
                    if (low > leastHigh)
                    {
                        lows[i] = low;
                        highs[i] = double.PositiveInfinity;
                        left = true;
                        break;
                    }
                    stopAt = double.PositiveInfinity;
                }
                if (next[i] == chunks) break;
                next[i] = FastSum<TTerms>(x[..whole], screen, flags, ref totals[i], next[i], chunks, stopAt);
            }
            if (left)
            {
                cut++;
                continue;
            }
            if (!Means(n, Complete<TTerms>(x, screen, flags, totals[i]), screen.LevelError, absolute, out lows[i], out highs[i])) return false;
            leastHigh = Math.Min(leastHigh, highs[i]);
        }
        return true;
    }

    private static bool Prepare(in MctGrid grid, out Screen screen)
    {
        screen = default;
        double a = grid.Low, b = grid.High, s = grid.Step;
        if (!(double.IsFinite(a) && double.IsFinite(b) && double.IsFinite(s) && a <= b && s > 0)) return false;
        float a32 = (float)a, b32 = (float)b, s32 = (float)s, r32 = (float)(1 / s);
        if (!float.IsFinite(a32) || !float.IsFinite(b32) || !float.IsNormal(s32) || !float.IsNormal(r32)) return false;
        // Every clipped c - a lies in [0, b - a], so each level k is at most (b - a)/s, below `levels`.
        double levels = (b - a) / s + 1, reach = Math.Max(Math.Abs(a), Math.Abs(b));
        if (!(levels <= 1 << 20)) return false;
        // |y' - y| for y' = fl32(fl32(clip32(x) - a32) · r32) and NumPy's y = fl64(fl64(clip(x) - a) / s): the ends' and the
        // step's float32 rounding and three float32 roundings of a quotient at most `levels`, with float64's on top.
        double margin = 1.01 * U * (3 * levels + 2 * reach / s + 2) + levels * Minus48;
        if (!(margin < 0.125)) return false;
        float limit = (float)(0.5 - margin);
        if (limit > 0.5 - margin) limit = MathF.BitDecrement(limit);
        // |q' - q| for q' = fl32(fl32(s32·k) + a32) and q = fl64(fl64(s·k) + a): s·k within s·levels, |q| and |q'| within reach + s.
        double levelError = 1.01 * (U + Minus50) * (2.01 * s * levels + Math.Abs(a) + reach + s);
        screen = new Screen
        {
            Low = a, High = b, Step = s, Low32 = a32, High32 = b32, Step32 = s32, Inverse32 = r32, Limit = limit, LevelError = levelError,
        };
        return true;
    }

    /// <summary>
    /// The bound of |S - S'| for NumPy's float64 sum S of n exact terms t and the float32 terms' sum S' (<see cref="Sum"/>).
    /// Per value, with e = |d' - d| &lt;= E + 2u|d'| (E the level error): squares differ by at most 2.01·E·|d'| + 5.01·u·d'² + 1.01·E²
    /// (Σ|d'| at most √(n·Σd'²)), absolute values by E + 2u|d'|; the float32 terms' sum S' is within 34u of theirs
    /// (32 float32 additions a lane, then float64); NumPy's float64 sum of n terms within (n + 64)·2^-52 of the real sum.
    /// </summary>
    private static double Bound(int n, double sum, double levelError, bool absolute)
    {
        // At least Σ|d'| (absolute) or Σd'² (squared), and the float32 terms' real sum.
        double w = sum * (1 + 40 * U);
        double terms = absolute
            ? n * levelError + 2.01 * U * w
            : 2.01 * levelError * Math.Sqrt(n * w) + 5.01 * U * w + 1.01 * n * levelError * levelError;
        double numpy = (n + 64) * Minus52;
        return 1.01 * (terms + 34 * U * sum + numpy * (w + terms));
    }

    /// <summary>
    /// S': the float32 terms' sum, each level k exactly NumPy's, the terms added in float32 within each lane for
    /// <see cref="Chunk"/> values, then in float64.
    /// </summary>
    private static double Sum(ReadOnlySpan<float> x, in Screen screen, bool absolute) =>
        absolute ? Sum<AbsoluteTerms>(x, screen) : Sum<SquaredTerms>(x, screen);

    private static double Sum<TTerms>(ReadOnlySpan<float> x, in Screen screen) where TTerms : struct, ITerms
    {
        int whole = x.Length - x.Length % Vector256<float>.Count, chunks = (whole + Chunk - 1) / Chunk;
        // The chunks with a product near a half-integer, left out of the fast sum and done again with those vectors'
        // levels divided (rare), outside the fast loop.
        int words = (chunks + 63) / 64;
        Span<ulong> redo = words <= 16 ? stackalloc ulong[words] : new ulong[words];
        redo.Clear();
        var total = Vector256<double>.Zero;
        FastSum<TTerms>(x[..whole], screen, redo, ref total, 0, chunks, double.PositiveInfinity);
        return Complete<TTerms>(x, screen, redo, total);
    }

    /// <summary>S' from the fast sum of every chunk: the chunks flagged in <paramref name="redo"/> done again, then the last values.</summary>
    private static double Complete<TTerms>(ReadOnlySpan<float> x, in Screen screen, ReadOnlySpan<ulong> redo, Vector256<double> total) where TTerms : struct, ITerms
    {
        int n = x.Length, whole = n - n % Vector256<float>.Count, chunks = (whole + Chunk - 1) / Chunk;
        double sum = Vector256.Sum(total);
        for (int c = 0; c < chunks; c++)
        {
            if ((redo[c >> 6] & (1UL << (c & 63))) == 0) continue;
            var (lower, upper) = Vector256.Widen(ExactChunk<TTerms>(x.Slice(c * Chunk, Math.Min(Chunk, whole - c * Chunk)), screen));
            sum += Vector256.Sum(lower + upper);
            Interlocked.Increment(ref _redoneChunks);
        }
        for (int i = whole; i < n; i++)
        {
            float v = x[i];
            sum += TTerms.Term(v - (screen.Step32 * ExactLevel(v, screen) + screen.Low32));
        }
        return sum;
    }

    /// <summary>
    /// The terms of whole vectors in chunks [<paramref name="fromChunk"/>, <paramref name="toChunk"/>), their levels
    /// rounded from the reciprocal, each chunk's float32 sums added in float64 to <paramref name="total"/>; a chunk where a
    /// product lay near a half-integer is flagged in <paramref name="redo"/> and left out. Stops after the first chunk that
    /// brings the total's sum to <paramref name="stopAt"/> or above; returns the next chunk.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int FastSum<TTerms>(ReadOnlySpan<float> x, in Screen screen, Span<ulong> redo, ref Vector256<double> total, int fromChunk, int toChunk, double stopAt)
        where TTerms : struct, ITerms
    {
        ref float source = ref MemoryMarshal.GetReference(x);
        var (av, bv, sv, rv, lv) = screen.Lanes();
        var sum = total;
        bool capped = stopAt < double.PositiveInfinity;
        int c = fromChunk;
        while (c < toChunk)
        {
            int start = c * Chunk, end = Math.Min(x.Length, start + Chunk);
            var chunk = Vector256<float>.Zero;
            var farthest = Vector256<float>.Zero;
            // (Two running sums and maxima, two chains of additions, measured no faster: the loop is bound by its instructions.)
            for (int i = start; i < end; i += Vector256<float>.Count)
            {
                var v = Vector256.LoadUnsafe(ref source, (nuint)i);
                var y = (GridErrorSums.Clip(v, av, bv) - av) * rv;
                var k = Vector256.Round(y);
                // The distances' maximum, checked once a chunk (one instruction a vector rather than a compare and an or).
                farthest = Vector256.MaxNative(farthest, Vector256.Abs(y - k));
                chunk += TTerms.Term(v - LevelValue(sv, k, av));
            }
            if (Vector256.GreaterThanAny(farthest, lv))
            {
                redo[c >> 6] |= 1UL << (c & 63);
                c++;
                continue;
            }
            var (lower, upper) = Vector256.Widen(chunk);
            sum += lower + upper;
            c++;
            if (capped && Vector256.Sum(sum) >= stopAt) break;
        }
        total = sum;
        return c;
    }

    /// <summary>
    /// <see cref="FastSum"/>'s chunk (whole vectors) with each vector whose product lies near a half-integer given NumPy's
    /// levels: the levels as <see cref="Levels(ReadOnlySpan{float}, in Screen, Span{float})"/> takes them, then the terms.
    /// </summary>
    private static Vector256<float> ExactChunk<TTerms>(ReadOnlySpan<float> x, in Screen screen) where TTerms : struct, ITerms
    {
        Span<float> levels = stackalloc float[x.Length];
        Levels(x, screen, levels);
        var (av, _, sv, _, _) = screen.Lanes();
        var chunk = Vector256<float>.Zero;
        for (int i = 0; i < x.Length; i += Vector256<float>.Count)
        {
            var v = Vector256.Create(x.Slice(i, Vector256<float>.Count));
            chunk += TTerms.Term(v - LevelValue(sv, Vector256.Create<float>(levels.Slice(i, Vector256<float>.Count)), av));
        }
        return chunk;
    }

    /// <summary>
    /// Eight values' levels round(fl32(clip32(x) - a32) · r32); <paramref name="near"/> flags the lanes whose product lies
    /// within the reciprocal's reach of a half-integer (only there may NumPy's division round otherwise).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Level(Vector256<float> v, Vector256<float> av, Vector256<float> bv, Vector256<float> rv, Vector256<float> lv,
                                          out Vector256<float> near)
    {
        var y = (GridErrorSums.Clip(v, av, bv) - av) * rv;
        var k = Vector256.Round(y);
        near = Vector256.GreaterThan(Vector256.Abs(y - k), lv);
        return k;
    }

    /// <summary>q' = s32·k + a32, fused where the processor has it (one rounding fewer than the bound allows for).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LevelValue(Vector256<float> sv, Vector256<float> k, Vector256<float> av) =>
        Fma.IsSupported ? Fma.MultiplyAdd(sv, k, av) : sv * k + av;

    /// <summary>Chunks done again with some levels divided (for tests).</summary>
    internal static long RedoneChunks => Interlocked.Read(ref _redoneChunks);

    private static long _redoneChunks;

    /// <summary>
    /// Each value's level as the bounds take it (whole vectors: from the reciprocal, divided where flagged; the rest divided),
    /// into <paramref name="levels"/>; false when the grid is not bounded (tests check they are NumPy's levels).
    /// </summary>
    internal static bool Levels(ReadOnlySpan<float> x, in MctGrid grid, Span<float> levels)
    {
        if (grid.Single || !Vector256.IsHardwareAccelerated || !Prepare(grid, out var screen)) return false;
        Levels(x, screen, levels);
        return true;
    }

    private static void Levels(ReadOnlySpan<float> x, in Screen screen, Span<float> levels)
    {
        var (av, bv, _, rv, lv) = screen.Lanes();
        int whole = x.Length - x.Length % Vector256<float>.Count, i = 0;
        for (; i < whole; i += Vector256<float>.Count)
        {
            var k = Level(Vector256.Create(x.Slice(i, Vector256<float>.Count)), av, bv, rv, lv, out var near);
            if (near != Vector256<float>.Zero) k = ExactLevels(x.Slice(i, Vector256<float>.Count), screen);
            k.CopyTo(levels.Slice(i, Vector256<float>.Count));
        }
        for (; i < x.Length; i++) levels[i] = ExactLevel(x[i], screen);
    }

    /// <summary>The error term of a difference: its square or its absolute value (a type, so each loop is compiled for one).</summary>
    private interface ITerms
    {
        static abstract Vector256<float> Term(Vector256<float> d);

        static abstract double Term(float d);
    }

    private readonly struct SquaredTerms : ITerms
    {
        public static Vector256<float> Term(Vector256<float> d) => d * d;

        public static double Term(float d) => d * d;
    }

    private readonly struct AbsoluteTerms : ITerms
    {
        public static Vector256<float> Term(Vector256<float> d) => Vector256.Abs(d);

        public static double Term(float d) => MathF.Abs(d);
    }

    /// <summary>Eight values' levels by NumPy's float64 arithmetic (a vector with a product near a half-integer: rare).</summary>
    private static Vector256<float> ExactLevels(ReadOnlySpan<float> x, in Screen screen)
    {
        Span<float> levels = stackalloc float[Vector256<float>.Count];
        for (int j = 0; j < levels.Length; j++) levels[j] = ExactLevel(x[j], screen);
        return Vector256.Create<float>(levels);
    }

    /// <summary>round((clip(x, a, b) - a) / s) in float64, as NumPy computes it (an integer, exact in float32).</summary>
    private static float ExactLevel(float x, in Screen screen)
    {
        double v = x, a = screen.Low, b = screen.High;
        double clipped = v > a ? v : a;
        clipped = clipped < b ? clipped : b;
        return (float)Math.Round((clipped - a) / screen.Step);
    }
}
