using System.Numerics;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection;

/// <summary>
/// Scores candidate quantizers on the values of one channel (or the whole tensor) with the chosen error: the mean
/// error of an evenly strided sample (Mse, Mae, Lp) quantized with the exact arithmetic, or the KL divergence of the
/// data's histogram (Kl). Holds the samples and the histogram so each is made once per channel.
/// </summary>
internal sealed class ChannelScorer<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    private readonly ErrorMeasure _measure;
    private KlHistogram? _histogram;
    private T[]? _edges;
    private double[]? _quantizedEdges;
    private T[]? _edgeOutput;
    private double? _maxAbs;

    public ChannelScorer(T[] values, SelectionOptions options)
    {
        Values = values;
        Options = options;
        _measure = new ErrorMeasure(options.ErrorMethod, options.P);
    }

    public T[] Values { get; }
    public SelectionOptions Options { get; }
    public ErrorMethod Method => Options.ErrorMethod;

    public double MaxAbs => _maxAbs ??= ComputeMaxAbs(Values);

    /// <summary>The values scored: an evenly strided sample of at most <paramref name="limit"/> values (all when there are fewer).</summary>
    public T[] Sample(int limit)
    {
        limit = Math.Min(limit, Options.MaxSearchValues);
        if (Values.Length <= limit) return Values;
        var sample = new T[limit];
        double stride = (double)Values.Length / limit;
        for (int i = 0; i < limit; i++) sample[i] = Values[(long)(i * stride)];
        return sample;
    }

    /// <summary>The error of one integer grid whose range is [<paramref name="rangeMin"/>, <paramref name="rangeMax"/>], on <paramref name="sample"/> (ignored by Kl).</summary>
    public double Score(in Grid<T> grid, double rangeMin, double rangeMax, T[] sample)
    {
        if (Method != ErrorMethod.Kl) return _measure.Mean<T>(sample, grid);
        var edges = Edges();
        var output = _edgeOutput ??= new T[edges.Length];
        var quantized = _quantizedEdges ??= new double[edges.Length];
        var stats = new KernelStats();
        FakeQuantizeKernel.Apply<T>(edges, output, grid, ref stats);
        for (int i = 0; i < edges.Length; i++) quantized[i] = double.CreateTruncating(output[i]);
        return Histogram().Divergence(quantized, rangeMin, rangeMax);
    }

    /// <summary>The error of a per-tensor quantizer (any kind, LUT ones included) on <paramref name="sample"/> (ignored by Kl).</summary>
    public double Score(InferableQuantizer quantizer, double rangeMin, double rangeMax, T[] sample)
    {
        var set = Method == ErrorMethod.Kl ? Edges() : sample;
        var output = new T[set.Length];
        var stats = new KernelStats();
        quantizer.CreatePlan(new long[] { set.Length }).Apply<T>(set, output, 0, ref stats);
        if (Method != ErrorMethod.Kl) return _measure.Mean<T>(set, output);
        return Histogram().Divergence(output.Select(double.CreateTruncating).ToArray(), rangeMin, rangeMax);
    }

    private KlHistogram Histogram() => _histogram ??= KlHistogram.Build<T>(Values);

    private T[] Edges() => _edges ??= Histogram().Edges.Select(T.CreateTruncating).ToArray();

    private static double ComputeMaxAbs(T[] values)
    {
        double max = 0;
        foreach (T x in values)
            if (T.IsFinite(x)) max = Math.Max(max, Math.Abs(double.CreateTruncating(x)));
        return max;
    }
}
