using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// A tensor whose values the model itself holds (a weight, or any other constant): an initializer of the main graph or
/// of a subgraph, or the <c>value</c> tensor of a <c>Constant</c> node. A Constant-held tensor is named by the node's
/// output, which is how the graph refers to it.
/// </summary>
public sealed class OnnxConstantTensor
{
    private readonly OnnxModel _model;

    internal OnnxConstantTensor(OnnxModel model, OnnxGraph graph, TensorProto tensor, NodeProto? node = null)
    {
        _model = model;
        Graph = graph;
        Tensor = tensor;
        Node = node;
    }

    /// <summary>The graph that holds the initializer or the Constant node.</summary>
    public OnnxGraph Graph { get; }

    public TensorProto Tensor { get; }

    /// <summary>The Constant node whose <c>value</c> attribute holds the tensor; null for an initializer.</summary>
    public NodeProto? Node { get; }

    public bool IsInitializer => Node is null;

    /// <summary>The name the graph reads: the initializer's name, or the Constant node's output.</summary>
    public string Name => Node is null ? Tensor.Name : Node.Output[0];

    public OnnxDataType DataType => (OnnxDataType)Tensor.DataType;

    public long[] Dims => Tensor.Dims.ToArray();

    public long ElementCount => OnnxTensorCodec.ElementCount(Tensor, Name);

    /// <summary>True when the data lives in an external file beside the model.</summary>
    public bool IsExternal => OnnxModel.IsExternal(Tensor);

    /// <summary>float16, bfloat16, float32 or float64: the types QuantShell quantizes.</summary>
    public bool IsQuantizable => OnnxDataTypes.IsQuantizable(DataType);

    /// <summary>The values (see <see cref="OnnxModel.ReadValues"/> for the array types).</summary>
    public NpyArray ReadValues() => _model.ReadValues(Tensor, Graph);

    /// <summary>The nodes that read this tensor, in this graph and in the subgraphs that see it.</summary>
    public IReadOnlyList<OnnxConsumer> Consumers() => _model.ConsumersOf(Graph, Name);

    /// <summary>Replaces the values (same element count), stored in the tensor's own float type.</summary>
    public void ReplaceValues(NpyArray values) => _model.ReplaceValues(Tensor, values, Graph);

    public override string ToString() =>
        $"{Name} ({OnnxDataTypes.Name(DataType)} [{string.Join(", ", Tensor.Dims)}], {(Node is null ? "initializer" : "Constant node")}, graph '{Graph.Path}')";
}
