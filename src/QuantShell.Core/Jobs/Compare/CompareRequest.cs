using QuantShell.Core.Runtime;

namespace QuantShell.Core.Jobs.Compare;

/// <summary>What <c>dotnet quant compare</c> and Compare-OnnxModel ask for.</summary>
public sealed record CompareRequest
{
    /// <summary>The model whose outputs are the reference (the float model).</summary>
    public required string ReferencePath { get; init; }

    /// <summary>The model compared with it (a quantized one); it must have the reference's inputs and outputs.</summary>
    public required string CandidatePath { get; init; }

    /// <summary>The sample inputs (as for calibration): a folder of .npy or .npz files, or one such file.</summary>
    public required string DataPath { get; init; }

    /// <summary>The runtime that runs the models (the faces pass ONNX Runtime's).</summary>
    public IModelRunner? Runner { get; init; }

    /// <summary>Threads each run may use; null leaves it to the runtime (every core).</summary>
    public int? Threads { get; init; }
}
