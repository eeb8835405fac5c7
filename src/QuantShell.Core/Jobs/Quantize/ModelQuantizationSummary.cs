using System.Text.Json.Serialization;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// What quantizing one model file did, in a few numbers: the object Invoke-Quantize writes for a model, the line
/// <c>dotnet quant quantize</c> prints for it, and its <c>"kind": "model"</c> JSON line. Each tensor's own result is in
/// <see cref="Tensors"/> (not serialized: <c>--json</c> prints them as lines of their own before this one).
/// </summary>
public sealed record ModelQuantizationSummary : QuantizationReport
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }

    /// <summary>The file's format as its reader names it ("safetensors", "ONNX (IR 8, opset 17)", ...).</summary>
    public required string FileFormat { get; init; }

    /// <summary>What the output holds for the quantized tensors.</summary>
    public required OutputFormat Format { get; init; }

    /// <summary>The tensors of the file (initializers and Constant-held tensors of an ONNX model).</summary>
    public required int TensorCount { get; init; }

    /// <summary>Tensors quantized (weights, or whatever the rules chose).</summary>
    public required int QuantizedCount { get; init; }

    /// <summary>Tensors copied unchanged.</summary>
    public required int SkippedCount { get; init; }

    /// <summary>Activations of an ONNX model given quantizers by the rules.</summary>
    public required int ActivationCount { get; init; }

    /// <summary>The skipped tensors counted by why (<see cref="QuantizationResult.SkipCategory"/>), most first.</summary>
    public required IReadOnlyList<SkipCount> Skipped { get; init; }

    /// <summary>Elements of the quantized tensors.</summary>
    public required long QuantizedElementCount { get; init; }

    /// <summary>The input's size on disk (with an ONNX model's external data files); null for a stream.</summary>
    public long? InputBytes { get; init; }

    /// <summary>The output's size on disk (with the data file written beside an ONNX model).</summary>
    public long? OutputBytes { get; init; }

    /// <summary>
    /// The signal-to-quantization-noise ratio over all the quantized tensors together, in dB: 10·log10(Σx² / Σ(x − y)²)
    /// over every finite element (large tensors weigh more); +∞ when lossless, null when nothing was quantized.
    /// </summary>
    public double? SqnrDb { get; init; }

    /// <summary>When nothing was quantized: why (the warning the faces show); null otherwise.</summary>
    public string? Warning { get; init; }

    public required double ElapsedMs { get; init; }

    /// <summary>Every tensor's result, in the file's order (activations last).</summary>
    [JsonIgnore]
    public IReadOnlyList<QuantizationResult> Tensors { get; init; } = [];

    public override IReadOnlyList<QuantizationResult> TensorResults() => Tensors;
}

/// <summary>How many tensors of a model were copied unchanged for one reason.</summary>
public sealed record SkipCount(string Reason, int Count)
{
    /// <summary>"140 not a weight (read by BatchNormalization)": how PowerShell shows it inside the summary.</summary>
    public override string ToString() => $"{Count} {Reason}";
}
