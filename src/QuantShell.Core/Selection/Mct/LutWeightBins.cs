using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// The aggregated points of MCT's weights LUT table (<see cref="MctLutSelection.WeightsTable{T}"/> from
/// <see cref="MctLutSelection.AggregateFrom"/> values on) of float32 channels taken block by block, in order, the channels
/// of a block scaled and binned in parallel, with the very sums the whole tensor's single pass makes:
/// <list type="bullet">
/// <item>counts: integers, exact whatever the order;</item>
/// <item>sums of scaled values: every bin but the two next to 0 holds values of one binade or two neighbouring ones
/// (its edges are multiples of 1/256, so of every power of two from 2^-8 up), so with at most 2^28 values each partial sum
/// is a multiple of the least value's ulp below 2^53 of them: every addition is exact, in any order. The two bins next to
/// 0 (values from the least subnormal up) are summed one value after the other in the tensor's order, as the single pass does;</item>
/// <item>score weights: a channel adds its t² once per value, so each bin's sum is t₀² added n₀ times, then t₁² n₁
/// times, ...: the same additions, made bin by bin from each channel's counts, in channel order.</item>
/// </list>
/// Distinct values are counted up to one more than the table's size, as <c>DistinctUpTo</c> counts them.
/// </summary>
internal sealed class LutWeightBins
{
    /// <summary>The most values whose bin sums are exact in any order (see the class).</summary>
    public const long MaxValues = 1L << 28;

    private readonly double[] _thresholds;
    private readonly bool _perChannelThresholds;
    private readonly float _eps, _k, _low, _high;
    private readonly double _epsDouble;
    private readonly int _limit, _zeroBin;
    private readonly double[] _weight, _sum, _score;
    private readonly HashSet<float> _distinct = [];
    private readonly Stack<Part> _parts = new();
    private long _values;
    private int _next;

    /// <param name="thresholds">Each channel's threshold (one per tensor: every part is channel 0).</param>
    /// <param name="perChannelThresholds">Whether the thresholds are per channel (a float32 array in MCT) or one per tensor.</param>
    /// <param name="numBits">The table's bit width n (distinct values are counted up to 2^n + 1).</param>
    /// <param name="lutBitwidth">The LUT's integer range's bit width B.</param>
    /// <param name="eps">The LUT's eps, added to each threshold.</param>
    public LutWeightBins(double[] thresholds, bool perChannelThresholds, int numBits, int lutBitwidth, double eps)
    {
        if (lutBitwidth is < 2 or > 16) throw new ArgumentOutOfRangeException(nameof(lutBitwidth));
        _thresholds = thresholds;
        _perChannelThresholds = perChannelThresholds;
        _eps = (float)eps;
        _epsDouble = eps;
        _k = MathF.ScaleB(1f, lutBitwidth - 1);
        _low = -_k;
        _high = _k - 1;
        int bins = (int)((_high - _low) * MctLutSelection.AggregateResolution) + 1;
        _zeroBin = (int)((0 - (double)_low) * MctLutSelection.AggregateResolution);
        _limit = 1 << numBits;
        _weight = new double[bins];
        _sum = new double[bins];
        _score = new double[bins];
    }

    /// <summary>Finite values taken so far.</summary>
    public long Values => _values;

    /// <summary>The most bytes of parts a block's channels are filled in at once.</summary>
    internal const long GroupBytes = 16L << 20;

    /// <summary>
    /// Takes the next channels (per tensor: the next parts of its values), in order. False once more than
    /// <see cref="MaxValues"/> values are taken (the sums are then no longer known to be exact in any order).
    /// </summary>
    public bool Add(float[][] block)
    {
        // A part holds every bin (about 1 MiB at 8 bits), so a block of many small channels is filled a group of
        // channels at a time (all cores busy, at most GroupBytes of parts), each group merged in channel order.
        long partBytes = (long)_weight.Length * Unsafe.SizeOf<Bin>();
        int group = (int)Math.Min(block.Length, Math.Max(Environment.ProcessorCount, GroupBytes / partBytes));
        var parts = new Part[group];
        for (int i = 0; i < parts.Length; i++) parts[i] = _parts.Count > 0 ? _parts.Pop() : new Part(_weight.Length);
        for (int from = 0; from < block.Length; from += group)
        {
            int count = Math.Min(group, block.Length - from), first = _next;
            Parallel.For(0, count, i => parts[i].Fill(block[from + i], Divisor(_perChannelThresholds ? first + i : 0), _k, _low, _high, _zeroBin, _limit));
            for (int i = 0; i < count; i++)
            {
                double t = _thresholds[_perChannelThresholds ? _next : 0];
                Merge(parts[i], t * t);
                _next++;
            }
        }
        foreach (var part in parts) _parts.Push(part);
        return _values <= MaxValues;
    }

