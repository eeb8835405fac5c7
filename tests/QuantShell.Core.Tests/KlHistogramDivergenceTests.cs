using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// The optimal search's KL divergence (<see cref="KlHistogram.Divergence"/>, at the cost of the non-empty bins) against
/// the divergence as it was (main at 2349c97: every kept bin, one by one): the same value, bit for bit, on histograms of
/// seeded random values (few and many, repeated values, constant) with edges quantized on grids (ascending) and
/// perturbed (not ascending: the bin-by-bin path), and ranges inside, beyond and across the edges.
/// </summary>
public sealed class KlHistogramDivergenceTests
{
    [Fact]
    public void Divergence_IsThePreviousComputationBitForBit()
    {
        var random = new Random(2612_20);
        int compared = 0, finite = 0, zero = 0, notAscending = 0;
        for (int h = 0; h < 300; h++)
        {
            int size = new[] { 1, 3, 40, 256, 3000, 50_000 }[h % 6];
            string kind = new[] { "gaussian", "levels", "zeros", "constant", "heavy" }[h / 6 % 5];
            double scale = Math.Exp(random.NextDouble() * 6 - 3);
            var values = new float[size];
            for (int i = 0; i < size; i++)
            {
                double g = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                values[i] = (float)(kind switch
                {
                    "gaussian" => g * scale,
                    "levels" => Math.Round(g * 2) / 2 * scale,
                    "zeros" => random.NextDouble() < 0.9 ? 0 : g * scale,
                    "constant" => scale,
                    _ => g / Math.Max(Math.Abs(random.NextDouble() - 0.5), 1e-3) * scale,
                });
            }
            var histogram = KlHistogram.Build<float>(values);
            var edges = histogram.Edges;
            double low = edges[0], width = edges[^1] - edges[0];
            var quantized = new double[edges.Length];
            for (int c = 0; c < 30; c++)
            {
                double a = low + width * (random.NextDouble() * 1.4 - 0.2), b = low + width * (random.NextDouble() * 1.4 - 0.2);
                double rangeMin = Math.Min(a, b), rangeMax = Math.Max(a, b);
                if (c % 10 == 9) rangeMin = rangeMax;
                int levels = (1 << random.Next(1, 9)) - 1;
                double step = (rangeMax - rangeMin) / levels;
                for (int i = 0; i < edges.Length; i++)
                {
                    double x = Math.Clamp(edges[i], rangeMin, rangeMax);
                    quantized[i] = step > 0 ? Math.Round((x - rangeMin) / step) * step + rangeMin : rangeMin;
                }
                bool perturbed = c % 7 == 6;
                if (perturbed)
                {
                    for (int k = 0; k < 5; k++) quantized[random.Next(quantized.Length)] += width * (random.NextDouble() - 0.5);
                }
                double expected = Reference(edges, histogram.Counts, quantized, rangeMin, rangeMax);
                double actual = histogram.Divergence(quantized, rangeMin, rangeMax);
                Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(actual),
                            $"histogram {h} ({kind}, {size}) candidate {c}: {actual:R} instead of {expected:R}");
                compared++;
                if (double.IsFinite(expected) && expected != 0) finite++;
                if (expected == 0) zero++;
                if (perturbed && double.IsFinite(expected) && expected != 0) notAscending++;
            }
        }
        Assert.Equal(9_000, compared);
        Assert.True(finite >= 3_000, $"finite, non-zero: {finite}");
        Assert.True(zero >= 50, $"zero: {zero}");
        Assert.True(notAscending >= 300, $"not ascending, scored: {notAscending}");
    }

    /// <summary><see cref="KlHistogram.Divergence"/> as it was (main at 2349c97), over the histogram's edges and counts.</summary>
    private static double Reference(double[] edges, double[] allCounts, ReadOnlySpan<double> quantizedEdges, double rangeMin, double rangeMax)
    {
        int bins = allCounts.Length;
        var prefix = new double[bins + 1];
        for (int i = 0; i < bins; i++) prefix[i + 1] = prefix[i] + allCounts[i];
        if (!(rangeMin < rangeMax)) return double.PositiveInfinity;
        int firstInside = edges.Length;
        for (int i = edges.Length - 1; i >= 0; i--) if (edges[i] >= rangeMin) firstInside = i;
        int last = -1;
        for (int i = 0; i < edges.Length; i++) if (edges[i] < rangeMax) last = i;
        if (firstInside > bins || last < 0) return double.PositiveInfinity;
        int first = Math.Max(firstInside - 1, 0);
        if (first == last) return 0;
        if (first > last) return double.PositiveInfinity;
        int length = last - first;
        var counts = allCounts.AsSpan(first, length);
        if (prefix[last] - prefix[first] == 0) return double.PositiveInfinity;
        double below = prefix[first], above = prefix[bins] - prefix[last];
        double total = prefix[bins];
        var quantized = new double[length];
        double quantizedTotal = 0;
        for (int start = 0; start < length;)
        {
            int end = start;
            double value = quantizedEdges[first + start];
            double sum = 0, nonEmpty = 0;
            while (end < length && quantizedEdges[first + end] == value)
            {
                sum += counts[end];
                if (counts[end] > 0) nonEmpty++;
                end++;
            }
            double share = sum / (nonEmpty + 1e-6);
            for (int i = start; i < end; i++)
            {
                quantized[i] = counts[i] > 0 ? share : 0;
                quantizedTotal += quantized[i];
            }
            start = end;
        }
        double Data(Span<double> c, int i) => c[i] + (i == 0 ? below : 0) + (i == c.Length - 1 ? above : 0);
        var p = new Smoothing(length);
        var q = new Smoothing(length);
        for (int i = 0; i < length; i++)
        {
            p.See(Data(counts, i));
            q.See(quantized[i]);
        }
        p.Finish(total);
        q.Finish(quantizedTotal);
        double divergence = 0;
        int emptyInBoth = 0;
        for (int i = 0; i < length; i++)
        {
            double data = Data(counts, i);
            if (data == 0 && quantized[i] == 0) { emptyInBoth++; continue; }
            double pi = p.Apply(data), qi = q.Apply(quantized[i]);
            divergence += pi * Math.Log(pi / qi);
        }
        if (emptyInBoth > 0)
        {
            double pi = p.Apply(0), qi = q.Apply(0);
            divergence += emptyInBoth * pi * Math.Log(pi / qi);
        }
        return divergence;
    }

    private struct Smoothing(int length)
    {
        private double _smallest = double.PositiveInfinity, _total = 1, _term, _reduce;
        private int _zeros;

        public void See(double count)
        {
            if (count == 0) _zeros++;
            else if (count < _smallest) _smallest = count;
        }

        public void Finish(double total)
        {
            _total = total;
            int nonZeros = length - _zeros;
            if (nonZeros == 0 || _zeros == 0) return;
            _term = _smallest / total / (2.0 * length);
            _reduce = _term * _zeros / nonZeros;
        }

        public readonly double Apply(double count) => count == 0 ? _term : count / _total - _reduce;
    }
}
