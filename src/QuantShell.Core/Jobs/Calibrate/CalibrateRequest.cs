using QuantShell.Core.Quantization;
using QuantShell.Core.Runtime;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs.Calibrate;

/// <summary>What <c>dotnet quant calibrate</c> and Invoke-Calibrate ask for.</summary>
public sealed record CalibrateRequest
{
    /// <summary>The activation method when none is given: power-of-two thresholds, MCT's default for activations (and exact as QuantizeLinear).</summary>
    public const QuantizationMethod DefaultMethod = QuantizationMethod.Pot;

    /// <summary>The ONNX model (float) whose activations are calibrated.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The sample inputs: a folder of .npy files (a model of one input) or .npz files (one array per input name), or one such file.</summary>
    public required string DataPath { get; init; }

    /// <summary>The rules file to write. Default: <c>model.rules.json</c> beside <c>model.onnx</c>.</summary>
    public string? OutputPath { get; init; }

    /// <summary>The activation quantizers' method: pot, symmetric or uniform; null means <see cref="DefaultMethod"/>.</summary>
    public QuantizationMethod? Method { get; init; }

    /// <summary>The activation quantizers' bits; null means <see cref="Rules.QuantizerArguments.DefaultNumBits"/>.</summary>
    public int? NumBits { get; init; }

    /// <summary>How each activation's threshold or range is chosen from its statistics; null means mse.</summary>
    public ErrorMethod? ErrorMethod { get; init; }

    /// <summary>The exponent of ErrorMethod Lp.</summary>
    public double? P { get; init; }

    /// <summary>The share ErrorMethod Percentile covers, in percent.</summary>
    public double? Percentile { get; init; }

    /// <summary>Replace an existing rules file (never the model).</summary>
    public bool Force { get; init; }

    /// <summary>Flush the rules file to the disk before it is renamed into place (see <see cref="IO.WriteOptions.Fsync"/>).</summary>
    public bool Fsync { get; init; }

    /// <summary>The runtime that runs the model (the faces pass ONNX Runtime's).</summary>
    public IModelRunner? Runner { get; init; }

    /// <summary>Threads each run of the model may use; null leaves it to the runtime.</summary>
    public int? Threads { get; init; }
}
