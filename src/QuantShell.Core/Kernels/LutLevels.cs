using System.Numerics;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Kernels;

/// <summary>
/// A LUT quantizer's table in the scaled domain (docs/semantics.md, "Look-up-table quantizers"): the distinct entries sorted,
/// the position each was first listed at (MCT's argmin takes the first of equal distances), the factor
/// <c>k = 2^(B - signed)</c> and the clamp range <c>[lo, hi]</c>. The decision thresholds between neighbouring entries
/// depend on the precision the distances are computed in, so they are built per element type (<see cref="Decision{T}"/>).
/// </summary>
public sealed class LutLevels
{
    private LutDecision<float>? _floatDecision;
    private LutDecision<double>? _doubleDecision;

    public LutLevels(IReadOnlyList<double> lutValues, bool signed, int bitwidth)
    {
        ArgumentNullException.ThrowIfNull(lutValues);
        if (lutValues.Count == 0) throw new ArgumentException("A table needs at least one entry.", nameof(lutValues));
        // Equal values (0 and -0 included) are one entry, kept as first listed: MCT's argmin returns the first index of
        // the smallest distance, and equal entries are at equal distances.
        var seen = new HashSet<double>(); // 0 and -0 are equal and hash alike
        var firsts = new List<(double Value, int Index)>();
        for (int i = 0; i < lutValues.Count; i++)
        {
            if (seen.Add(lutValues[i])) firsts.Add((lutValues[i], i));
        }
        firsts.Sort((a, b) => a.Value.CompareTo(b.Value));
        Values = firsts.Select(f => f.Value).ToArray();
        FirstListed = firsts.Select(f => f.Index).ToArray();
        Signed = signed;
        Bitwidth = bitwidth;
        Scale = Math.ScaleB(1.0, bitwidth - (signed ? 1 : 0));
        Low = signed ? -Math.ScaleB(1.0, bitwidth - 1) : 0;
        High = signed ? Math.ScaleB(1.0, bitwidth - 1) - 1 : Math.ScaleB(1.0, bitwidth) - 1;
        Levels = Values.Select(v => (float)(v / Scale)).ToArray();
    }

    /// <summary>Builds the table of a LUT spec.</summary>
    internal static LutLevels For(QuantizerSpec spec) => new(spec.LutValues!, spec.IsSigned, spec.EffectiveLutValuesBitwidth);

    /// <summary>The distinct entries, ascending.</summary>
    public IReadOnlyList<double> Values { get; }

    /// <summary>For each of <see cref="Values"/>, the index of its first listing in the table as given.</summary>
    public IReadOnlyList<int> FirstListed { get; }

    /// <summary><c>Values[j] / k</c> as float32 (exact: entries are small integers, k a power of two); output = level * t.</summary>
    public IReadOnlyList<float> Levels { get; }

    public bool Signed { get; }
    public int Bitwidth { get; }

    /// <summary>k = 2^(B - signed): the scaled value is <c>(x / (t + eps)) * k</c>.</summary>
    public double Scale { get; }

    /// <summary>The clamp range of the scaled value: signed [-2^(B-1), 2^(B-1) - 1], unsigned [0, 2^B - 1].</summary>
    public double Low { get; }
    public double High { get; }

    public int Count => Values.Count;

    /// <summary>The decision thresholds and level tables for distances computed in <typeparamref name="T"/>.</summary>
    public LutDecision<T> Decision<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (typeof(T) == typeof(float)) return (LutDecision<T>)(object)(_floatDecision ??= new LutDecision<float>(this));
        if (typeof(T) == typeof(double)) return (LutDecision<T>)(object)(_doubleDecision ??= new LutDecision<double>(this));
        throw new NotSupportedException($"Element type {typeof(T).Name} is computed as float32.");
    }

    /// <summary>
    /// MCT's choice between neighbouring entries <paramref name="lower"/> &lt; <paramref name="upper"/> for a scaled value
    /// <paramref name="v"/>: the distances computed in <typeparamref name="T"/>, a tie going to the entry listed first.
    /// </summary>
    internal static bool PicksLower<T>(T v, T lower, T upper, bool lowerListedFirst) where T : IFloatingPointIeee754<T>
    {
        T toLower = T.Abs(v - lower), toUpper = T.Abs(v - upper);
        return toLower < toUpper || (toLower == toUpper && lowerListedFirst);
    }
}