    /// <summary>Each bin's count, sum of scaled values and sum of score weights so far (for tests).</summary>
    internal (double[] Weight, double[] Sum, double[] Score) Aggregated => (_weight, _sum, _score);

    /// <summary>Distinct values so far, counted up to one more than 2^n.</summary>
    internal int Distinct => Math.Min(_distinct.Count, _limit + 1);

    /// <summary>The table, once every channel is taken.</summary>
    public double[] Table(int numBits, int lutBitwidth) =>
        MctLutSelection.TableFromBins(_weight, _sum, _score, Distinct, numBits, lutBitwidth);

    // Per tensor the divisor is t + eps in float64, rounded for the float32 division; per channel the thresholds are a
    // float32 array and the sum is taken in float32.
    private float Divisor(int channel)
    {
        double t = _thresholds[channel];
        return _perChannelThresholds ? (float)t + _eps : (float)(t + _epsDouble);
    }

    private void Merge(Part part, double score)
    {
        _values += part.Values;
        var bins = part.Bins;
        var touched = CollectionsMarshal.AsSpan(part.Touched);
        foreach (int bin in touched)
        {
            ref var b = ref bins[bin];
            _weight[bin] += b.Count;
            if (bin != _zeroBin - 1 && bin != _zeroBin) _sum[bin] += b.Sum;
        }
        if (touched.Length * 8 < bins.Length)
        {
            foreach (int bin in touched)
            {
                int n = bins[bin].Count;
                double s = _score[bin];
                for (int j = 0; j < n; j++) s += score;
                _score[bin] = s;
            }
            foreach (int bin in touched) bins[bin] = default;
        }
        else
        {
            AddScores(bins, score);
            Array.Clear(bins);
        }
        foreach (float v in CollectionsMarshal.AsSpan(part.NearZero))
            _sum[(int)((v - (double)_low) * MctLutSelection.AggregateResolution)] += v;
        if (_distinct.Count <= _limit)
        {
            foreach (float v in part.Distinct)
            {
                _distinct.Add(v);
                if (_distinct.Count > _limit) break;
            }
        }
        part.Touched.Clear();
        part.NearZero.Clear();
        part.Distinct.Clear();
    }

    /// <summary>
    /// Every bin's score sum plus its count times <paramref name="score"/>, added one at a time as the single pass adds
    /// them: four neighbouring bins (whose counts are alike) per vector, a lane done adding +0 (its sum is positive, so
    /// unchanged).
    /// </summary>
    private void AddScores(Bin[] bins, double score)
    {
        int b = 0;
        var add = Vector256.Create(score);
        for (; b + 8 <= bins.Length; b += 8)
        {
            var n0 = Vector256.Create((double)bins[b].Count, bins[b + 1].Count, bins[b + 2].Count, bins[b + 3].Count);
            var n1 = Vector256.Create((double)bins[b + 4].Count, bins[b + 5].Count, bins[b + 6].Count, bins[b + 7].Count);
            int most = 0;
            for (int k = b; k < b + 8; k++) most = Math.Max(most, bins[k].Count);
            if (most == 0) continue;
            var s0 = Vector256.LoadUnsafe(ref _score[b]);
            var s1 = Vector256.LoadUnsafe(ref _score[b + 4]);
            var j = Vector256<double>.Zero;
            var one = Vector256.Create(1.0);
            for (int step = 0; step < most; step++)
            {
                s0 += Vector256.LessThan(j, n0) & add;
                s1 += Vector256.LessThan(j, n1) & add;
                j += one;
            }
            s0.StoreUnsafe(ref _score[b]);
            s1.StoreUnsafe(ref _score[b + 4]);
        }
        for (; b < bins.Length; b++)
        {
            int n = bins[b].Count;
            double s = _score[b];
            for (int j = 0; j < n; j++) s += score;
            _score[b] = s;
        }
    }

