using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;
using Xunit.Abstractions;

namespace QuantShell.Core.Tests;

/// <summary>
/// MCT's per-tensor symmetric search on bounded errors run ahead on its bounds, several iterations' exact errors in one
/// pass (<see cref="SymmetricIntervalSearch.Deferred"/>), against the same search one iteration after the other: the same
/// threshold bit for bit and the same iterations (early stops included), on seeded data made for near ties (values on
/// grid levels and half-way points, few distinct values) and early stops (small spreads, whose errors improve by a few
/// float32 units at the end); and fewer passes over the values.
/// </summary>
public sealed class DeferredSearchTests(ITestOutputHelper output)
{
    private static float[] Data(string kind, int n, int seed, double scale)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return kind switch
        {
            "gaussian" => Enumerable.Range(0, n).Select(_ => (float)(Normal() * scale)).ToArray(),
            "grid-points" => Enumerable.Range(0, n).Select(_ => (float)(scale * random.Next(3) switch
            {
                0 => random.Next(-128, 128) / 128.0,
                1 => (random.Next(-128, 127) + 0.5) / 128.0,
                _ => Normal() * 0.4,
            })).ToArray(),
            "few-values" => Enumerable.Range(0, n).Select(_ => (float)(new[] { -1.0, -0.25, 0, 0.125, 0.5, 1 }[random.Next(6)] * scale)).ToArray(),
            "heavy-tail" => Enumerable.Range(0, n).Select(_ => (float)(Normal() * scale / Math.Max(0.05, Math.Abs(Normal())))).ToArray(),
            "uniform" => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray(),
            _ => throw new ArgumentException(kind),
        };
    }

    private sealed record Outcome(double Threshold, int Iterations, long Passes, long Exact);

    private static Outcome Search<T>(T[] values, int bits, bool deferred, int ahead = 10, int iterations = 40)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var channels = new[] { values };
        var extremes = ChannelExtremes<T>.Of(channels);
        var start = MctWeightsSelection.SymmetricNoClipping(extremes.Mins, extremes.Maxs, bits, false);
        var exact = new TensorErrors<T>(channels, ErrorMethod.Mse, 2, perChannel: false);
        var errors = new BoundedTensorErrors<T>(channels, exact, perChannel: false, sequentialRows: false, boundedFrom: 0);
        var search = new SymmetricIntervalSearch { Iterations = iterations, DecreaseEvery = 5, PerChannel = false, Deferred = deferred, Ahead = ahead };
        bool single = typeof(T) == typeof(float);
        var best = search.Run(errors, start, ParameterPrecision.Double,
            (double t, ParameterPrecision prec, out MctCandidate candidate) => candidate = new MctCandidate(MctGrid.FromThreshold(t, bits, true, prec, single), -t, t, prec, false));
        return new Outcome(best[0], search.IterationsRun, errors.PassCount, errors.ExactCount);
    }

    private static void AssertSame(Outcome expected, Outcome actual, string what)
    {
        Assert.True(BitConverter.DoubleToInt64Bits(expected.Threshold) == BitConverter.DoubleToInt64Bits(actual.Threshold),
            $"{what}: deferred {actual.Threshold:R}, sequential {expected.Threshold:R}");
        Assert.True(expected.Iterations == actual.Iterations, $"{what}: deferred ran {actual.Iterations} iterations, sequential {expected.Iterations}");
    }

    [Theory]
    [InlineData("gaussian")]
    [InlineData("grid-points")]
    [InlineData("few-values")]
    [InlineData("heavy-tail")]
    [InlineData("uniform")]
    public void Deferred_EqualsSequential(string kind)
    {
        int cases = 0, stopped = 0;
        long passes = 0, passesSequential = 0, exact = 0, exactSequential = 0;
        foreach (int bits in new[] { 2, 4, 8 })
            foreach (double scale in new[] { 1.0, 0.05, 0.003 })
                foreach (int ahead in new[] { 1, 3, 10, 40 })
                {
                    int seed = bits * 1000 + (int)(scale * 100) + cases;
                    var values = Data(kind, 9000 + seed % 7000, seed, scale);
                    var sequential = Search(values, bits, deferred: false);
                    var deferred = Search(values, bits, deferred: true, ahead);
                    AssertSame(sequential, deferred, $"{kind} {bits}-bit scale {scale} ahead {ahead}");
                    if (sequential.Iterations < 40) stopped++;
                    (passes, passesSequential, exact, exactSequential) =
                        (passes + deferred.Passes, passesSequential + sequential.Passes, exact + deferred.Exact, exactSequential + sequential.Exact);
                    cases++;
                }
        Assert.Equal(36, cases);
        // Early stops are what the replay must get right (and, with the data made for them, there are some).
        output.WriteLine($"{stopped} of {cases} stopped early; deferred {passes} passes, {exact} exact errors; sequential {passesSequential} passes, {exactSequential}");
        Assert.True(stopped >= 4, $"only {stopped} of {cases} searches stopped early");
    }

    /// <summary>No iteration (the start is the result), one or two, and running ahead 0 (taken as 1) or 1 iteration.</summary>
    [Fact]
    public void Deferred_EqualsSequential_FewIterations()
    {
        int cases = 0;
        foreach (int iterations in new[] { 0, 1, 2, 7 })
            foreach (int ahead in new[] { 0, 1, 5 })
            {
                var values = Data("grid-points", 5000, 11 + cases, 0.05);
                var sequential = Search(values, 4, deferred: false, iterations: iterations);
                var deferred = Search(values, 4, deferred: true, ahead, iterations);
                AssertSame(sequential, deferred, $"{iterations} iterations, ahead {ahead}");
                Assert.True(deferred.Iterations <= iterations);
                cases++;
            }
        Assert.Equal(12, cases);
    }

    [Fact]
    public void Deferred_EqualsSequential_Float64()
    {
        int cases = 0;
        foreach (string kind in new[] { "gaussian", "grid-points", "few-values" })
            foreach (double scale in new[] { 1.0, 0.003 })
            {
                var values = Data(kind, 12000, 77 + cases, scale).Select(v => v * 1.0000001).ToArray();
                AssertSame(Search(values, 8, deferred: false), Search(values, 8, deferred: true), $"{kind} float64 scale {scale}");
                cases++;
            }
        Assert.Equal(6, cases);
    }

    /// <summary>
    /// On smooth data the bounds leave one to three candidates open in each of 40 iterations, so one iteration after the
    /// other makes 41 passes over the values; run ahead, a pass confirms several iterations.
    /// </summary>
    [Fact]
    public void Deferred_MakesFewerPasses()
    {
        var values = Data("gaussian", 1 << 18, 5, 0.3);
        var sequential = Search(values, 8, deferred: false);
        var deferred = Search(values, 8, deferred: true);
        AssertSame(sequential, deferred, "gaussian 2^18");
        output.WriteLine($"sequential: {sequential.Passes} passes, {sequential.Exact} errors; deferred: {deferred.Passes} passes, {deferred.Exact} errors");
        Assert.Equal(40, sequential.Iterations);
        Assert.Equal(41, sequential.Passes);
        Assert.True(deferred.Passes <= 12, $"deferred: {deferred.Passes} passes ({deferred.Exact} errors), sequential {sequential.Passes} ({sequential.Exact})");
        Assert.True(deferred.Exact <= sequential.Exact, $"deferred: {deferred.Exact} errors, sequential {sequential.Exact}");
    }
}
