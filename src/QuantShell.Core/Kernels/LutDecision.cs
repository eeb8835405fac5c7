using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace QuantShell.Core.Kernels;

/// <summary>
/// Which table entry a scaled value picks, for distances computed in <typeparamref name="T"/>, as sorted thresholds:
/// the value picks level <c>j</c> = the number of thresholds below it. Between neighbouring entries a &lt; b, the
/// threshold is the largest <typeparamref name="T"/> value for which <c>|v - a| &lt;= |v - b|</c> (in
/// <typeparamref name="T"/>; <c>&lt;</c> when b was listed first) still picks a. The distances are monotone in v, so
/// this is exactly MCT's first-index argmin, and entries other than the two neighbours are never closer (they are at
/// least 1 farther, far more than the rounding of a distance below 2^17).
/// For tables larger than two vectors' worth of entries the kernel looks the value's unit cell up instead:
/// thresholds lie within a rounding error of the midpoints of integer neighbours, which are at least 1 apart, so each
/// cell <c>[n, n + 1)</c> holds at most one of them.
/// </summary>
public sealed unsafe class LutDecision<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    // Pinned for the process: the kernel reads them through pointers without fixing them per call.
    private readonly T[] _thresholds;
    private readonly T[] _levels;
    private readonly Vector256<T>[] _thresholdVectors;
    private readonly Vector256<T>[] _levelVectors;
    private readonly LutLevels _table;
    private CellTables? _cells; // built on first use: most tables never need them

    internal LutDecision(LutLevels table)
    {
        Count = table.Count;
        Scale = T.CreateChecked(table.Scale);
        Low = T.CreateChecked(table.Low);
        High = T.CreateChecked(table.High);
        _levels = Pinned(Count);
        for (int j = 0; j < Count; j++) _levels[j] = T.CreateChecked(table.Levels[j]);
        _thresholds = Pinned(Math.Max(1, Count - 1));
        _thresholds[0] = T.PositiveInfinity;
        for (int i = 0; i + 1 < Count; i++)
            _thresholds[i] = LastPickingLower(T.CreateChecked(table.Values[i]), T.CreateChecked(table.Values[i + 1]), table.FirstListed[i] < table.FirstListed[i + 1]);
        _thresholdVectors = GC.AllocateArray<Vector256<T>>(Math.Max(1, Count - 1), pinned: true);
        _levelVectors = GC.AllocateArray<Vector256<T>>(Count, pinned: true);
        for (int i = 0; i < _thresholdVectors.Length; i++) _thresholdVectors[i] = Vector256.Create(_thresholds[i]);
        for (int j = 0; j < Count; j++) _levelVectors[j] = Vector256.Create(_levels[j]);
        // Cells cost 3 x (2^B + 1) values: a few KiB for the usual widths; for wide LUTs only where the permutes cannot serve.
        _table = table;
    }

    /// <summary>Number of distinct entries (levels).</summary>
    public int Count { get; }

    /// <summary>k = 2^(B - signed) and the clamp range of the scaled value, in the element type.</summary>
    public T Scale { get; }
    public T Low { get; }
    public T High { get; }

    /// <summary>The thresholds, ascending (Count - 1 of them).</summary>
    public ReadOnlySpan<T> Thresholds => _thresholds.AsSpan(0, Count - 1);

    /// <summary>The level of each entry (entry / k), ascending.</summary>
    public ReadOnlySpan<T> Levels => _levels;

    /// <summary>
    /// Whether the kernel can look a value's unit cell up: the cells (3 x (2^B + 1) values) exist for tables too large for
    /// the permute pickers, and for any table up to a 12-bit LUT; each cell holds at most one threshold (always so for
    /// integer entries). Builds the cells on first use.
    /// </summary>
    public bool UsesCells => (Count > 2 * Vector256<T>.Count || _table.Bitwidth <= 12) && Cells.Usable;

    private CellTables Cells => LazyInitializer.EnsureInitialized(ref _cells, () => BuildCells(_table));

    /// <summary>The level index a (clamped, non-NaN) scaled value picks: the number of thresholds below it.</summary>
    public int IndexOf(T v)
    {
        int low = 0, high = Count - 1; // answer in [low, high]
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (_thresholds[mid] < v) low = mid + 1;
            else high = mid;
        }
        return low;
    }

    internal T* ThresholdPointer => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_thresholds));
    internal T* LevelPointer => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_levels));
    internal Vector256<T>* ThresholdVectorPointer => (Vector256<T>*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_thresholdVectors));
    internal Vector256<T>* LevelVectorPointer => (Vector256<T>*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_levelVectors));
    internal T* CellThresholdPointer => Pointer(Cells.Thresholds);
    internal T* CellLowerPointer => Pointer(Cells.Lower);
    internal T* CellUpperPointer => Pointer(Cells.Upper);
    internal int CellCount => Cells.Thresholds.Length;

    private static T* Pointer(T[] pinned) => (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));

    /// <summary>Per unit cell: its threshold (+∞ when none) and the levels below and above it.</summary>
    private sealed record CellTables(T[] Thresholds, T[] Lower, T[] Upper, bool Usable);

    private static T[] Pinned(int length) => GC.AllocateArray<T>(length, pinned: true);

    /// <summary>
    /// Per unit cell [lo + c, lo + c + 1): the one threshold inside it (+∞ when none) and the levels below and above it.
    /// Not usable when a cell would hold two thresholds (not possible for integer entries; then the kernel compares instead).
    /// </summary>
    private CellTables BuildCells(LutLevels table)
    {
        int cells = checked((int)(table.High - table.Low) + 1);
        var thresholds = Pinned(cells);
        var lower = Pinned(cells);
        var upper = Pinned(cells);
        int next = 0; // first threshold not yet below the current cell's start
        for (int c = 0; c < cells; c++)
        {
            T start = T.CreateChecked(table.Low + c), end = T.CreateChecked(table.Low + c + 1);
            while (next < Count - 1 && _thresholds[next] < start) next++;
            int inside = next;
            while (inside < Count - 1 && _thresholds[inside] < end) inside++;
            if (inside - next > 1) return new CellTables([], [], [], Usable: false);
            lower[c] = _levels[next];
            if (inside == next)
            {
                thresholds[c] = T.PositiveInfinity;
                upper[c] = _levels[next];
            }
            else
            {
                thresholds[c] = _thresholds[next];
                upper[c] = _levels[next + 1];
            }
        }
        return new CellTables(thresholds, lower, upper, Usable: true);
    }

    /// <summary>The largest value in [lower, upper] that still picks <paramref name="lower"/>, by bisection on the ordered bit patterns.</summary>
    private static T LastPickingLower(T lower, T upper, bool lowerListedFirst)
    {
        long low = Key(lower), high = Key(upper); // picks lower at `low`, upper at `high`
        while (unchecked((ulong)high - (ulong)low) > 1)
        {
            long mid = low + (long)(unchecked((ulong)high - (ulong)low) / 2);
            if (LutLevels.PicksLower(FromKey(mid), lower, upper, lowerListedFirst)) low = mid;
            else high = mid;
        }
        return FromKey(low);
    }

    // Keys that order like the values: the sign-magnitude bit pattern turned into two's complement (-0 and +0 both 0).
    private static long Key(T value)
    {
        if (typeof(T) == typeof(float))
        {
            int bits = BitConverter.SingleToInt32Bits((float)(object)value);
            return bits >= 0 ? bits : -(long)(bits & int.MaxValue);
        }
        long wide = BitConverter.DoubleToInt64Bits((double)(object)value);
        return wide >= 0 ? wide : -(wide & long.MaxValue);
    }

    private static T FromKey(long key)
    {
        if (typeof(T) == typeof(float))
            return (T)(object)BitConverter.Int32BitsToSingle(key >= 0 ? (int)key : (int)(-key) | int.MinValue);
        return (T)(object)BitConverter.Int64BitsToDouble(key >= 0 ? key : -key | long.MinValue);
    }
}
