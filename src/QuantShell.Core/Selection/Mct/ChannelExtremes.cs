using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// Each channel's least and greatest value (<see cref="MctWeightsSelection.Min{T}"/>, <see cref="MctWeightsSelection.Max{T}"/>:
/// the first of equal ones, NaN when there is one), found once and handed to everything that needs them: the search's
/// start and its histograms' ranges.
/// </summary>
internal sealed record ChannelExtremes<T>(T[] Mins, T[] Maxs) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Each channel's extremes by a scan of its values.</summary>
    public static ChannelExtremes<T> Of(T[][] channels) =>
        new(channels.Select(MctWeightsSelection.Min).ToArray(), channels.Select(MctWeightsSelection.Max).ToArray());
}
