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
        return Run(session, inputName, input);
    }

    /// <summary>Runs a model file (its external data files are read from beside it), optimizations off.</summary>
    public static float[] RunFile(string path, string inputName, NpyArray input)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(path, options);
        return Run(session, inputName, input);
    }

    /// <summary>Runs a model and returns every graph output by name (float32 outputs only), optimizations off.</summary>
    public static Dictionary<string, float[]> RunAll(byte[] model, string inputName, NpyArray input)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        var tensor = new DenseTensor<float>((float[])input.Data, input.Shape.Select(d => (int)d).ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        return results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
    }

    private static float[] Run(InferenceSession session, string inputName, NpyArray input)
    {
        var tensor = new DenseTensor<float>((float[])input.Data, input.Shape.Select(d => (int)d).ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        return results.First().AsTensor<float>().ToArray();
    }
}
