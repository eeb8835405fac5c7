using System.Numerics;

namespace QuantShell.Core.Errors;

/// <summary>Builds the error for NaN/±inf inputs when they are not explicitly allowed.</summary>
public static class NonFiniteInput
{
    public static QuantShellException Create(string source, long count, long[] firstIndex) =>
        new($"{source}: {count} non-finite value{(count == 1 ? "" : "s")} (NaN or ±infinity) found, the first at index [{string.Join(", ", firstIndex)}]; " +
            $"quantizing them has no meaningful result. Pass {Parameter.AllowNonFinite} to keep NaN and saturate ±infinity.",
            ErrorIds.NonFiniteInput, QuantShellErrorKind.InvalidData, source);

    /// <summary>Index of the first NaN or ±infinity in <paramref name="values"/>, or -1.</summary>
    internal static int IndexOf<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
            if (!T.IsFinite(values[i])) return i;
        return -1;
    }

    /// <summary>C-order multi-index of a flat index.</summary>
    public static long[] Unravel(long flatIndex, IReadOnlyList<long> shape)
    {
        var index = new long[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--)
        {
            if (shape[d] == 0) continue;
            index[d] = flatIndex % shape[d];
            flatIndex /= shape[d];
        }
        return index;
    }
}
