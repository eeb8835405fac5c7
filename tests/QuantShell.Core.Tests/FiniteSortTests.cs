using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// <see cref="FiniteSort"/> against <c>Array.Sort</c>: the same order (equal values compared as numbers, so -0 and +0
/// may change places) and the same values, on seeded data of every shape a sort gets wrong: short and long, sorted,
/// reversed, all equal, few distinct values, organ pipes, both zeros and infinities; and a case that drives the
/// partitions past their depth limit into the heapsort.
/// </summary>
public sealed class FiniteSortTests
{
    private static IEnumerable<(string Name, double[] Values)> Cases()
    {
        var random = new Random(17);
        foreach (int n in new[] { 0, 1, 2, 3, 16, 17, 18, 31, 100, 577, 4096, 100_003 })
        {
            yield return ($"random {n}", Enumerable.Range(0, n).Select(_ => random.NextDouble() * 2 - 1).ToArray());
            yield return ($"sorted {n}", Enumerable.Range(0, n).Select(i => (double)i).ToArray());
            yield return ($"reversed {n}", Enumerable.Range(0, n).Select(i => (double)-i).ToArray());
            yield return ($"equal {n}", Enumerable.Repeat(0.25, n).ToArray());
            yield return ($"few {n}", Enumerable.Range(0, n).Select(_ => (double)random.Next(-3, 4)).ToArray());
            yield return ($"pipes {n}", Enumerable.Range(0, n).Select(i => (double)Math.Min(i, n - i)).ToArray());
            yield return ($"zeros and infinities {n}", Enumerable.Range(0, n).Select(_ => random.Next(6) switch
            {
                0 => -0.0, 1 => 0.0, 2 => double.PositiveInfinity, 3 => double.NegativeInfinity, 4 => double.Epsilon, _ => random.NextDouble() - 0.5,
            }).ToArray());
        }
    }

    [Fact]
    public void Sorts_AsArraySort()
    {
        int cases = 0;
        foreach (var (name, values) in Cases())
        {
            var expected = (double[])values.Clone();
            Array.Sort(expected);
            var actual = (double[])values.Clone();
            FiniteSort.Sort(actual);
            for (int i = 1; i < actual.Length; i++) Assert.True(actual[i - 1] <= actual[i], $"{name}: [{i - 1}] {actual[i - 1]:R} > [{i}] {actual[i]:R}");
            Assert.True(expected.SequenceEqual(actual), name);
            // The same values, bit patterns included (only the zeros' order may differ).
            Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits).Order(), actual.Select(BitConverter.DoubleToInt64Bits).Order());
            cases++;
        }
        Assert.Equal(12 * 7, cases);
    }

    /// <summary>
    /// The heapsort that ends partitions too deep (adversarial data): alone (depth 0) and after 1 to 3 levels of
    /// partitions, on every case above, the same order as Array.Sort.
    /// </summary>
    [Fact]
    public void Heapsort_AndShallowPartitions_SortAsArraySort()
    {
        int cases = 0;
        foreach (var (name, values) in Cases())
            foreach (int depth in new[] { 0, 1, 3 })
            {
                var expected = (double[])values.Clone();
                Array.Sort(expected);
                var actual = (double[])values.Clone();
                FiniteSort.Sort(actual, depth);
                Assert.True(expected.SequenceEqual(actual), $"{name}, depth {depth}");
                cases++;
            }
        Assert.Equal(12 * 7 * 3, cases);
    }

    /// <summary>
    /// <see cref="FiniteSort.Select"/> at ranks spread over every case above (the first, the last, the middle, and seeded
    /// ones): the value Array.Sort puts there (zeros equal), no value before the rank greater and none after it less, and
    /// the same values afterwards, bit patterns included.
    /// </summary>
    [Fact]
    public void Select_FindsArraySortsRank()
    {
        var random = new Random(23);
        int cases = 0;
        foreach (var (name, values) in Cases())
        {
            if (values.Length == 0)
            {
                Assert.Throws<ArgumentOutOfRangeException>(() => FiniteSort.Select(Array.Empty<double>(), 0));
                continue;
            }
            var expected = (double[])values.Clone();
            Array.Sort(expected);
            foreach (int k in new[] { 0, values.Length - 1, values.Length / 2, random.Next(values.Length), random.Next(values.Length) })
            {
                var actual = (double[])values.Clone();
                double value = FiniteSort.Select(actual, k);
                Assert.True(value == expected[k], $"{name}, rank {k}: {value:R}, Array.Sort's {expected[k]:R}");
                Assert.True(value == actual[k], $"{name}, rank {k}: not left at its rank");
                for (int i = 0; i < k; i++) Assert.True(actual[i] <= value, $"{name}, rank {k}: [{i}] {actual[i]:R} before it is greater");
                for (int i = k + 1; i < actual.Length; i++) Assert.True(actual[i] >= value, $"{name}, rank {k}: [{i}] {actual[i]:R} after it is less");
                Assert.Equal(values.Select(BitConverter.DoubleToInt64Bits).Order(), actual.Select(BitConverter.DoubleToInt64Bits).Order());
                cases++;
            }
        }
        // 11 non-empty lengths x 7 kinds x 5 ranks.
        Assert.Equal(11 * 7 * 5, cases);
    }

    /// <summary>
    /// <see cref="FiniteSort.SortSingles"/> (the radix sort of float32 bits) against <c>Array.Sort</c> on the same cases as
    /// float32 (and float32's own extremes: subnormals, the largest finite values, ±0 in every position): ascending, -0
    /// before +0, the same bit patterns, equal to Array.Sort's order value by value; the digit passes each skipped or not.
    /// </summary>
    [Fact]
    public void SortSingles_SortsAsArraySort()
    {
        var random = new Random(29);
        var cases = Cases().Select(c => (c.Name, c.Values.Select(v => (float)v).ToArray())).ToList();
        foreach (int n in new[] { 2, 300, 5000 })
            cases.Add(($"float32 extremes {n}", Enumerable.Range(0, n).Select(_ => random.Next(7) switch
            {
                0 => -0f, 1 => 0f, 2 => float.Epsilon * random.Next(1, 100), 3 => -float.Epsilon * random.Next(1, 100),
                4 => float.MaxValue, 5 => float.MinValue, _ => (float)(random.NextDouble() - 0.5) * 1e-3f,
            }).ToArray()));
        int sorted = 0;
        foreach (var (name, values) in cases)
        {
            var expected = (float[])values.Clone();
            Array.Sort(expected);
            var actual = (float[])values.Clone();
            FiniteSort.SortSingles(actual, new float[actual.Length]);
            for (int i = 1; i < actual.Length; i++)
                Assert.True(actual[i - 1] < actual[i] || actual[i - 1] == actual[i] && !(float.IsPositive(actual[i - 1]) && float.IsNegative(actual[i])),
                    $"{name}: [{i - 1}] {actual[i - 1]:R} before [{i}] {actual[i]:R}");
            Assert.True(expected.SequenceEqual(actual), name);
            Assert.Equal(values.Select(BitConverter.SingleToInt32Bits).Order(), actual.Select(BitConverter.SingleToInt32Bits).Order());
            sorted++;
        }
        Assert.Equal(12 * 7 + 3, sorted);
    }
}
