using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Kernels;

/// <summary>
/// MCT's <c>lut_quantizer</c> arithmetic in one fused pass (SEMANTICS.md, "Look-up-table quantizers"):
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
        if (decision.UsesCells && Avx2.IsSupported)
        {
            var picker = new CellPicker<T>(decision);
            Run(source, destination, decision, ref lanes, ref picker, ref stats);
        }
        else
        {
            var picker = new LinearPicker<T>(decision);
            Run(source, destination, decision, ref lanes, ref picker, ref stats);
        }
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
                        var y = ToFloat32(picker.Pick(v) * lanes.Threshold);
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
    }

    /// <summary>How a vector of clamped scaled values becomes the levels (entry / k) they pick.</summary>
    private interface IPicker<T> where T : unmanaged
    {
        Vector256<T> Pick(Vector256<T> v);
    }

    /// <summary>Compare-and-select over the sorted thresholds: the last threshold below v decides (small tables).</summary>
    private readonly unsafe struct LinearPicker<T>(LutDecision<T> decision) : IPicker<T>
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly Vector256<T>* _thresholds = decision.ThresholdVectorPointer;
        private readonly Vector256<T>* _levels = decision.LevelVectorPointer;
        private readonly int _count = decision.Count - 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<T> Pick(Vector256<T> v)
        {
            var level = _levels[0];
            for (int i = 0; i < _count; i++)
                level = Vector256.ConditionalSelect(Vector256.GreaterThan(v, _thresholds[i]), _levels[i + 1], level);
            return level;
        }
    }

    /// <summary>Large tables: the unit cell of v holds at most one threshold; three gathers give it and the levels on both sides.</summary>
    private readonly unsafe struct CellPicker<T>(LutDecision<T> decision) : IPicker<T>
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly T* _thresholds = decision.CellThresholdPointer;
        private readonly T* _lower = decision.CellLowerPointer;
        private readonly T* _upper = decision.CellUpperPointer;
        private readonly Vector256<T> _low = Vector256.Create(decision.Low);
        private readonly Vector256<int> _lastCell = Vector256.Create(decision.CellCount - 1);

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
                return Vector256.ConditionalSelect(Vector256.GreaterThan(v.AsSingle(), threshold), upper, lower).As<float, T>();
            }
            else
            {
                var offset = Vector256.Floor(v.AsDouble()) - _low.AsDouble();
                var cell = Sse41.Min(Sse41.Max(Avx.ConvertToVector128Int32WithTruncation(offset), Vector128<int>.Zero), _lastCell.GetLower());
                var threshold = Avx2.GatherVector256((double*)_thresholds, cell, 8);
                var lower = Avx2.GatherVector256((double*)_lower, cell, 8);
                var upper = Avx2.GatherVector256((double*)_upper, cell, 8);
                return Vector256.ConditionalSelect(Vector256.GreaterThan(v.AsDouble(), threshold), upper, lower).As<double, T>();
            }
        }
    }
}
