using BenchmarkDotNet.Attributes;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Benchmarks;

/// <summary>
/// The LUT kernel against the uniform (grid) kernel and memcpy of the same bytes, single-threaded, 64 MiB per operand:
/// tables of 4, 8 and 16 entries (2-4 bits: one- and two-register permutes) and 32 and 256 (cell look-up), per tensor
/// and per channel on the last axis (per-lane divisors and thresholds).
/// </summary>
[MemoryDiagnoser]
public class LutKernelBenchmarks
{
    private const int Bytes = 64 << 20;

    [Params(4, 8, 16, 32, 256)]
    public int Entries { get; set; }

    [Params("tensor", "axisLast")]
    public string Layout { get; set; } = "";

    private float[] _source = Array.Empty<float>();
    private float[] _destination = Array.Empty<float>();
    private double[] _source64 = Array.Empty<double>();
    private double[] _destination64 = Array.Empty<double>();
    private QuantizationPlan _grid = null!;
    private QuantizationPlan _lut = null!;
    private QuantizationPlan _lut64 = null!;

    [GlobalSetup]
    public void Setup()
    {
        _source = Data.Floats(Bytes / 4);
        _destination = new float[_source.Length];
        _source64 = _source.Select(f => (double)f).Take(Bytes / 8).ToArray();
        _destination64 = new double[_source64.Length];
        var shape = new long[] { 64, _source.Length / 64 / 16, 16 };
        var shape64 = new long[] { 64, _source64.Length / 64 / 16, 16 };
        _grid = Data.Plan("WeightsSymmetric", Layout, shape, out _);
        bool perChannel = Layout != "tensor";
        // Evenly spread integer entries over the signed 8-bit range; a power-of-two threshold per channel.
        var table = Enumerable.Range(0, Entries).Select(i => Math.Round(-128 + 255.0 * i / (Entries - 1))).Distinct().ToArray();
        var thresholds = Enumerable.Range(0, perChannel ? 16 : 1).Select(c => Math.ScaleB(1.0, c % 3)).ToArray();
        var quantizer = new WeightsLUTPOTInferableQuantizer(8, table, thresholds, perChannel);
        _lut = quantizer.CreatePlan(shape);
        _lut64 = quantizer.CreatePlan(shape64);
    }

    [Benchmark(Baseline = true)]
    public void Memcpy32() => _source.AsSpan().CopyTo(_destination);

    [Benchmark]
    public void Uniform32()
    {
        var stats = new KernelStats();
        _grid.Apply<float>(_source, _destination, 0, ref stats);
    }

    [Benchmark]
    public void Lut32()
    {
        var stats = new KernelStats();
        _lut.Apply<float>(_source, _destination, 0, ref stats);
    }

    [Benchmark]
    public void Lut64()
    {
        var stats = new KernelStats();
        _lut64.Apply<double>(_source64, _destination64, 0, ref stats);
    }
}
