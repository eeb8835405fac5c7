using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Jobs;
using QuantShell.Core.Runtime;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>
/// What ONNX Runtime makes of the qdq format: the model as its optimizer leaves it (SessionOptions.OptimizedModelFilePath)
/// runs the convolutions and the residual Add as integer kernels — the point of putting QDQ pairs on activations.
/// </summary>
public sealed class IntegerKernelTests(Xunit.Abstractions.ITestOutputHelper log)
{
    [Theory]
    [InlineData(ModelOptimization.Extended)]
    [InlineData(ModelOptimization.All)]
    public void CalibratedQdq_OnnxRuntimeFusesIntoIntegerKernels(ModelOptimization level)
    {
        using var temp = new TempDirectory();
        string data = Samples.NpyFolder(temp, "data", 4, [2, 3, 16, 16], seed: 77);
        string rules = temp.File("rules.json");
        Fixtures.Calibrate(Fixtures.CalibCnn, data, rules);
        string quantized = temp.File("calib_cnn.qdq.onnx");
        Fixtures.Quantize(Fixtures.CalibCnn, rules, quantized, OutputFormat.Qdq);
        string optimized = temp.File("optimized.onnx");
        using (Fixtures.Runner.Open(ModelSource.File(quantized, quantized), new ModelSessionOptions { Optimization = level, OptimizedModelPath = optimized })) { }

        var ops = OnnxModel.Load(optimized).Proto.Graph.Node.Select(n => n.OpType).ToList();
        log.WriteLine($"{level}: {string.Join(", ", ops)}");
        // Every Conv of the float model (3, the ReLUs folded in) runs as QLinearConv and the residual Add as QLinearAdd. The
        // Gemm's output is the model's output, which stays float: it runs in float on dequantized input and weights.
        Assert.Equal(3, ops.Count(op => op == "QLinearConv"));
        Assert.Equal(1, ops.Count(op => op == "QLinearAdd"));
        Assert.DoesNotContain(ops, op => op is "Conv" or "FusedConv" or "Add" or "Relu");
        Assert.Equal(1, ops.Count(op => op == "Gemm"));
    }
}
