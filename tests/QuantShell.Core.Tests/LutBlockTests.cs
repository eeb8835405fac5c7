using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's weights LUT chosen from a float32 .npy file block by block (<see cref="LutWeightBins"/>): the aggregated points
/// (counts, sums of scaled values, sums of score weights), the distinct count and the table are bit for bit those of
/// <see cref="MctLutSelection.WeightsTable{T}"/> on the whole tensor's values, whatever the blocks; and a file quantized
/// this way gives the same bytes and results as the general path.
/// </summary>
public sealed class LutBlockTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>Kinds of values: each stresses one of the sums' rules.</summary>
    public static TheoryData<string, bool, int, int> BinCases()
    {
        var cases = new TheoryData<string, bool, int, int>();
        foreach (string kind in new[] { "gaussian", "near zero", "clipped", "few distinct", "non-finite", "many channels" })
            foreach (bool perChannel in new[] { true, false })
                foreach (int lutBitwidth in new[] { 8, 5 })
                    cases.Add(kind, perChannel, lutBitwidth, kind.Length * 31 + (perChannel ? 7 : 0) + lutBitwidth);
        return cases;
    }

    [Fact]
    public void BinCases_AreTwentyFourInAll() => Assert.Equal(24, BinCases().Count());

    [Theory]
    [MemberData(nameof(BinCases))]
    public void BinsTakenBlockByBlock_AreTheWholeTensorsBitForBit(string kind, bool perChannel, int lutBitwidth, int seed)
    {
        var random = new Random(seed);
        const int numBits = 3;
        // Many channels: more in one block than LutWeightBins fills at once (its parts hold every bin), at both widths.
        int channelCount = !perChannel ? 1 : kind == "many channels" ? 150 : 6, length = !perChannel ? 24_000 : kind == "many channels" ? 300 : 5000;
        if (kind == "many channels" && perChannel)
        {
            long binBytes = 16L * ((long)(MathF.ScaleB(1f, lutBitwidth) - 1) * MctLutSelection.AggregateResolution + 1);
            Assert.True(channelCount * binBytes > LutWeightBins.GroupBytes, "a block of every channel is filled in more than one group");
        }
        var channels = Enumerable.Range(0, channelCount).Select(c => Values(kind, random, length, 0.1 * (c + 1))).ToArray();
        var finite = channels.Select(MctSelection.Finite).ToArray();
        var mins = finite.Select(c => MctWeightsSelection.Min(c)).ToArray();
        var maxs = finite.Select(c => MctWeightsSelection.Max(c)).ToArray();
        var thresholds = MctLutSelection.WeightsThresholds(mins, maxs, numBits, pot: false, perChannel);
        if (kind == "clipped") thresholds = thresholds.Select(t => (double)(float)(t / 3)).ToArray();
        Assert.Equal(MctLutSelection.WeightsThresholds(finite, numBits, pot: false, perChannel), MctLutSelection.WeightsThresholds(mins, maxs, numBits, pot: false, perChannel));

        (double[] Weight, double[] Sum, double[] Score)? expected = null;
        var expectedTable = MctLutSelection.WeightsTable(finite, thresholds, numBits, lutBitwidth, QuantizerSpec.DefaultEps, perChannel, aggregateFrom: 0,
                                                         aggregated: (w, s, sc) => expected = (w, s, sc));
        Assert.NotNull(expected);
        var (weight, sum, score) = expected.Value;
        int zeroBin = (int)(MathF.ScaleB(1f, lutBitwidth - 1) * MctLutSelection.AggregateResolution);
        if (kind == "near zero") Assert.True(weight[zeroBin - 1] + weight[zeroBin] > 1000, "values in the bins next to 0");
        if (kind == "clipped") Assert.True(weight[0] > 0 && weight[^1] > 0, "values clipped at both ends");

        // Blocks of one to three channels (per tensor: parts of 1 to 9,000 values), in order.
        foreach (int pass in new[] { 0, 1, 2 })
        {
            var bins = new LutWeightBins(thresholds, perChannel, numBits, lutBitwidth, QuantizerSpec.DefaultEps);
            foreach (var block in Blocks(channels, perChannel, random, pass)) Assert.True(bins.Add(block));
            var (w, s, sc) = bins.Aggregated;
            Assert.Equal(weight.Select(BitConverter.DoubleToInt64Bits), w.Select(BitConverter.DoubleToInt64Bits));
            Assert.Equal(sum.Select(BitConverter.DoubleToInt64Bits), s.Select(BitConverter.DoubleToInt64Bits));
            Assert.Equal(score.Select(BitConverter.DoubleToInt64Bits), sc.Select(BitConverter.DoubleToInt64Bits));
            Assert.Equal(finite.Sum(c => (long)c.Length), bins.Values);
            Assert.Equal(expectedTable, bins.Table(numBits, lutBitwidth));
        }
    }

    private static float[] Values(string kind, Random random, int length, double spread)
    {
        double Gaussian() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            values[i] = kind switch
            {
                // A third of the values within 2^-8 of a scaled 0: tiny, subnormal, zeros of both signs, and the bins' edge.
                "near zero" => (i % 3) switch
                {
                    0 => (float)(spread * Gaussian()),
                    1 => (float)(spread * Gaussian() * Math.Pow(2, -random.Next(8, 160))),
                    _ => new[] { 0f, -0f, float.Epsilon, -float.Epsilon, (float)(spread / 256), (float)(-spread / 256) }[random.Next(6)],
                },
                "few distinct" => new[] { -1f, 0f, 0.5f, 2f }[random.Next(4)] * (float)spread,
                "non-finite" => random.Next(50) == 0 ? new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity }[random.Next(3)] : (float)(spread * Gaussian()),
                _ => (float)(spread * Gaussian()),
            };
        }
        return values;
    }

    private static IEnumerable<float[][]> Blocks(float[][] channels, bool perChannel, Random random, int pass)
    {
        if (perChannel)
        {
            for (int c = 0; c < channels.Length;)
            {
                int n = Math.Min(channels.Length - c, pass == 0 ? channels.Length : random.Next(1, 4));
                yield return channels[c..(c + n)];
                c += n;
            }
            yield break;
        }
        var all = channels[0];
        for (int at = 0; at < all.Length;)
        {
            int n = Math.Min(all.Length - at, pass == 0 ? all.Length : random.Next(1, 9000));
            var parts = new List<float[]>();
            // Several parts in one block, as per tensor blocks are parts of the one channel.
            for (int k = 0; k < 3 && at < all.Length; k++)
            {
                parts.Add(all[at..(at + n)]);
                at += n;
                n = Math.Min(all.Length - at, n);
            }
            yield return parts.ToArray();
        }
    }

    public static TheoryData<QuantizationMethod, bool, ErrorMethod> FileCases() => new()
    {
        { QuantizationMethod.LutSymmetric, true, ErrorMethod.Mse },
        { QuantizationMethod.LutPot, true, ErrorMethod.Mae },
        { QuantizationMethod.LutSymmetric, false, ErrorMethod.NoClipping },
    };

    [Fact]
    public void FileCases_AreThree() => Assert.Equal(3, FileCases().Count());

    [Theory]
    [MemberData(nameof(FileCases))]
    public void AFileChosenByBins_EqualsTheWholeArraysChoice(QuantizationMethod method, bool perChannel, ErrorMethod errorMethod)
    {
        // Just enough values for MCT's points to be aggregated; near-zero and subnormal values among them.
        var random = new Random(5 + (int)method);
        long[] shape = [5, 840_000];
        var values = new float[5 * 840_000];
        for (int i = 0; i < values.Length; i++)
        {
            double g = (random.NextDouble() - 0.5) * (1 + i / 840_000);
            values[i] = i % 97 == 0 ? (float)(g * Math.Pow(2, -random.Next(10, 150))) : (float)g;
        }
        string input = _temp.File("w.npy");
        new NpyArray(shape, values).Write(input, force: true);
        var arguments = new QuantizerArguments { Method = method, NumBits = 4, PerChannel = perChannel, ErrorMethod = errorMethod };
        var request = new QuantizeRequest { Quantizer = arguments, Force = true };

        (QuantizationResult Result, byte[] Bytes) Run(JobInput job, string output)
        {
            var host = new RecordingHost();
            QuantizeJob.Run(request with { OutputPath = output }, [job], host);
            Assert.Empty(host.Errors);
            return (host.Results.Single(), File.ReadAllBytes(output));
        }

        var taken = new List<string>();
        NpyChannelBlocks.Taken.Value = taken.Add;
        var fromFile = Run(JobInput.File(input), _temp.File("file.q.npy"));
        NpyChannelBlocks.Taken.Value = null;
        var fromStream = Run(JobInput.Stream("w.npy", () => File.OpenRead(input)), _temp.File("stream.q.npy"));
        Assert.Equal(["lut bins"], taken);
        Assert.Equal(fromStream.Bytes, fromFile.Bytes);
        var (expected, actual) = (fromStream.Result, fromFile.Result);
        Assert.Equal(expected.Threshold!.Select(BitConverter.DoubleToInt64Bits), actual.Threshold!.Select(BitConverter.DoubleToInt64Bits));
        Assert.Equal(expected.LutValues, actual.LutValues);
        Assert.Equal(expected.ChannelAxis, actual.ChannelAxis);
        Assert.Equal(expected.Scale, actual.Scale);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Mse ?? -1), BitConverter.DoubleToInt64Bits(actual.Mse ?? -1));
        Assert.Equal(expected.Selection, actual.Selection);
        Assert.Equal(expected.Quantizer?.ToString(), actual.Quantizer?.ToString());
    }

    [Fact]
    public void AFloat64File_IsChosenFromTheWholeArray()
    {
        var random = new Random(11);
        long[] shape = [2, 2_100_000];
        var values = Enumerable.Range(0, 4_200_000).Select(_ => random.NextDouble() - 0.5).ToArray();
        string input = _temp.File("d.npy");
        new NpyArray(shape, values).Write(input, force: true);
        var taken = new List<string>();
        NpyChannelBlocks.Taken.Value = taken.Add;
        var host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.LutSymmetric, NumBits = 3, PerChannel = true }, OutputPath = _temp.File("d.q.npy") },
                        [JobInput.File(input)], host);
        NpyChannelBlocks.Taken.Value = null;
        Assert.Empty(host.Errors);
        Assert.Single(host.Results);
        Assert.Empty(taken);
    }
}
