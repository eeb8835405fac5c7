using QuantShell.Core.Formats.Onnx.Mct;

namespace QuantShell.Core.Jobs.Lower;

/// <summary>
/// What lowering one model did: the result object of ConvertTo-StandardOnnx and, serialized, the <c>--json</c> line of
/// <c>dotnet quant lower</c>.
/// </summary>
public sealed record LowerResult
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }

    public required WeightsForm Weights { get; init; }
    public required ActivationsForm Activations { get; init; }

    /// <summary>How many mct_quantizers nodes of each op type were replaced.</summary>
    public required IReadOnlyDictionary<string, int> NodesLowered { get; init; }

    /// <summary>Weight quantizer nodes replaced (their weights quantized).</summary>
    public required int WeightsQuantized { get; init; }

    /// <summary>Activation quantizer nodes replaced.</summary>
    public required int ActivationsLowered { get; init; }

    /// <summary>Each replaced node: its quantizer and what it became.</summary>
    public required IReadOnlyList<LoweredNode> Nodes { get; init; }

    /// <summary>The default-domain opset before and after (raised only when an emitted op needs it).</summary>
    public required long OpsetBefore { get; init; }
    public required long Opset { get; init; }
    public required long IrVersion { get; init; }

    /// <summary>Nodes of the main graph before and after.</summary>
    public required int NodeCountBefore { get; init; }
    public required int NodeCount { get; init; }

    /// <summary>Bytes of the .onnx file read and written (external data files not included).</summary>
    public required long InputBytes { get; init; }
    public required long OutputBytes { get; init; }

    public required double ElapsedMs { get; init; }
}
