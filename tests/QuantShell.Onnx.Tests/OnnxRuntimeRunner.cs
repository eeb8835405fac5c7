using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using QuantShell.Core.Formats;

namespace QuantShell.Onnx.Tests;

/// <summary>Runs a model in ONNX Runtime (CPU): on one float32 input for its first output, or on named inputs for every output.</summary>
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

    /// <summary>
    /// Runs a model (bytes, or a file path with its external data beside it) on named inputs and returns every output as
    /// the little-endian bytes of its own element type (float32, float64, float16, bfloat16), for bit-for-bit comparisons.
    /// </summary>
    public static Dictionary<string, byte[]> RunBytes(object model, IReadOnlyCollection<NamedOnnxValue> inputs,
                                                      GraphOptimizationLevel level = GraphOptimizationLevel.ORT_DISABLE_ALL)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = level, IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = model switch
        {
            byte[] bytes => new InferenceSession(bytes, options),
            string path => new InferenceSession(path, options),
            _ => throw new ArgumentException(model.GetType().Name, nameof(model)),
        };
        using var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name, r => r.Value switch
        {
            Tensor<float> t => MemoryMarshal.AsBytes(t.ToArray().AsSpan()).ToArray(),
            Tensor<double> t => MemoryMarshal.AsBytes(t.ToArray().AsSpan()).ToArray(),
            Tensor<Float16> t => MemoryMarshal.AsBytes(t.ToArray().AsSpan()).ToArray(),
            Tensor<BFloat16> t => MemoryMarshal.AsBytes(t.ToArray().AsSpan()).ToArray(),
            var other => throw new InvalidOperationException($"output {r.Name} is {other?.GetType().Name}"),
        });
    }

    /// <summary>A float32 input tensor.</summary>
    public static NamedOnnxValue Input(string name, NpyArray values) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>((float[])values.Data, values.Shape.Select(d => (int)d).ToArray()));

    /// <summary>An int64 input tensor.</summary>
    public static NamedOnnxValue Input(string name, long[] values, params int[] dims) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(values, dims));

    /// <summary>A bool scalar input.</summary>
    public static NamedOnnxValue Input(string name, bool value) =>
        NamedOnnxValue.CreateFromTensor(name, new DenseTensor<bool>(new[] { value }, Array.Empty<int>()));

    private static float[] Run(InferenceSession session, string inputName, NpyArray input)
    {
        var tensor = new DenseTensor<float>((float[])input.Data, input.Shape.Select(d => (int)d).ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        return results.First().AsTensor<float>().ToArray();
    }
}
