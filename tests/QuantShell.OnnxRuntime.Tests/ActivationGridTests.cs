using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Runtime;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>
/// The activation quantizers that quantize puts on a model compute MCT's quantizer: for each activation, the value ONNX
/// Runtime computes after the inserted nodes (read as a graph output) against QuantShell's kernel on the value before them
/// (read as a graph output too), over many seeded inputs. QuantizeLinear divides by the scale where MCT multiplies by its
/// float32 reciprocal: the same for power-of-two scales; otherwise at most one step apart, rarely.
/// </summary>
public sealed class ActivationGridTests(Xunit.Abstractions.ITestOutputHelper log)
{
    private const int Runs = 40;

    /// <summary>One activation quantizer per value of small_cnn: POT, symmetric and uniform, 8 and fewer bits, signed and not.</summary>
    private static readonly (string Tensor, string Quantizer)[] Activations =
    [
        ("x", """{"target": "activation", "method": "pot", "numBits": 8, "threshold": [4], "signed": true}"""),
        ("f", """{"target": "activation", "method": "symmetric", "numBits": 8, "threshold": [5.6235], "signed": false}"""),
        ("g", """{"target": "activation", "method": "uniform", "numBits": 8, "minRange": [-2.245], "maxRange": [2.448]}"""),
        ("p", """{"target": "activation", "method": "pot", "numBits": 4, "threshold": [2], "signed": true}"""),
        ("h", """{"target": "activation", "method": "symmetric", "numBits": 5, "threshold": [2.26904], "signed": true}"""),
        ("t1", """{"target": "activation", "method": "uniform", "numBits": 4, "minRange": [-1.143], "maxRange": [1.714]}"""),
    ];

    private static string WriteRules(TempDirectory temp, IEnumerable<(string Tensor, string Quantizer)> activations)
    {
        string path = temp.File("rules.json");
        File.WriteAllText(path, $$"""{"rules": [], "activations": [{{string.Join(", ", activations.Select(a => $$"""{"tensor": "{{a.Tensor}}", "quantizer": {{a.Quantizer}}}"""))}}]}""");
        return path;
    }

    /// <summary>Runs the quantized model with each activation's value before and after its quantizer as outputs.</summary>
    private static Dictionary<string, (float[] Before, float[] After)> Observe(string quantized, string suffix, IEnumerable<string> names)
    {
        var model = OnnxModel.Load(quantized);
        var pairs = names.ToList();
        foreach (string name in pairs)
        {
            Assert.Contains(model.Proto.Graph.Node, n => n.Output.Contains(name + suffix));
            if (name != "x") model.Proto.Graph.Output.Add(new ValueInfoProto { Name = name });
            model.Proto.Graph.Output.Add(new ValueInfoProto { Name = name + suffix });
        }
        var bytes = model.ToByteArray();
        var result = pairs.ToDictionary(n => n, _ => (Before: new List<float>(), After: new List<float>()));
        for (int run = 0; run < Runs; run++)
        {
            // Inputs over a wide range, so that every grid is crossed, clipped and rounded.
            var x = Samples.Normal(1000 + run, 192, scale: 2.5f);
            var input = Fixtures.Floats("x", [1, 3, 8, 8], x);
            var wanted = pairs.SelectMany(n => n == "x" ? new[] { n + suffix } : new[] { n, n + suffix }).ToList();
            var outputs = Fixtures.Run(quantized, [input], wanted, ModelOptimization.None, bytes).ToDictionary(t => t.Name);
            foreach (string name in pairs)
            {
                result[name].Before.AddRange(name == "x" ? x : Fixtures.AsFloats(outputs[name]));
                result[name].After.AddRange(Fixtures.AsFloats(outputs[name + suffix]));
            }
        }
        return result.ToDictionary(p => p.Key, p => (p.Value.Before.ToArray(), p.Value.After.ToArray()));
    }

    private static float[] Kernel(string quantizerJson, float[] values)
    {
        var quantizer = InferableQuantizer.Create(QuantizerFile.Parse(quantizerJson));
        var output = new float[values.Length];
        var stats = new KernelStats();
        quantizer.CreatePlan([values.Length]).Apply<float>(values, output, 0, ref stats);
        return output;
    }

