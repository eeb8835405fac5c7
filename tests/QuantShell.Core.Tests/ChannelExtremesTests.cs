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

    /// <summary>
    /// MCT's start takes each channel's <see cref="MctWeightsSelection.Min{T}"/> and <see cref="MctWeightsSelection.Max{T}"/>;
    /// <see cref="ChannelExtremes{T}.Of"/> finds them by vectors, and a long channel in parts on several threads: the same
    /// values bit for bit (which zero, which NaN, an infinity), in float32 and float64, whichever part holds what.
    /// </summary>
    [Fact]
    public void Of_LongAndShortChannels_AreTheScansInOrder_BitForBit()
    {
        var random = new Random(29);
        int part = ChannelExtremes<float>.PartLength, cases = 0;
        foreach (int length in new[] { 1, 33, 1000, 2 * part, 2 * part + part / 2 + 3 })
            foreach (string kind in new[] { "mixed", "non-negative-with-zeros", "non-positive-with-zeros", "zeros", "nan", "infinity" })
            {
                var values = new double[length];
                for (int i = 0; i < length; i++) values[i] = random.NextDouble() * 2 - 1;
                int Anywhere() => random.Next(length);
                // A position in the second or later part of a long channel, where one runs in parts.
                int Later() => length > part ? part + random.Next(length - part) : Anywhere();
                switch (kind)
                {
                    case "non-negative-with-zeros":
                        // No zero in the first part of a long channel; -0 in the second, +0 in the third.
                        for (int i = 0; i < length; i++) values[i] = Math.Abs(values[i]) + 1e-3;
                        if (length > 2 * part) { values[part + random.Next(part)] = -0.0; values[2 * part + random.Next(length - 2 * part)] = 0.0; }
                        else { values[Anywhere()] = -0.0; values[Anywhere()] = 0.0; }
                        break;
                    case "non-positive-with-zeros":
                        for (int i = 0; i < length; i++) values[i] = -Math.Abs(values[i]);
                        values[Later()] = 0.0;
                        values[Later()] = -0.0;
                        break;
                    case "zeros":
                        // The first part's zeros +0, the later parts' -0: the first zero in order is +0.
                        for (int i = 0; i < length; i++) values[i] = length > part ? (i < part ? 0.0 : -0.0) : random.Next(2) == 0 ? -0.0 : 0.0;
                        break;
                    case "nan":
                        values[Later()] = double.NaN;
                        values[Anywhere()] = -7;
                        break;
                    case "infinity":
                        values[Later()] = random.Next(2) == 0 ? double.PositiveInfinity : double.NegativeInfinity;
                        break;
                    default:
                        values[Later()] = 5;
                        values[Anywhere()] = -5;
                        break;
                }
                var singles = values.Select(v => (float)v).ToArray();
                var ofSingles = ChannelExtremes<float>.Of([singles, singles.Take(Math.Max(1, length / 3)).ToArray()]);
                var ofDoubles = ChannelExtremes<double>.Of([values]);
                Assert.Equal(BitConverter.SingleToInt32Bits(MctWeightsSelection.Min(singles)), BitConverter.SingleToInt32Bits(ofSingles.Mins[0]));
                Assert.Equal(BitConverter.SingleToInt32Bits(MctWeightsSelection.Max(singles)), BitConverter.SingleToInt32Bits(ofSingles.Maxs[0]));
                var third = singles.Take(Math.Max(1, length / 3)).ToArray();
                Assert.Equal(BitConverter.SingleToInt32Bits(MctWeightsSelection.Min(third)), BitConverter.SingleToInt32Bits(ofSingles.Mins[1]));
                Assert.Equal(BitConverter.SingleToInt32Bits(MctWeightsSelection.Max(third)), BitConverter.SingleToInt32Bits(ofSingles.Maxs[1]));
                Assert.Equal(BitConverter.DoubleToInt64Bits(MctWeightsSelection.Min(values)), BitConverter.DoubleToInt64Bits(ofDoubles.Mins[0]));
                Assert.Equal(BitConverter.DoubleToInt64Bits(MctWeightsSelection.Max(values)), BitConverter.DoubleToInt64Bits(ofDoubles.Maxs[0]));
                cases++;
            }
        Assert.Equal(30, cases);
    }

    [Fact]
    public void Extremes_OfFiniteAndNonFiniteValues_AreThoseOfAScanInOrder()
    {
        // The all-finite loop (the min and max instructions) and the masked one, in float32 and float64: lengths around
        // the vector loops, extremes anywhere (the first and last values, inside a vector, in the tail), zeros of both
        // signs as the least or greatest value (the first zero's sign wins, as in a scan), and a non-finite value or none.
        var random = new Random(23);
        int cases = 0;
        foreach (int length in new[] { 15, 16, 17, 31, 32, 33, 47, 64, 100, 1001 })
            foreach (string kind in new[] { "mixed", "non-negative-with-zeros", "non-positive-with-zeros", "zeros" })
                foreach (int bad in new[] { -1, 0, length / 2, length - 1 })
                {
                    var values = Enumerable.Range(0, length).Select(_ => random.NextDouble() * 2 - 1).ToArray();
                    switch (kind)
                    {
                        case "non-negative-with-zeros":
                            for (int i = 0; i < length; i++) values[i] = Math.Abs(values[i]);
                            values[random.Next(length)] = random.Next(2) == 0 ? -0.0 : 0.0;
                            values[random.Next(length)] = random.Next(2) == 0 ? -0.0 : 0.0;
                            break;
                        case "non-positive-with-zeros":
                            for (int i = 0; i < length; i++) values[i] = -Math.Abs(values[i]);
                            values[random.Next(length)] = random.Next(2) == 0 ? -0.0 : 0.0;
                            break;
                        case "zeros":
                            for (int i = 0; i < length; i++) values[i] = random.Next(2) == 0 ? -0.0 : 0.0;
                            break;
                        default:
                            values[random.Next(length)] = 5;
                            values[random.Next(length)] = -5;
                            break;
                    }
                    if (bad >= 0) values[bad] = new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity }[random.Next(3)];
                    AssertScanInOrder(values.Select(v => (float)v).ToArray(), bad < 0);
                    AssertScanInOrder(values, bad < 0);
                    cases++;
                }
        Assert.Equal(160, cases);
    }

    private static void AssertScanInOrder<T>(T[] values, bool allFinite) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
    {
        T min = T.PositiveInfinity, max = T.NegativeInfinity;
        foreach (T x in values)
        {
            if (!T.IsFinite(x)) continue;
            if (x < min || T.IsPositiveInfinity(min)) min = x;
            if (x > max || T.IsNegativeInfinity(max)) max = x;
        }
        var extremes = ChannelBlockSelection<T>.Extremes(values, out bool finite);
        Assert.Equal(allFinite, finite);
        Assert.NotNull(extremes);
        Assert.Equal(double.CreateChecked(min), double.CreateChecked(extremes[0]));
        Assert.Equal(double.IsNegative(double.CreateChecked(min)), double.IsNegative(double.CreateChecked(extremes[0])));
        Assert.Equal(double.IsNegative(double.CreateChecked(max)), double.IsNegative(double.CreateChecked(extremes[1])));
        Assert.Equal(double.CreateChecked(max), double.CreateChecked(extremes[1]));
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
