using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Jobs.Lower;

/// <summary>One mct_quantizers node of a lowered model: the quantizer it held and what replaced it.</summary>
public sealed record LoweredNode
{
    public required string NodeName { get; init; }

    /// <summary>MCT's op type, e.g. <c>WeightsSymmetricQuantizer</c>.</summary>
    public required string OpType { get; init; }

    /// <summary>The graph the node was in (the main graph's name, or the way to a subgraph).</summary>
    public required string Graph { get; init; }

    public required QuantizationTarget Target { get; init; }

    public required LoweredForm Form { get; init; }

    /// <summary>The quantized value: the weight initializer's name, or the activation's.</summary>
    public required string Input { get; init; }

    /// <summary>Where the result is now: the fake-quantized initializer, or the value the new nodes produce.</summary>
    public required string Output { get; init; }

    /// <summary>The quantizer the node held, as a quantizer file writes it.</summary>
    public required QuantizerSpec Quantizer { get; init; }

    /// <summary>The weight's shape (null for activations).</summary>
    public long[]? Shape { get; init; }

    /// <summary>The resolved channel axis of a per-channel weight quantizer.</summary>
    public int? ChannelAxis { get; init; }

    /// <summary>The integer type of qdq codes or table indices (int8, uint8, int16, uint16); null for fake and exact.</summary>
    public string? StorageType { get; init; }

    /// <summary>The step between levels, per tensor or per channel (grid scale; LUT: t / 2^(B - 1)).</summary>
    public required float[] Scale { get; init; }

    public required int[] ZeroPoint { get; init; }

    /// <summary>The node's mctq_version attribute.</summary>
    public string? MctqVersion { get; init; }

    /// <summary>
    /// "/conv1/WeightsSymmetricQuantizer: conv1.weight, symmetric 4-bit, fake": how PowerShell shows a node inside the
    /// lowering's result (it listed every property of every node).
    /// </summary>
    public override string ToString() =>
        $"{NodeName}: {Input}, {EnumNames.Kebab(Quantizer.Method)} {Quantizer.NumBits}-bit, {EnumNames.Kebab(Form)}";
}
