using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>A weight (or any constant) of a model: an initializer of the main graph or of a subgraph.</summary>
public sealed class OnnxInitializer
{
    private readonly OnnxModel _model;

    internal OnnxInitializer(OnnxModel model, OnnxGraph graph, TensorProto tensor)
    {
        _model = model;
        Graph = graph;
        Tensor = tensor;
    }

    public OnnxGraph Graph { get; }

    public TensorProto Tensor { get; }

    public string Name => Tensor.Name;

    public OnnxDataType DataType => (OnnxDataType)Tensor.DataType;

    public long[] Dims => Tensor.Dims.ToArray();

    public long ElementCount => OnnxTensorCodec.ElementCount(Tensor, Name);

    /// <summary>True when the data lives in an external file beside the model.</summary>
    public bool IsExternal => OnnxModel.IsExternal(Tensor);

    /// <summary>float16, bfloat16, float32 or float64: the types QuantShell quantizes.</summary>
    public bool IsQuantizable => OnnxDataTypes.IsQuantizable(DataType);

    /// <summary>The values (see <see cref="OnnxModel.ReadValues"/> for the array types).</summary>
    public NpyArray ReadValues() => _model.ReadValues(Tensor, Graph);

    /// <summary>The nodes that read this initializer, in this graph and in the subgraphs that see it.</summary>
    public IReadOnlyList<OnnxConsumer> Consumers() => _model.ConsumersOf(Graph, Name);

    /// <summary>Replaces the values (same element count), stored in the initializer's own float type.</summary>
    public void ReplaceValues(NpyArray values) => _model.ReplaceValues(Tensor, values, Graph);

    public override string ToString() => $"{Name} ({OnnxDataTypes.Name(DataType)} [{string.Join(", ", Tensor.Dims)}], graph '{Graph.Path}')";
}
