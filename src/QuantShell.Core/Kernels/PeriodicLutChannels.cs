using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace QuantShell.Core.Kernels;

/// <summary>
/// Per-element divisors (t + eps) and thresholds for <see cref="LutKernel"/> when channels alternate faster than a run
/// is worth broadcasting (a short last axis): <see cref="Period"/> consecutive elements, then the pattern repeats. Each
/// array holds the period followed by a copy of its first vector's worth, so a vector load at any phase stays inside.
/// </summary>
internal sealed unsafe class PeriodicLutChannels<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _divisors;
    private readonly T[] _thresholds;

    public PeriodicLutChannels(IReadOnlyList<T> divisors, IReadOnlyList<T> thresholds)
    {
        int count = divisors.Count;
        // A pattern shorter than a vector is repeated until it is at least one vector long, so the index wraps with one subtraction.
        int repeat = count >= Vector256<T>.Count ? 1 : (Vector256<T>.Count + count - 1) / count;
        Period = count * repeat;
        int padded = Period + Vector256<T>.Count;
        _divisors = GC.AllocateArray<T>(padded, pinned: true);
        _thresholds = GC.AllocateArray<T>(padded, pinned: true);
        for (int i = 0; i < padded; i++)
        {
            _divisors[i] = divisors[i % count];
            _thresholds[i] = thresholds[i % count];
        }
    }

    public int Period { get; }

    public T DivisorAt(int position) => _divisors[position];
    public T ThresholdAt(int position) => _thresholds[position];

    public T* DivisorPointer => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_divisors));
    public T* ThresholdPointer => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_thresholds));
}
