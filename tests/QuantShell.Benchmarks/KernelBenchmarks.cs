using BenchmarkDotNet.Attributes;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Benchmarks;

/// <summary>
/// The fused kernel against memcpy of the same bytes (the bandwidth ceiling), single-threaded, 64 MiB per operand so
/// the data does not fit in cache. Ratio of Mean to the Memcpy baseline is the figure the performance target uses.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private const int Bytes = 64 << 20;

    [Params("WeightsPot", "WeightsSymmetric", "WeightsUniform", "ActivationPot", "ActivationSymmetric", "ActivationUniform")]
    public string Quantizer { get; set; } = "";

    [Params("tensor", "axis0", "axisLast")]
    public string Layout { get; set; } = "";

    private float[] _source = Array.Empty<float>();
    private float[] _destination = Array.Empty<float>();
    private double[] _source64 = Array.Empty<double>();
    private double[] _destination64 = Array.Empty<double>();
    private QuantizationPlan _plan = null!;
    private QuantizationPlan _plan64 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _source = Data.Floats(Bytes / 4);
        _destination = new float[_source.Length];
        _source64 = _source.Select(f => (double)f).Take(Bytes / 8).ToArray();
        _destination64 = new double[_source64.Length];
        _plan = Data.Plan(Quantizer, Layout, new long[] { 64, _source.Length / 64 / 16, 16 }, out _);
        _plan64 = Data.Plan(Quantizer, Layout, new long[] { 64, _source64.Length / 64 / 16, 16 }, out _);
    }

    [Benchmark(Baseline = true)]
    public void Memcpy32() => _source.AsSpan().CopyTo(_destination);

    [Benchmark]
    public void Kernel32()
    {
        var stats = new KernelStats();
        _plan.Apply<float>(_source, _destination, 0, ref stats);
    }

    [Benchmark]
    public void Kernel64()
    {
        var stats = new KernelStats();
        _plan64.Apply<double>(_source64, _destination64, 0, ref stats);
    }
}

internal static class Data
{
    public static float[] Floats(int count)
    {
        var random = new Random(1);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 4 - 2);
        return values;
    }

    /// <summary>A quantizer of the given kind bound to the shape; per-channel on axis 0 or on the last axis ("axisLast") for weights.</summary>
    public static QuantizationPlan Plan(string kind, string layout, long[] shape, out InferableQuantizer quantizer)
    {
        bool weights = kind.StartsWith("Weights", StringComparison.Ordinal);
        bool perChannel = weights && layout != "tensor";
        int axis = layout == "axisLast" ? shape.Length - 1 : 0;
        int channels = perChannel ? (int)shape[axis] : 1;
        var method = kind.EndsWith("Pot", StringComparison.Ordinal) ? QuantizationMethod.Pot
                   : kind.EndsWith("Symmetric", StringComparison.Ordinal) ? QuantizationMethod.Symmetric : QuantizationMethod.Uniform;
        var spec = new QuantizerSpec
        {
            Target = weights ? QuantizationTarget.Weights : QuantizationTarget.Activation,
            Method = method,
            NumBits = 8,
            Threshold = method == QuantizationMethod.Uniform ? null : Enumerable.Range(0, channels).Select(c => method == QuantizationMethod.Pot ? 2.0 : 1.5 + 0.01 * c).ToArray(),
            MinRange = method == QuantizationMethod.Uniform ? Enumerable.Range(0, channels).Select(c => -1.0 - 0.01 * c).ToArray() : null,
            MaxRange = method == QuantizationMethod.Uniform ? Enumerable.Range(0, channels).Select(c => 1.7 + 0.01 * c).ToArray() : null,
            PerChannel = perChannel,
            ChannelAxis = perChannel ? axis : null,
        };
        quantizer = InferableQuantizer.Create(spec);
        return quantizer.CreatePlan(shape);
    }
}
