using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Runtime;
using QuantShell.OnnxRuntime;
using QuantShell.Core.Jobs.Calibrate;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Rules;

namespace QuantShell.OnnxRuntime.Tests;

/// <summary>Sample files written the way a user saves them with NumPy (.npy, .npz), seeded.</summary>
internal static class Samples
{
    public static void Npy(string path, long[] shape, float[] values) => Write(TensorFileKind.Npy, path, [Tensor(Path.GetFileNameWithoutExtension(path), shape, values)]);

    public static void Npz(string path, params OutputTensor[] arrays) => Write(TensorFileKind.Npz, path, arrays);

    public static OutputTensor Tensor(string name, long[] shape, float[] values) =>
        new(name, DType.Float32, shape, stream => stream.Write(MemoryMarshal.AsBytes(values.AsSpan())));

    public static OutputTensor Tensor(string name, long[] shape, double[] values) =>
        new(name, DType.Float64, shape, stream => stream.Write(MemoryMarshal.AsBytes(values.AsSpan())));

    public static OutputTensor Tensor(string name, long[] shape, long[] values) =>
        new(name, DType.Int64, shape, stream => stream.Write(MemoryMarshal.AsBytes(values.AsSpan())));

    private static void Write(TensorFileKind kind, string path, IReadOnlyList<OutputTensor> tensors)
    {
        using var stream = File.Create(path);
        TensorFiles.Write(kind, stream, tensors, new Dictionary<string, string>(), CancellationToken.None);
    }

    /// <summary>Normal values (Box-Muller) times <paramref name="scale"/> plus <paramref name="offset"/>.</summary>
    public static float[] Normal(int seed, int count, float scale = 1, float offset = 0)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            double u = 1 - random.NextDouble(), v = random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v) * scale + offset);
        }
        return values;
    }

    /// <summary>A folder of <paramref name="count"/> .npy samples of one input.</summary>
    public static string NpyFolder(TempDirectory temp, string folder, int count, long[] shape, int seed = 1)
    {
        string path = temp.File(folder);
        Directory.CreateDirectory(path);
        long elements = shape.Aggregate(1L, (a, b) => a * b);
        for (int i = 0; i < count; i++) Npy(Path.Combine(path, $"sample{i:D3}.npy"), shape, Normal(seed + i, (int)elements));
        return path;
    }
}

/// <summary>A job host that keeps what it is given.</summary>
internal sealed class CollectingHost<T> : JobHost<T>
{
    public List<T> Results { get; } = [];
    public List<QuantShellException> Errors { get; } = [];
    public List<JobProgress> Progress { get; } = [];

    public override void WriteResult(T result) => Results.Add(result);

    public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);

    public override void WriteProgress(JobProgress progress) => Progress.Add(progress);
}

/// <summary>The repository's fixtures and the jobs as a face runs them.</summary>
internal static class Fixtures
{
    public static string SmallCnn => Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx");

    /// <summary>A torch-exported CNN with a dynamic batch (tests/fixtures/models/make_calibration_fixture.py).</summary>
    public static string CalibCnn => Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "calib_cnn.onnx");

    public static IModelRunner Runner { get; } = new OnnxRuntimeModelRunner();

    public static CalibrationSummary Calibrate(string model, string data, string output, CollectingHost<CalibrationResult>? host = null,
                                               Core.Quantization.QuantizationMethod? method = null, int? numBits = null) =>
        CalibrateJob.Run(new CalibrateRequest { ModelPath = model, DataPath = data, OutputPath = output, Runner = Runner, Method = method, NumBits = numBits, Threads = 1 },
            host ?? new CollectingHost<CalibrationResult>());

    public static IReadOnlyList<QuantizationResult> Quantize(string model, string rules, string output, OutputFormat format)
    {
        var host = new CollectingHost<QuantizationReport>();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), RulesPath = rules, Format = format, OutputPath = output, MaxParallelism = 1 },
            [JobInput.File(model)], host);
        if (host.Errors.Count > 0) throw host.Errors[0];
        return host.Results.SelectMany(r => r.TensorResults()).ToList();
    }

    /// <summary>Runs a model file on one sample's inputs and returns the outputs named.</summary>
    public static IReadOnlyList<ModelTensor> Run(string model, IReadOnlyList<ModelTensor> inputs, IReadOnlyList<string>? outputs = null,
                                                 ModelOptimization optimization = ModelOptimization.None, byte[]? bytes = null)
    {
        using var session = Runner.Open(bytes is null ? ModelSource.File(model, model) : ModelSource.Memory(bytes, model, null),
            new ModelSessionOptions { Optimization = optimization, Threads = 1 });
        return session.Run(inputs, outputs ?? session.Outputs.Select(o => o.Name).ToList());
    }

    public static ModelTensor Floats(string name, long[] shape, float[] values) =>
        new(name, Core.Formats.Onnx.OnnxDataType.Float, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static float[] AsFloats(ModelTensor tensor) => MemoryMarshal.Cast<byte, float>(tensor.Data.AsSpan()).ToArray();
}
