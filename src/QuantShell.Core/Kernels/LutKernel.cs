using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Kernels;

/// <summary>
/// MCT's <c>lut_quantizer</c> arithmetic in one fused pass (docs/semantics.md, "Look-up-table quantizers"):
/// <c>v = clamp((x / d) * k, lo, hi)</c> with a true division in the element's precision, the table entry nearest to v
/// (ties to the entry listed first, decided by <see cref="LutDecision{T}"/>'s thresholds), then
/// <c>y = (entry / k) * t</c> in float32. The same pass counts non-finite inputs and sums the error, as
/// <see cref="FakeQuantizeKernel"/> does; NaN stays NaN and ±infinity saturates to the end of the table.
/// </summary>
public static class LutKernel
{
    /// <summary>Quantizes a run of elements that share one divisor <c>d = t + eps</c> and threshold <c>t</c> (one channel).</summary>
    public static void Apply<T>(ReadOnlySpan<T> source, Span<T> destination, LutDecision<T> decision, T divisor, T threshold, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var lanes = new BroadcastLanes<T>(divisor, threshold);
        Dispatch(source, destination, decision, ref lanes, ref stats);
    }

    /// <summary>Quantizes elements whose channels repeat with the period of <paramref name="channels"/>, starting at <paramref name="phase"/>.</summary>
    internal static unsafe void ApplyPeriodic<T>(ReadOnlySpan<T> source, Span<T> destination, LutDecision<T> decision, PeriodicLutChannels<T> channels,
                                                 int phase, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var lanes = new PeriodicLanes<T>(channels, phase);
        Dispatch(source, destination, decision, ref lanes, ref stats);
    }

