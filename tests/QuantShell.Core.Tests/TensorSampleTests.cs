using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// A tensor's extremes and strided samples gathered part after part (a file read in chunks), or by parts at once, are
/// those the scans take from the whole array: <see cref="ChannelScorer{T}.Sample"/>'s entries index for index, and the
/// extremes as one scan finds them (the first zero's sign).
/// </summary>
public sealed class TensorSampleTests
{
    public static TheoryData<int, int, int> Cases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int length in new[] { 1, 7, 1000, 16_385, 70_001, 200_003 })
            foreach (int chunk in new[] { 1, 333, 1 << 16 })
                foreach (int parts in new[] { 1, 2, 3 })
                    data.Add(length, chunk, parts);
        return data;
    }

    [Fact]
    public void Cases_AreAllThere() => Assert.Equal(54, Cases().Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GatheredInChunksAndParts_EqualsTheWholeArraysSamplesAndExtremes(int length, int chunk, int parts)
    {
        var random = new Random(length + chunk * 3 + parts);
        var values = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        if (length > 10)
        {
            values[length / 2] = float.NaN;
            values[length / 3] = float.NegativeInfinity;
            values[1] = -0.0f;
        }
        var options = new SelectionOptions { MaxSearchValues = 1 << 17 };
        var limits = ChannelScorer<float>.SampleLimits(options);
        var whole = new ChannelScorer<float>(values, options);

        var sequential = new TensorSample<float>(length, limits);
        for (int at = 0; at < length; at += chunk) sequential.Add(values.AsSpan(at, Math.Min(chunk, length - at)));
        var split = new TensorSample<float>(length, limits);
        var pieces = split.Split(parts);
        Parallel.ForEach(pieces, part =>
        {
            for (long at = part.Start; at < part.End; at += chunk) part.Add(values.AsSpan((int)at, (int)Math.Min(chunk, part.End - at)));
        });
        split.Join(pieces);

        foreach (var sample in new[] { sequential, split })
        {
            var scorer = new ChannelScorer<float>(sample, options);
            foreach (int limit in new[] { 1 << 14, 1 << 16, int.MaxValue })
                Assert.Equal(whole.Sample(limit).Select(BitConverter.SingleToInt32Bits), scorer.Sample(limit).Select(BitConverter.SingleToInt32Bits));
            Assert.Equal(whole.Range, scorer.Range);
            Assert.Equal(BitConverter.DoubleToInt64Bits(whole.MaxAbs), BitConverter.DoubleToInt64Bits(scorer.MaxAbs));
            var expected = ChannelBlockSelection<float>.Extremes(values)!;
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), sample.Extremes!.Select(BitConverter.SingleToInt32Bits));
        }
    }
}