    /// <summary>A bin's count and (away from 0) sum, together in one cache line.</summary>
    private struct Bin
    {
        public double Sum;
        public int Count;
    }

    /// <summary>One channel's (or part's) counts, exact sums, values next to 0 in order and distinct values.</summary>
    private sealed class Part(int bins)
    {
        private const int Chunk = 1024;

        public readonly Bin[] Bins = new Bin[bins];
        public readonly List<int> Touched = [];
        public readonly List<float> NearZero = [];
        public readonly HashSet<float> Distinct = [];
        public long Values;
        private readonly float[] _scaled = new float[Chunk];
        private readonly int[] _bins = new int[Chunk];

        public void Fill(float[] values, float divisor, float k, float low, float high, int zeroBin, int limit)
        {
            Values = 0;
            bool distinctDone = false;
            for (int start = 0; start < values.Length; start += Chunk)
            {
                int n = Math.Min(Chunk, values.Length - start);
                var x = values.AsSpan(start, n);
                bool allFinite = Scale(x, divisor, k, low, high);
                if (!distinctDone)
                {
                    foreach (float raw in x)
                    {
                        if (!float.IsFinite(raw)) continue;
                        Distinct.Add(raw);
                        if (distinctDone = Distinct.Count > limit) break;
                    }
                }
                for (int i = 0; i < n; i++)
                {
                    if (!allFinite && !float.IsFinite(x[i])) continue;
                    Values++;
                    float v = _scaled[i];
                    int bin = _bins[i];
                    ref var b = ref Bins[bin];
                    if (b.Count++ == 0) Touched.Add(bin);
                    if ((uint)(bin - (zeroBin - 1)) <= 1) NearZero.Add(v);
                    else b.Sum += v;
                }
            }
        }

        /// <summary>clip(x / divisor · k, low, high) in float32 and its bin, ⌊(v - low) · 256⌋ in float64, as WeightsTable takes them.</summary>
        private bool Scale(ReadOnlySpan<float> x, float divisor, float k, float low, float high)
        {
            int i = 0;
            bool allFinite = true;
            if (Avx.IsSupported)
            {
                var d = Vector256.Create(divisor);
                var kv = Vector256.Create(k);
                var lo = Vector256.Create(low);
                var hi = Vector256.Create(high);
                var loD = Vector256.Create((double)low);
                var res = Vector256.Create((double)MctLutSelection.AggregateResolution);
                var largest = Vector256.Create(float.MaxValue);
                var finite = Vector256<float>.AllBitsSet;
                ref float source = ref MemoryMarshal.GetReference(x);
                for (; i <= x.Length - 8; i += 8)
                {
                    var raw = Vector256.LoadUnsafe(ref source, (nuint)i);
                    finite &= Vector256.LessThanOrEqual(Vector256.Abs(raw), largest);
                    var v = raw / d * kv;
                    // Math.Clamp: below low, low; above high, high (maxps/minps return the second operand unless the first is
                    // greater/less; a non-finite value's result is not used).
                    v = Avx.Min(Avx.Max(v, lo), hi);
                    v.StoreUnsafe(ref _scaled[0], (nuint)i);
                    var lower = Avx.ConvertToVector256Double(v.GetLower());
                    var upper = Avx.ConvertToVector256Double(v.GetUpper());
                    Avx.ConvertToVector128Int32WithTruncation((lower - loD) * res).StoreUnsafe(ref _bins[0], (nuint)i);
                    Avx.ConvertToVector128Int32WithTruncation((upper - loD) * res).StoreUnsafe(ref _bins[0], (nuint)(i + 4));
                }
                allFinite = finite == Vector256<float>.AllBitsSet;
            }
            for (; i < x.Length; i++)
            {
                float v = Math.Clamp(x[i] / divisor * k, low, high);
                _scaled[i] = v;
                _bins[i] = float.IsFinite(x[i]) ? (int)((v - (double)low) * MctLutSelection.AggregateResolution) : 0;
                allFinite &= float.IsFinite(x[i]);
            }
            return allFinite;
        }
    }
}