    /// <summary>The scalar formula; NaN stays NaN and ±infinity saturates to the end of the table.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Quantize<T>(T x, T divisor, T threshold, LutDecision<T> decision)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (T.IsNaN(x)) return x;
        T v = x / divisor * decision.Scale;
        if (v < decision.Low) v = decision.Low;
        else if (v > decision.High) v = decision.High;
        return ToFloat32(decision.Levels[decision.IndexOf(v)] * threshold);
    }

    /// <summary>The scaled value before clamping, <c>(x / d) * k</c>, for metrics that ask whether it was clipped.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T Scaled<T>(T x, T divisor, LutDecision<T> decision) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> =>
        x / divisor * decision.Scale;

    /// <summary>MCT computes the output in float32: a float64 product (exact: a 17-bit level times a float32 t) is rounded once to float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T ToFloat32<T>(T product) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? product : T.CreateTruncating((float)double.CreateTruncating(product));

    private static unsafe void Dispatch<T, TLanes>(ReadOnlySpan<T> source, Span<T> destination, LutDecision<T> decision, ref TLanes lanes, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
        where TLanes : struct, ILanes<T>
    {
        if (destination.Length < source.Length) throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        switch (PickerOverride ?? FastestPicker(decision))
        {
            case PickerKind.Permute:
            {
                var picker = new PermutePicker<T>(decision, lanes.PickerScale);
                Run(source, destination, decision, ref lanes, ref picker, ref stats);
                break;
            }
            case PickerKind.TwoTablePermute:
            {
                var picker = new TwoTablePermutePicker<T>(decision, lanes.PickerScale);
                Run(source, destination, decision, ref lanes, ref picker, ref stats);
                break;
            }
            case PickerKind.Cells:
            {
                var picker = new CellPicker<T>(decision, lanes.PickerScale);
                Run(source, destination, decision, ref lanes, ref picker, ref stats);
                break;
            }
            default:
            {
                var picker = new LinearPicker<T>(decision, lanes.PickerScale);
                Run(source, destination, decision, ref lanes, ref picker, ref stats);
                break;
            }
        }
    }

    /// <summary>How the kernel finds the level of a vector of scaled values.</summary>
    internal enum PickerKind
    {
        /// <summary>Branch-free binary search in one register (AVX2; up to 8 float32 / 4 float64 entries).</summary>
        Permute,
        /// <summary>The same over two registers (AVX-512 VL; up to 16 float32 / 8 float64 entries).</summary>
        TwoTablePermute,
        /// <summary>The unit cell's threshold and levels by gathers (AVX2; any table the cells were built for).</summary>
        Cells,
        /// <summary>Compare-and-select over every threshold (any vector hardware).</summary>
        Linear,
    }

    /// <summary>Tests only: the picker to use on this thread instead of the fastest one (the picker must apply to the table).</summary>
    [ThreadStatic]
    internal static PickerKind? PickerOverride;

    /// <summary>
    /// The decision is a branch-free binary search over the thresholds: in one register for up to a vector's worth of
    /// entries, in two with AVX-512's two-table permute; larger tables look their unit cell up with gathers.
    /// </summary>
    internal static PickerKind FastestPicker<T>(LutDecision<T> decision) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (Avx2.IsSupported && decision.Count <= Vector256<T>.Count) return PickerKind.Permute;
        if (Avx512F.VL.IsSupported && decision.Count <= 2 * Vector256<T>.Count) return PickerKind.TwoTablePermute;
        if (Avx2.IsSupported && decision.UsesCells) return PickerKind.Cells;
        return PickerKind.Linear;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Run<T, TLanes, TPicker>(ReadOnlySpan<T> source, Span<T> destination, LutDecision<T> decision,
                                                       ref TLanes lanes, ref TPicker picker, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
        where TLanes : struct, ILanes<T>
        where TPicker : struct, IPicker<T>
    {
        int length = source.Length;
        var acc = new FakeQuantizeKernel.Accumulator();
        fixed (T* src = source)
        fixed (T* dst = destination)
        {
            int i = 0;
            if (Vector256.IsHardwareAccelerated && length >= Vector256<T>.Count)
            {
                int peel = FakeQuantizeKernel.NonTemporalPeel(dst, length);
                for (; i < peel; i++)
                    acc.Add(src[i], dst[i] = Quantize(src[i], lanes.DivisorAt(i), lanes.ThresholdAt(i), decision));
                lanes.Seek(i);
                bool nonTemporal = peel >= 0;
                var scale = Vector256.Create(decision.Scale);
                var low = Vector256.Create(decision.Low);
                var high = Vector256.Create(decision.High);
                var maxFinite = Vector256.Create(T.MaxValue);
                var error = Vector256<double>.Zero;
                var signal = Vector256<double>.Zero;
                while (i <= length - Vector256<T>.Count)
                {
                    int blockEnd = Math.Min(length - Vector256<T>.Count, i + (FakeQuantizeKernel.BlockVectors - 1) * Vector256<T>.Count);
                    int blockStart = i;
                    var blockError = Vector256<T>.Zero;
                    var blockSignal = Vector256<T>.Zero;
                    var allFinite = Vector256<T>.AllBitsSet;
                    for (; i <= blockEnd; i += Vector256<T>.Count)
                    {
                        var x = Vector256.Load(src + i);
                        // NaN lanes come out of MaxNative as `low` (x86 returns the second operand), a valid look-up;
                        // they are redone by the scalar formula below.
                        var v = Vector256.MinNative(Vector256.MaxNative(x / lanes.Divisor * scale, low), high);
                        var y = lanes.Output(picker.Pick(v));
                        if (nonTemporal) Vector256.StoreAlignedNonTemporal(y, dst + i);
                        else Vector256.Store(y, dst + i);
                        lanes.Advance();
                        FakeQuantizeKernel.Accumulate(x, y, maxFinite, ref blockError, ref blockSignal, ref allFinite);
                    }
                    FakeQuantizeKernel.EndBlock(blockError, blockSignal, allFinite, ref error, ref signal, ref acc, src, dst, blockStart, i);
                }
                if (nonTemporal && Sse.IsSupported) Sse.StoreFence();
                acc.AddVectorSums(error, signal);
            }
            for (; i < length; i++)
                acc.Add(src[i], dst[i] = Quantize(src[i], lanes.DivisorAt(i), lanes.ThresholdAt(i), decision));
            if (acc.NonFinite > 0)
            {
                for (int k = 0; k < length; k++)
                    if (!T.IsFinite(src[k])) dst[k] = Quantize(src[k], lanes.DivisorAt(k), lanes.ThresholdAt(k), decision);
            }
        }
        acc.MergeInto(ref stats, length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> ToFloat32<T>(Vector256<T> product) where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return product;
        if (Avx.IsSupported) return Avx.ConvertToVector256Double(Avx.ConvertToVector128Single(product.AsDouble())).As<double, T>();
        var wide = product.AsDouble();
        return Vector256.Create((double)(float)wide[0], (float)wide[1], (float)wide[2], (float)wide[3]).As<double, T>();
    }

    /// <summary>Where the divisor and threshold of each element come from.</summary>
    private interface ILanes<T> where T : unmanaged
    {
        /// <summary>The divisors and thresholds of the vector at the current position.</summary>
        Vector256<T> Divisor { get; }
        Vector256<T> Threshold { get; }

        /// <summary>Moves the current position to element <paramref name="index"/> of the span.</summary>
        void Seek(int index);

        /// <summary>Moves the current position on by one vector.</summary>
        void Advance();

        T DivisorAt(int index);
        T ThresholdAt(int index);

        /// <summary>The factor the picker multiplies its levels by: the threshold when it is one for every element, else 1.</summary>
        T PickerScale { get; }

        /// <summary>The output from what the picker returned: as it is, or times each element's threshold (in float32).</summary>
        Vector256<T> Output(Vector256<T> picked);
    }

    private readonly struct BroadcastLanes<T>(T divisor, T threshold) : ILanes<T> where T : unmanaged
    {
        private readonly Vector256<T> _divisor = Vector256.Create(divisor);
        private readonly Vector256<T> _threshold = Vector256.Create(threshold);

        public Vector256<T> Divisor => _divisor;
        public Vector256<T> Threshold => _threshold;
        public void Seek(int index) { }
        public void Advance() { }
        public T DivisorAt(int index) => divisor;
        public T ThresholdAt(int index) => threshold;
        public T PickerScale => threshold;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Output(Vector256<T> picked) => picked;
    }

    private unsafe struct PeriodicLanes<T>(PeriodicLutChannels<T> channels, int phase) : ILanes<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly T* _divisors = channels.DivisorPointer;
        private readonly T* _thresholds = channels.ThresholdPointer;
        private readonly int _period = channels.Period;
        private int _at;

        public readonly Vector256<T> Divisor => Vector256.Load(_divisors + _at);
        public readonly Vector256<T> Threshold => Vector256.Load(_thresholds + _at);
        public void Seek(int index) => _at = (int)((phase + (long)index) % _period);

        public void Advance()
        {
            _at += Vector256<T>.Count;
            if (_at >= _period) _at -= _period; // the period is at least one vector long
        }

        public readonly T DivisorAt(int index) => channels.DivisorAt((int)((phase + (long)index) % _period));
        public readonly T ThresholdAt(int index) => channels.ThresholdAt((int)((phase + (long)index) % _period));
        public readonly T PickerScale => T.One;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector256<T> Output(Vector256<T> picked) => ToFloat32(picked * Threshold);
    }

    /// <summary>
    /// How a vector of clamped scaled values becomes the levels (entry / k) they pick, times the picker's scale (the
    /// threshold, when every element has the same one) rounded to float32 as MCT's output is.
    /// </summary>
    private interface IPicker<T> where T : unmanaged
    {
        Vector256<T> Pick(Vector256<T> v);
    }

    /// <summary>The level of entry i times <paramref name="scale"/>, in float32 as the output is computed.</summary>
    private static T ScaledLevel<T>(LutDecision<T> decision, int i, T scale) where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T> =>
        ToFloat32(decision.Levels[Math.Min(i, decision.Count - 1)] * scale);

    /// <summary>
    /// Up to one vector's worth of entries: a branch-free binary search for j = the number of thresholds below v, in
    /// ceil(log2(entries)) steps. The first step compares with one broadcast threshold; each later one permutes the
    /// threshold at j + offset out of a register (pre-shifted by the offset, padded with +∞); one more permute gives the
    /// level. float64 lanes are addressed as pairs of 32-bit halves (2j, 2j + 1), so AVX2's vpermps serves both types.
    /// </summary>
    private readonly struct PermutePicker<T> : IPicker<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly int _steps;
        private readonly Vector256<T> _first;       // threshold 2^(steps-1) - 1, broadcast
        private readonly Vector256<int> _firstStep; // what the first step adds to the index
        private readonly Vector256<float> _shifted; // threshold j + 1 at lane j (used when steps = 3)
        private readonly Vector256<float> _thresholds;
        private readonly Vector256<float> _levels;

        public PermutePicker(LutDecision<T> decision, T scale)
        {
            _steps = Math.Max(1, (int)Math.Ceiling(Math.Log2(decision.Count)));
            T Threshold(int i) => i < decision.Count - 1 ? decision.Thresholds[i] : T.PositiveInfinity;
            int lanes = Vector256<T>.Count;
            Span<T> thresholds = stackalloc T[lanes];
            Span<T> shifted = stackalloc T[lanes];
            Span<T> levels = stackalloc T[lanes];
            for (int i = 0; i < lanes; i++)
            {
                thresholds[i] = Threshold(i);
                shifted[i] = Threshold(i + 1);
                levels[i] = ScaledLevel(decision, i, scale);
            }
            int half = 1 << (_steps - 1);
            _first = Vector256.Create(Threshold(half - 1));
            // float64: j counts in pairs of 32-bit indices, so a step of j += c adds 2c to both halves.
            _firstStep = Vector256.Create(typeof(T) == typeof(float) ? half : 2 * half);
            _shifted = Vector256.Create<T>(shifted).AsSingle();
            _thresholds = Vector256.Create<T>(thresholds).AsSingle();
            _levels = Vector256.Create<T>(levels).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Pick(Vector256<T> v)
        {
            if (typeof(T) == typeof(float))
            {
                var x = v.AsSingle();
                var index = Avx.CompareGreaterThan(x, _first.AsSingle()).AsInt32() & _firstStep;
                if (_steps == 3)
                    index += Avx.CompareGreaterThan(x, Avx2.PermuteVar8x32(_shifted, index)).AsInt32() & Vector256.Create(2);
                if (_steps >= 2)
                    index += Avx.CompareGreaterThan(x, Avx2.PermuteVar8x32(_thresholds, index)).AsInt32() & Vector256.Create(1);
                return Avx2.PermuteVar8x32(_levels, index).As<float, T>();
            }
            else
            {
                var x = v.AsDouble();
                var index = Vector256.Create(1L << 32).AsInt32() + (Avx.CompareGreaterThan(x, _first.AsDouble()).AsInt32() & _firstStep);
                if (_steps >= 2)
                    index += Avx.CompareGreaterThan(x, Avx2.PermuteVar8x32(_thresholds, index).AsDouble()).AsInt32() & Vector256.Create(2);
                return Avx2.PermuteVar8x32(_levels, index).As<float, T>();
            }
        }
    }

    /// <summary>
    /// Up to two vectors' worth of entries (16 float32, 8 float64): the same search with AVX-512's two-table permute
    /// (vpermt2ps/pd), four (three) steps, the first against one broadcast threshold.
    /// </summary>
    private readonly struct TwoTablePermutePicker<T> : IPicker<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly Vector256<T> _first;
        private readonly Vector256<T> _shift3Low, _shift3High, _shift1Low, _shift1High, _low, _high, _levelsLow, _levelsHigh;

        public TwoTablePermutePicker(LutDecision<T> decision, T scale)
        {
            T Threshold(int i) => i < decision.Count - 1 ? decision.Thresholds[i] : T.PositiveInfinity;
            int lanes = Vector256<T>.Count;
            Vector256<T> Shifted(int offset, int part)
            {
                Span<T> values = stackalloc T[lanes];
                for (int i = 0; i < lanes; i++) values[i] = Threshold(part * lanes + i + offset);
                return Vector256.Create<T>(values);
            }
            Vector256<T> Levels(int part)
            {
                Span<T> values = stackalloc T[lanes];
                for (int i = 0; i < lanes; i++) values[i] = ScaledLevel(decision, part * lanes + i, scale);
                return Vector256.Create<T>(values);
            }
            _first = Vector256.Create(Threshold(lanes - 1));
            (_shift3Low, _shift3High) = (Shifted(3, 0), Shifted(3, 1));
            (_shift1Low, _shift1High) = (Shifted(1, 0), Shifted(1, 1));
            (_low, _high) = (Shifted(0, 0), Shifted(0, 1));
            (_levelsLow, _levelsHigh) = (Levels(0), Levels(1));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Pick(Vector256<T> v)
        {
            if (typeof(T) == typeof(float))
            {
                var x = v.AsSingle();
                var index = Avx.CompareGreaterThan(x, _first.AsSingle()).AsInt32() & Vector256.Create(8);
                index += Avx.CompareGreaterThan(x, Avx512F.VL.PermuteVar8x32x2(_shift3Low.AsSingle(), index, _shift3High.AsSingle())).AsInt32() & Vector256.Create(4);
                index += Avx.CompareGreaterThan(x, Avx512F.VL.PermuteVar8x32x2(_shift1Low.AsSingle(), index, _shift1High.AsSingle())).AsInt32() & Vector256.Create(2);
                index += Avx.CompareGreaterThan(x, Avx512F.VL.PermuteVar8x32x2(_low.AsSingle(), index, _high.AsSingle())).AsInt32() & Vector256.Create(1);
                return Avx512F.VL.PermuteVar8x32x2(_levelsLow.AsSingle(), index, _levelsHigh.AsSingle()).As<float, T>();
            }
            else
            {
                var x = v.AsDouble();
                var index = Avx.CompareGreaterThan(x, _first.AsDouble()).AsInt64() & Vector256.Create(4L);
                index += Avx.CompareGreaterThan(x, Avx512F.VL.PermuteVar4x64x2(_shift1Low.AsDouble(), index, _shift1High.AsDouble())).AsInt64() & Vector256.Create(2L);
                index += Avx.CompareGreaterThan(x, Avx512F.VL.PermuteVar4x64x2(_low.AsDouble(), index, _high.AsDouble())).AsInt64() & Vector256.Create(1L);
                return Avx512F.VL.PermuteVar4x64x2(_levelsLow.AsDouble(), index, _levelsHigh.AsDouble()).As<double, T>();
            }
        }
    }

    /// <summary>Compare-and-select over the sorted thresholds: the last threshold below v decides (without AVX2).</summary>
    private readonly unsafe struct LinearPicker<T>(LutDecision<T> decision, T scale) : IPicker<T>
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly Vector256<T>* _thresholds = decision.ThresholdVectorPointer;
        private readonly Vector256<T>* _levels = decision.LevelVectorPointer;
        private readonly int _count = decision.Count - 1;
        private readonly Vector256<T> _scale = Vector256.Create(scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Pick(Vector256<T> v)
        {
            var level = _levels[0];
            for (int i = 0; i < _count; i++)
                level = Vector256.ConditionalSelect(Vector256.GreaterThan(v, _thresholds[i]), _levels[i + 1], level);
            return ToFloat32(level * _scale);
        }
    }

    /// <summary>Large tables: the unit cell of v holds at most one threshold; three gathers give it and the levels on both sides.</summary>
    private readonly unsafe struct CellPicker<T>(LutDecision<T> decision, T scale) : IPicker<T>
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly T* _thresholds = decision.CellThresholdPointer;
        private readonly T* _lower = decision.CellLowerPointer;
        private readonly T* _upper = decision.CellUpperPointer;
        private readonly Vector256<T> _low = Vector256.Create(decision.Low);
        private readonly Vector256<int> _lastCell = Vector256.Create(decision.CellCount - 1);
        private readonly Vector256<T> _scale = Vector256.Create(scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Pick(Vector256<T> v)
        {
            // The cell is floor(v) - lo, a whole number in [0, cells - 1]; clamped again as integers for safety.
            if (typeof(T) == typeof(float))
            {
                var offset = Vector256.Floor(v.AsSingle()) - _low.AsSingle();
                var cell = Avx2.Min(Avx2.Max(Avx.ConvertToVector256Int32WithTruncation(offset), Vector256<int>.Zero), _lastCell);
                var threshold = Avx2.GatherVector256((float*)_thresholds, cell, 4);
                var lower = Avx2.GatherVector256((float*)_lower, cell, 4);
                var upper = Avx2.GatherVector256((float*)_upper, cell, 4);
                return ToFloat32(Vector256.ConditionalSelect(Vector256.GreaterThan(v.AsSingle(), threshold), upper, lower).As<float, T>() * _scale);
            }
            else
            {
                var offset = Vector256.Floor(v.AsDouble()) - _low.AsDouble();
                var cell = Sse41.Min(Sse41.Max(Avx.ConvertToVector128Int32WithTruncation(offset), Vector128<int>.Zero), _lastCell.GetLower());
                var threshold = Avx2.GatherVector256((double*)_thresholds, cell, 8);
                var lower = Avx2.GatherVector256((double*)_lower, cell, 8);
                var upper = Avx2.GatherVector256((double*)_upper, cell, 8);
                return ToFloat32(Vector256.ConditionalSelect(Vector256.GreaterThan(v.AsDouble(), threshold), upper, lower).As<double, T>() * _scale);
            }
        }
    }
}
