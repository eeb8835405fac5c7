using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace QuantShell.Core.Kernels;

/// <summary>Per-element grid tables for <see cref="FakeQuantizeKernel.ApplyPeriodic{T}"/>.</summary>
public sealed class PeriodicGrids<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    public PeriodicGrids(IReadOnlyList<Grid<T>> pattern)
    {
        // A pattern shorter than a vector is repeated until it is at least one vector long, so the kernel's table
        // index wraps with a single subtraction.
        int repeat = pattern.Count >= Vector256<T>.Count ? 1 : (Vector256<T>.Count + pattern.Count - 1) / pattern.Count;
        Period = pattern.Count * repeat;
        int padded = Period + Vector256<T>.Count;
        Scales = new T[padded];
        Inverses = new T[padded];
        ZeroPoints = new T[padded];
        for (int i = 0; i < padded; i++)
        {
            var grid = pattern[i % pattern.Count];
            Scales[i] = grid.Scale;
            Inverses[i] = grid.Inverse;
            ZeroPoints[i] = grid.ZeroPoint;
        }
        QuantMin = pattern[0].QuantMin;
        QuantMax = pattern[0].QuantMax;
    }

    public int Period { get; }
    internal T[] Scales { get; }
    internal T[] Inverses { get; }
    internal T[] ZeroPoints { get; }
    public T QuantMin { get; }
    public T QuantMax { get; }
}
