using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// A block of channels is scanned once for each channel's finite extremes and whether all its values are finite
/// (<see cref="ChannelBlockSelection{T}.Extremes(ReadOnlySpan{T}, out bool)"/>); MCT's searches then take those extremes
/// for their start and their histograms' ranges instead of scanning again: the same choices as scanning.
/// </summary>
public sealed class ChannelExtremesTests
{
    [Fact]
    public void Extremes_TellWhetherEveryValueIsFinite_WhereverTheNonFiniteOneIs()
    {
        var random = new Random(17);
        int cases = 0;
        foreach (int length in new[] { 1, 7, 31, 32, 33, 63, 64, 65, 1000 })
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                for (int at = -1; at < length; at += Math.Max(1, length / 9))
                {
                    var values = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
                    if (at >= 0) values[at] = bad;
                    var extremes = ChannelBlockSelection<float>.Extremes(values, out bool allFinite);
                    Assert.Equal(at < 0, allFinite);
                    var finite = values.Where(float.IsFinite).ToArray();
                    if (finite.Length == 0)
                    {
                        Assert.Null(extremes);
                    }
                    else
                    {
                        Assert.Equal(finite.Min(), extremes![0]);
                        Assert.Equal(finite.Max(), extremes[1]);
                    }
                    Assert.Equal(ChannelBlockSelection<float>.Extremes(values), extremes);
                    cases++;
                }
        Assert.Equal(252, cases);
    }

    public static TheoryData<string> Kinds() => new(["gaussian", "zeros-first-negative", "zeros-first-positive", "non-negative", "few-values"]);

    private static float[] Channel(string kind, int n, Random random)
    {
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var values = Enumerable.Range(0, n).Select(_ => (float)Normal() * 0.3f).ToArray();
        switch (kind)
        {
            case "zeros-first-negative":
            case "zeros-first-positive":
                // Non-negative values whose least is a zero of each sign, the first one's sign told by the kind.
                for (int i = 0; i < n; i++) values[i] = Math.Abs(values[i]);
                for (int i = 3; i < n; i += 97) values[i] = i % 2 == 0 ? 0f : -0f;
                values[1] = kind == "zeros-first-negative" ? -0f : 0f;
                break;
            case "non-negative":
                for (int i = 0; i < n; i++) values[i] = Math.Abs(values[i]) + 0.01f;
                break;
            case "few-values":
                for (int i = 0; i < n; i++) values[i] = new[] { -0.5f, 0f, 0.25f, 1f }[random.Next(4)];
                break;
        }
        return values;
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SearchesGivenTheScannedExtremes_ChooseAsScanningAgain(string kind)
    {
        var random = new Random(kind.Length * 13);
        int cases = 0;
        foreach (int bits in new[] { 3, 8 })
        {
            var channels = Enumerable.Range(0, 3).Select(_ => Channel(kind, 3000, random)).ToArray();
            var scanned = channels.Select(c => ChannelBlockSelection<float>.Extremes(c, out _)!).ToArray();
            var extremes = new ChannelExtremes<float>(scanned.Select(e => e[0]).ToArray(), scanned.Select(e => e[1]).ToArray());
            // The scan's extremes are MCT's min and max, zeros' signs included.
            Assert.Equal(ChannelExtremes<float>.Of(channels).Mins.Select(BitConverter.SingleToInt32Bits), extremes.Mins.Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(ChannelExtremes<float>.Of(channels).Maxs.Select(BitConverter.SingleToInt32Bits), extremes.Maxs.Select(BitConverter.SingleToInt32Bits));
            foreach (int boundedFrom in new[] { 0, int.MaxValue })
            {
                var thresholds = MctWeightsSelection.SymmetricThresholds(channels, bits, true, true, ErrorMethod.Mse, 2, false, boundedFrom);
                var given = MctWeightsSelection.SymmetricThresholds(channels, bits, true, true, ErrorMethod.Mse, 2, false, boundedFrom, extremes: extremes);
                Assert.Equal(thresholds.Select(BitConverter.DoubleToInt64Bits), given.Select(BitConverter.DoubleToInt64Bits));
                var ranges = MctWeightsSelection.UniformRanges(channels, bits, true, ErrorMethod.Mse, 2, false, boundedFrom);
                var rangesGiven = MctWeightsSelection.UniformRanges(channels, bits, true, ErrorMethod.Mse, 2, false, boundedFrom, extremes: extremes);
                Assert.Equal(ranges.Select(r => (BitConverter.DoubleToInt64Bits(r.Min), BitConverter.DoubleToInt64Bits(r.Max))),
                             rangesGiven.Select(r => (BitConverter.DoubleToInt64Bits(r.Min), BitConverter.DoubleToInt64Bits(r.Max))));
                cases++;
            }
        }
        Assert.Equal(4, cases);
    }
}
