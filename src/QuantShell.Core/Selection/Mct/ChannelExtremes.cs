using System.Numerics;
using System.Runtime.InteropServices;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// Each channel's least and greatest value (<see cref="MctWeightsSelection.Min{T}"/>, <see cref="MctWeightsSelection.Max{T}"/>:
/// the first of equal ones, NaN when there is one), found once and handed to everything that needs them: the search's
/// start and its histograms' ranges.
/// </summary>
internal sealed record ChannelExtremes<T>(T[] Mins, T[] Maxs) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Values a part of a long channel scanned by one thread holds (a channel of at least two parts is shared out).</summary>
    internal const int PartLength = 1 << 20;

    /// <summary>Each channel's extremes by a scan of its values (several channels of a large tensor on several threads).</summary>
    public static ChannelExtremes<T> Of(T[][] channels)
    {
        var mins = new T[channels.Length];
        var maxs = new T[channels.Length];
        long total = 0;
        foreach (var channel in channels) total += channel.Length;
        if (channels.Length > 1 && total >= 2 * PartLength)
            Parallel.For(0, channels.Length, c => (mins[c], maxs[c]) = Scan(channels[c]));
        else
            for (int c = 0; c < channels.Length; c++) (mins[c], maxs[c]) = Scan(channels[c]);
        return new(mins, maxs);
    }

    /// <summary>
    /// <see cref="MctWeightsSelection.Min{T}"/> and <see cref="MctWeightsSelection.Max{T}"/> of <paramref name="values"/>.
    /// Where every value is finite they are the finite extremes of <see cref="ChannelBlockSelection{T}.Extremes(ReadOnlySpan{T}, out bool)"/>
    /// (vectors; a long channel in parts on several threads, a zero extreme the first zero of the first part that has one:
    /// every value before it is of the other sign); otherwise (NaN, an infinity, no value) the scans themselves.
    /// </summary>
    internal static (T Min, T Max) Scan(T[] values)
    {
        if (values.Length >= 2 * PartLength)
        {
            int parts = (values.Length + PartLength - 1) / PartLength;
            var found = new T[]?[parts];
            var finite = new bool[parts];
            Parallel.For(0, parts, part =>
            {
                int start = part * PartLength;
                found[part] = FiniteExtremes(values.AsSpan(start, Math.Min(PartLength, values.Length - start)), out finite[part]);
            });
            if (finite.All(f => f))
            {
                T min = found[0]![0], max = found[0]![1];
                foreach (var extremes in found)
                {
                    if (extremes![0] < min) min = extremes[0];
                    if (extremes[1] > max) max = extremes[1];
                }
                if (T.IsZero(min)) min = found.First(e => T.IsZero(e![0]))![0];
                if (T.IsZero(max)) max = found.First(e => T.IsZero(e![1]))![1];
                return (min, max);
            }
        }
        else if (FiniteExtremes(values, out bool allFinite) is { } extremes && allFinite)
        {
            return (extremes[0], extremes[1]);
        }
        return (MctWeightsSelection.Min(values), MctWeightsSelection.Max(values));
    }

    /// <summary><see cref="ChannelBlockSelection{T}.Extremes(ReadOnlySpan{T}, out bool)"/> of float32 or float64 values.</summary>
    private static T[]? FiniteExtremes(ReadOnlySpan<T> values, out bool allFinite)
    {
        if (typeof(T) == typeof(float))
            return (T[]?)(object?)ChannelBlockSelection<float>.Extremes(MemoryMarshal.Cast<T, float>(values), out allFinite);
        if (typeof(T) == typeof(double))
            return (T[]?)(object?)ChannelBlockSelection<double>.Extremes(MemoryMarshal.Cast<T, double>(values), out allFinite);
        allFinite = false;
        return null;
    }
}
