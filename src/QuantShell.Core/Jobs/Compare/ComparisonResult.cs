namespace QuantShell.Core.Jobs.Compare;

/// <summary>
/// How one output of a candidate model (a quantized one) compares with the same output of a reference model (the float
/// one) over every sample, with both models' file sizes and latencies. The result object of Compare-OnnxModel and,
/// serialized, the <c>--json</c> line of <c>dotnet quant compare</c> (one per output).
/// </summary>
public sealed record ComparisonResult
{
    public required string ReferencePath { get; init; }
    public required string CandidatePath { get; init; }
    public required string DataPath { get; init; }

    /// <summary>The output compared.</summary>
    public required string OutputName { get; init; }

    /// <summary>Its element type.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("dtype")]
    public required string DType { get; init; }

    /// <summary>Its shape in the first sample.</summary>
    public required long[] Shape { get; init; }

    /// <summary>Samples run.</summary>
    public required int Samples { get; init; }

    /// <summary>Elements compared over all samples.</summary>
    public required long ElementCount { get; init; }

    /// <summary>
    /// Signal-to-quantization-noise ratio in dB: 10·log10(Σ reference² / Σ (reference - candidate)²) over all samples; +∞ when
    /// the outputs are equal.
    /// </summary>
    public required double SqnrDb { get; init; }

    /// <summary>The largest |reference - candidate|.</summary>
    public required double MaxAbsError { get; init; }

    /// <summary>The mean |reference - candidate|.</summary>
    public required double MeanAbsError { get; init; }

    /// <summary>Σ reference·candidate / √(Σ reference² · Σ candidate²) over all samples (1 when both are all zeros).</summary>
    public required double CosineSimilarity { get; init; }

    /// <summary>
    /// For class scores — an output of shape [N, C] with C &gt; 1 — the share of the N rows of all samples whose largest
    /// score is at the same class in both models (the first one on a tie); null for other outputs.
    /// </summary>
    public double? Top1Agreement { get; init; }

    /// <summary>The rows Top1Agreement counts; null for outputs that are not class scores.</summary>
    public long? Top1Rows { get; init; }

    /// <summary>Each model's size: the .onnx file and its external data files.</summary>
    public required long ReferenceBytes { get; init; }
    public required long CandidateBytes { get; init; }

    /// <summary>Each model's median time for one run on one sample, in milliseconds (after one warm-up run of each).</summary>
    public required double ReferenceMedianMs { get; init; }
    public required double CandidateMedianMs { get; init; }
}
