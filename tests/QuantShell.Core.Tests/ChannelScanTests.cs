using System.Numerics;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// The vectorised scans MCT's weights selection starts with, against the value-by-value definitions: its finite values
/// (<see cref="MctSelection.Finite{T}"/>: the same array, or a copy without the non-finite values, from
/// <see cref="ErrorMeasure.FiniteCount{T}"/>) and each channel's extremes (<see cref="ChannelExtremes{T}.Of"/>, scanned
/// on several threads for a large tensor, against <see cref="MctWeightsSelection.Min{T}"/> and
/// <see cref="MctWeightsSelection.Max{T}"/>, bit for bit).
/// </summary>
public sealed class ChannelScanTests
{
    [Fact]
    public void Finite_LeavesOutANonFiniteValueAnywhere()
    {
        Assert.Equal(3 * 70 * 71 / 2 + 71, FiniteCases<float>());
        Assert.Equal(3 * 70 * 71 / 2 + 71, FiniteCases<double>());
    }

    /// <summary>Every length up to 70 (vector bodies and tails), all finite, then NaN, +∞ and −∞ at each position.</summary>
    private static int FiniteCases<T>() where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int cases = 0;
        var random = new Random(20);
        T[] edges = [T.Zero, T.NegativeZero, T.MaxValue, T.MinValue, T.Epsilon, -T.Epsilon];
        for (int n = 0; n <= 70; n++)
        {
            var values = new T[n];
            for (int i = 0; i < n; i++)
                values[i] = i % 5 == 0 ? edges[random.Next(edges.Length)] : T.CreateTruncating(random.NextDouble() * 200 - 100);
            Assert.Equal(n, ErrorMeasure.FiniteCount<T>(values));
            Assert.Same(values, MctSelection.Finite(values));
            cases++;
            foreach (T bad in new[] { T.NaN, T.PositiveInfinity, T.NegativeInfinity })
            {
                for (int at = 0; at < n; at++)
                {
                    var copy = (T[])values.Clone();
                    copy[at] = bad;
                    Assert.Equal(n - 1, ErrorMeasure.FiniteCount<T>(copy));
                    var finite = MctSelection.Finite(copy);
                    Assert.Equal(n - 1, finite.Length);
                    Assert.Equal(values.Where((_, i) => i != at), finite);
                    cases++;
                }
            }
        }
        return cases;
    }

    [Fact]
    public void Extremes_OfManyChannels_AreTheScansOfEach()
    {
        // 24 channels of 100,000 values: 2.4 M in all, so the channels are scanned on several threads.
        var random = new Random(21);
        var channels = new float[24][];
        for (int c = 0; c < channels.Length; c++)
        {
            var values = new float[100_000];
            for (int i = 0; i < values.Length; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * (c + 1);
            channels[c] = values;
        }
        // Zeros of both signs as the extremes (the first of equal ones is kept), a NaN, infinities, one value.
        Array.Fill(channels[1], 0f);
        channels[1][500] = -0f;
        for (int i = 0; i < channels[2].Length; i++) channels[2][i] = MathF.Abs(channels[2][i]);
        channels[2][77] = -0f;
        channels[2][99] = 0f;
        channels[3][12_345] = float.NaN;
        channels[4][0] = float.PositiveInfinity;
        channels[4][99_999] = float.NegativeInfinity;
        channels[5] = [3.5f];
        var extremes = ChannelExtremes<float>.Of(channels);
        for (int c = 0; c < channels.Length; c++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(MctWeightsSelection.Min(channels[c])), BitConverter.SingleToInt32Bits(extremes.Mins[c]));
            Assert.Equal(BitConverter.SingleToInt32Bits(MctWeightsSelection.Max(channels[c])), BitConverter.SingleToInt32Bits(extremes.Maxs[c]));
        }
        Assert.Equal(24, extremes.Mins.Length);
        Assert.False(float.IsNegative(extremes.Mins[1]), "the first zero of channel 1 is +0");
        Assert.True(float.IsNegative(extremes.Mins[2]), "the first zero of channel 2 is -0");
        Assert.True(float.IsNaN(extremes.Mins[3]) && float.IsNaN(extremes.Maxs[3]));
    }
}
