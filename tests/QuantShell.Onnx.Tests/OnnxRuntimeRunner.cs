using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using QuantShell.Core.Formats;

namespace QuantShell.Onnx.Tests;

/// <summary>Runs a model in ONNX Runtime (CPU) on one float32 input and returns its first output.</summary>
internal static class OnnxRuntimeRunner
{
    /// <summary>
    /// Optimizations off by default: ORT's graph rewrites (a Mul after Conv folded into the weights, QDQ pairs fused into
    /// integer kernels) change the arithmetic the lowering reproduces; tests that measure them ask for them.
    /// </summary>
    public static float[] Run(byte[] model, string inputName, NpyArray input, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_DISABLE_ALL)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        var tensor = new DenseTensor<float>((float[])input.Data, input.Shape.Select(d => (int)d).ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        return results.First().AsTensor<float>().ToArray();
    }
}
