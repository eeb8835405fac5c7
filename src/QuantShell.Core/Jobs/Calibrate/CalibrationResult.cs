using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs.Calibrate;

/// <summary>
/// What calibration found for one activation (a value a quantizable op reads as data, or the output of one): its statistics over the samples
/// and the quantizer chosen from them. The result object of Invoke-Calibrate and, serialized, the <c>--json</c> line of
/// <c>dotnet quant calibrate</c>.
/// </summary>
public sealed record CalibrationResult
{
    /// <summary>The model calibrated.</summary>
    public required string InputPath { get; init; }

    /// <summary>The sample folder (or file).</summary>
    public required string DataPath { get; init; }

    /// <summary>The rules file written.</summary>
    public required string OutputPath { get; init; }

    /// <summary>How the rules file names the activation: its value name (<c>GRAPH-PATH:NAME</c> when a name is defined in several graphs).</summary>
    public required string TensorName { get; init; }

    /// <summary>The subgraph that defines it (If/Loop/Scan), or null for the main graph.</summary>
    public string? Graph { get; init; }

    /// <summary>The quantizable ops that read it (none for an output that only other ops read).</summary>
    public required IReadOnlyList<string> Readers { get; init; }

    /// <summary>The quantizable op whose output it is (directly, or after the Relu or Clip that alone reads that output); null when none.</summary>
    public string? Producer { get; init; }

    /// <summary>Its element type (float32, float16, ...).</summary>
    [System.Text.Json.Serialization.JsonPropertyName("dtype")]
    public required string DType { get; init; }

    /// <summary>Its shape in the first sample that produced it; null when no sample did.</summary>
    public long[]? Shape { get; init; }

    /// <summary>Samples in which it held values (a value inside an If branch is seen only when that branch runs).</summary>
    public required int Samples { get; init; }

    /// <summary>Values seen over all samples.</summary>
    public required long Count { get; init; }

    /// <summary>The smallest and largest value seen; null when none was.</summary>
    public double? Min { get; init; }
    public double? Max { get; init; }

    /// <summary>True when no quantizer was chosen for it (see <see cref="SkipReason"/>): it is not in the rules file.</summary>
    public bool Skipped { get; init; }

    public string? SkipReason { get; init; }

    /// <summary>The activation quantizer chosen, as the rules file holds it.</summary>
    public QuantizerSpec? Quantizer { get; init; }

    /// <summary>Its grid: scale, zero point and integer range (null for skipped activations).</summary>
    public float? Scale { get; init; }
    public int? ZeroPoint { get; init; }
    public int? QuantMin { get; init; }
    public int? QuantMax { get; init; }

    /// <summary>
    /// The type of QuantizeLinear's codes in the qdq format (int8, uint8; int16/uint16 above 8 bits), and whether QuantizeLinear
    /// gives exactly MCT's values: true for power-of-two scales (QuantizeLinear divides by the scale where MCT multiplies
    /// by its float32 reciprocal; the two agree when the scale is a power of two), otherwise values within a rounding of a
    /// tie may land one step apart.
    /// </summary>
    public string? QdqType { get; init; }
    public bool? QdqExact { get; init; }

    /// <summary>How the values were chosen.</summary>
    public SelectionInfo? Selection { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public string ShapeText => Shape is null ? "" : "[" + string.Join(", ", Shape) + "]";
}

/// <summary>What a whole calibration did: for a closing line.</summary>
public sealed record CalibrationSummary
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }
    public required int Samples { get; init; }

    /// <summary>Activation quantizers written.</summary>
    public required int Activations { get; init; }

    /// <summary>Activations found but not calibrated (no values seen, not a float type, not observable).</summary>
    public required int Skipped { get; init; }

    /// <summary>Weight rules written (one per weight the graph names, with the default weight quantizer).</summary>
    public required int WeightRules { get; init; }

    public required double ElapsedMs { get; init; }
}
