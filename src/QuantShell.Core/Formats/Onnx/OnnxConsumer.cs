using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>A node input that reads a value: the graph, the node and which of its inputs.</summary>
public sealed record OnnxConsumer(OnnxGraph Graph, NodeProto Node, int InputIndex)
{
    public string OpType => Node.OpType;

    /// <summary>The node's domain, "" for the default one.</summary>
    public string Domain => Node.Domain;

    /// <summary>True for ops of the default ONNX domain.</summary>
    public bool IsStandard => Node.Domain.Length == 0 || Node.Domain == "ai.onnx";

    /// <summary>
    /// When this input is the weight of a Conv, ConvTranspose, Gemm or MatMul: the axis of its output channels for a weight of
    /// <paramref name="rank"/> dimensions (Conv: 0; ConvTranspose: 1; Gemm: 0 with transB = 1, else 1; MatMul: the last
    /// axis). Null for any other input.
    /// </summary>
    public int? WeightChannelAxis(int rank)
    {
        if (!IsStandard || InputIndex != 1 || rank < 1) return null;
        return Node.OpType switch
        {
            "Conv" => 0,
            "ConvTranspose" when rank >= 2 => 1,
            "Gemm" when rank == 2 => Node.Attribute.FirstOrDefault(a => a.Name == "transB")?.I == 1 ? 0 : 1,
            "MatMul" => rank - 1,
            _ => null,
        };
    }
}
