using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's per-channel KL searches on more channels than <see cref="TensorKlErrors{T}"/> keeps prepared histograms for
/// (each set of candidates then prepares its channel's again) choose what the same channels choose in tensors of fewer
/// channels (histograms kept): per channel the searches are independent, so the whole tensor's choices are its halves'.
/// </summary>
public sealed class MctKlManyChannelsTests
{
    [Fact]
    public void ManyChannels_ChooseAsTheirHalvesDo()
    {
        const int channelCount = 300, length = 200;
        Assert.True(channelCount > TensorKlErrors<float>.KeptHistogramsUpTo && channelCount / 2 <= TensorKlErrors<float>.KeptHistogramsUpTo);
        var random = new Random(3001);
        var channels = new float[channelCount][];
        for (int c = 0; c < channelCount; c++)
        {
            double spread = 0.01 + random.NextDouble();
            channels[c] = new float[length];
            for (int i = 0; i < length; i++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                // Heavy tails in some channels, so clipping matters to the divergence.
                channels[c][i] = (float)(spread * (c % 3 == 0 && random.Next(20) == 0 ? 8 * g : g));
            }
        }
        var halves = new[] { channels[..(channelCount / 2)], channels[(channelCount / 2)..] };
        int compared = 0;
        foreach (int bits in new[] { 8, 4 })
        {
            var symmetric = MctWeightsSelection.SymmetricThresholds(channels, bits, true, true, ErrorMethod.Kl, 2);
            var symmetricHalves = halves.SelectMany(h => MctWeightsSelection.SymmetricThresholds(h, bits, true, true, ErrorMethod.Kl, 2)).ToArray();
            Assert.Equal(symmetricHalves.Select(BitConverter.DoubleToInt64Bits), symmetric.Select(BitConverter.DoubleToInt64Bits));
            var pot = MctWeightsSelection.PotThresholds(channels, bits, true, true, ErrorMethod.Kl, 2);
            var potHalves = halves.SelectMany(h => MctWeightsSelection.PotThresholds(h, bits, true, true, ErrorMethod.Kl, 2)).ToArray();
            Assert.Equal(potHalves.Select(BitConverter.DoubleToInt64Bits), pot.Select(BitConverter.DoubleToInt64Bits));
            // The KL search moved off the no-clipping start somewhere, so the histograms decided something.
            var start = MctWeightsSelection.SymmetricThresholds(channels, bits, true, true, ErrorMethod.NoClipping, 2);
            Assert.True(symmetric.Zip(start).Count(p => p.First != p.Second) > channelCount / 10);
            compared += symmetric.Length + pot.Length;
            if (bits != 8) continue;
            // MCT's uniform KL grid is 8 bits whatever the width.
            var uniform = MctWeightsSelection.UniformRanges(channels, bits, true, ErrorMethod.Kl, 2);
            var uniformHalves = halves.SelectMany(h => MctWeightsSelection.UniformRanges(h, bits, true, ErrorMethod.Kl, 2)).ToArray();
            Assert.Equal(uniformHalves, uniform);
            compared += uniform.Length;
        }
        Assert.Equal(5 * channelCount, compared);
    }
}