    [Fact]
    public void Qdq_QuantizeLinearGrid_IsTheMctQuantizersGrid_ExactForPowerOfTwoScales()
    {
        using var temp = new TempDirectory();
        string output = temp.File("qdq.onnx");
        var results = Fixtures.Quantize(Fixtures.SmallCnn, WriteRules(temp, Activations), output, OutputFormat.Qdq);
        Assert.Equal(["int8", "uint8", "uint8", "int8", "int8", "uint8"], results.Where(r => r.Activation).Select(r => r.OutputDType));
        var observed = Observe(output, "/dequantized", Activations.Select(a => a.Tensor));
        int compared = 0;
        foreach (var (tensor, json) in Activations)
        {
            var (before, after) = observed[tensor];
            var expected = Kernel(json, before);
            float scale = ((GridQuantizer)InferableQuantizer.Create(QuantizerFile.Parse(json))).Parameters.Scales[0];
            bool powerOfTwo = (BitConverter.SingleToInt32Bits(scale) & 0x7FFFFF) == 0;
            int differ = 0;
            for (int i = 0; i < before.Length; i++)
            {
                compared++;
                if (after[i] == expected[i]) continue;
                differ++;
                // One step apart at most, where x / s and x * (1/s) round to different integers.
                Assert.Equal(scale, Math.Abs(after[i] - expected[i]), scale * 1e-5f);
            }
            log.WriteLine($"{tensor}: {differ} of {before.Length} values one step off QuantShell's kernel (scale {scale}{(powerOfTwo ? ", a power of two" : "")})");
            if (powerOfTwo) Assert.True(differ == 0, $"{tensor}: {differ} of {before.Length} values differ from MCT's with a power-of-two scale");
            else Assert.True(differ <= before.Length / 100, $"{tensor}: {differ} of {before.Length} values one step off");
        }
        Assert.Equal(observed.Values.Sum(v => v.Before.Length), compared);
        Assert.Equal(Runs * 192, observed["x"].Before.Length);
    }

    [Fact]
    public void Fake_FloatOps_AreTheMctQuantizerBitForBit_LutIncluded()
    {
        using var temp = new TempDirectory();
        var activations = Activations.Append<(string Tensor, string Quantizer)>(("t2", """{"target": "activation", "method": "lutPot", "numBits": 3, "lutValues": [-92, -53, -25, 0, 19, 43, 71, 106], "threshold": [4], "signed": true}""")).ToArray();
        string output = temp.File("fake.onnx");
        var results = Fixtures.Quantize(Fixtures.SmallCnn, WriteRules(temp, activations), output, OutputFormat.Fake);
        Assert.All(results.Where(r => r.Activation), r => Assert.Equal(OutputFormat.Fake, r.Format));
        var observed = Observe(output, "/fake_quantized", activations.Select(a => a.Tensor));
        foreach (var (tensor, json) in activations)
        {
            var (before, after) = observed[tensor];
            Assert.Equal(before.Length, after.Length);
            Assert.NotEmpty(before);
            Assert.Equal(Kernel(json, before), after);
        }
    }

    [Fact]
    public void Qdq_LutActivation_IsRefusedByName_NothingWritten()
    {
        using var temp = new TempDirectory();
        string rules = WriteRules(temp, [("g", """{"target": "activation", "method": "lutPot", "numBits": 2, "lutValues": [-64, 0, 32, 96], "threshold": [2], "signed": true}""")]);
        string output = temp.File("qdq.onnx");
        var error = Assert.ThrowsAny<Core.Errors.QuantShellException>(() => Fixtures.Quantize(Fixtures.SmallCnn, rules, output, OutputFormat.Qdq));
        Assert.Equal(Core.Errors.ErrorIds.OutputFormatNotSupported, error.ErrorId);
        Assert.Contains("'g'", error.Message);
        Assert.False(File.Exists(output));
    }
}
