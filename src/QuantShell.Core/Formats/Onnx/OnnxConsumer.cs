using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>A node input that reads a value: the graph, the node and which of its inputs.</summary>
public sealed record OnnxConsumer(OnnxGraph Graph, NodeProto Node, int InputIndex)
{
    /// <summary>The operators whose weights are quantized by default, as messages list them.</summary>
    public const string WeightOperators = "Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN";

    public string OpType => Node.OpType;

    /// <summary>The node's domain, "" for the default one.</summary>
    public string Domain => Node.Domain;

    /// <summary>True for ops of the default ONNX domain.</summary>
    public bool IsStandard => Node.Domain.Length == 0 || Node.Domain == "ai.onnx";

    /// <summary>True when this input is the weight of one of <see cref="WeightOperators"/> (whatever its rank).</summary>
    public bool IsWeightInput => IsStandard && Node.OpType switch
    {
        "Conv" or "ConvTranspose" or "Gemm" or "MatMul" => InputIndex == 1,
        "LSTM" or "GRU" or "RNN" => InputIndex is 1 or 2,
        _ => false,
    };

    /// <summary>True when this input is the bias of a Conv, ConvTranspose, Gemm, LSTM, GRU or RNN (kept in float by default).</summary>
    public bool IsBiasInput => IsStandard && Node.OpType switch
    {
        "Conv" or "ConvTranspose" or "Gemm" => InputIndex == 2,
        "LSTM" or "GRU" or "RNN" => InputIndex == 3,
        _ => false,
    };

    /// <summary>True when this input is the table a <c>Gather</c> looks rows up in (an embedding): quantized only by a rule.</summary>
    public bool IsGatherTable => IsStandard && Node.OpType == "Gather" && InputIndex == 0;

    /// <summary>
    /// When this input is the weight of a Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN: the axis of its output channels
    /// for a weight of <paramref name="rank"/> dimensions (Conv: 0; ConvTranspose: 1; Gemm: 0 with transB = 1, else 1;
    /// MatMul: the last axis; LSTM, GRU and RNN <c>W</c> and <c>R</c>, [directions, gates × hidden, size]: 1, the gate rows).
    /// Null for any other input.
    /// </summary>
    public int? WeightChannelAxis(int rank)
    {
        if (!IsWeightInput || rank < 1) return null;
        return Node.OpType switch
        {
            "Conv" => 0,
            "ConvTranspose" when rank >= 2 => 1,
            "Gemm" when rank == 2 => Node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1 ? 0 : 1,
            "MatMul" => rank - 1,
            "LSTM" or "GRU" or "RNN" when rank == 3 => 1,
            _ => null,
        };
    }

    /// <summary>How messages name the node: its op type and its name (or first output when it has none).</summary>
    public string Describe() => $"{OpType} '{(Node.Name.Length > 0 ? Node.Name : Node.Output.FirstOrDefault() ?? "")}'";
}
