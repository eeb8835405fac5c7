using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// A copy of a model in which chosen values are outputs of the main graph, so that a runtime returns them with the model's
/// own outputs: a value of the main graph is added to its outputs; a value inside a subgraph is passed out through the
/// node that holds it — an If gets one more output (the branch that defines the value returns it, the other branches an
/// empty tensor of its type), a Loop or Scan one more scan output (the value of every iteration, stacked) — and so on up
/// to the main graph. The original model is not changed.
/// </summary>
public sealed class OnnxObservation
{
    private OnnxObservation(OnnxModel copy, IReadOnlyDictionary<string, string> outputs, IReadOnlyDictionary<string, string> unobservable)
    {
        Model = copy;
        Outputs = outputs;
        Unobservable = unobservable;
    }

    /// <summary>The copy, with the added outputs.</summary>
    public OnnxModel Model { get; }

    /// <summary>For each observed activation (by <see cref="OnnxActivation.Key"/>), the main graph's output that carries its values.</summary>
    public IReadOnlyDictionary<string, string> Outputs { get; }

    /// <summary>The activations that cannot be observed, with the reason.</summary>
    public IReadOnlyDictionary<string, string> Unobservable { get; }

    /// <summary>
    /// Copies <paramref name="model"/> and makes each of <paramref name="activations"/> an output of the copy's main graph
    /// (model inputs need nothing: their values are what is fed).
    /// </summary>
    public static OnnxObservation Create(OnnxModel model, IReadOnlyList<OnnxActivation> activations)
    {
        var copy = OnnxModel.Parse(model.ToByteArray(), model.Name, model.Directory);
        var graphs = copy.Graphs().ToDictionary(g => g.Path, StringComparer.Ordinal);
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        var unobservable = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var activation in activations)
        {
            if (activation.IsModelInput)
            {
                outputs[activation.Key] = activation.Name;
                continue;
            }
            if (!graphs.TryGetValue(activation.Graph.Path, out var graph))
            {
                unobservable[activation.Key] = $"its graph '{activation.Graph.Path}' has no unique path";
                continue;
            }
            if (WhyNot(graph) is { } reason)
            {
                unobservable[activation.Key] = reason;
                continue;
            }
            outputs[activation.Key] = Expose(copy, graph, activation.Name, activation.ElementType);
        }
        return new OnnxObservation(copy, outputs, unobservable);
    }

    /// <summary>Why a value of <paramref name="graph"/> cannot be passed out to the main graph; null when it can.</summary>
    private static string? WhyNot(OnnxGraph graph)
    {
        for (var g = graph; !g.IsMain; g = g.Parent!)
        {
            var owner = g.OwnerNode!;
            if (!(owner.Domain is "" or "ai.onnx") || owner.OpType is not ("If" or "Loop" or "Scan"))
                return $"it is inside a subgraph of {g.Parent!.Describe(owner)}, which QuantShell cannot pass values out of";
            if (owner.OpType == "Loop" && owner.Output.Count != g.Proto.Output.Count - 1)
                return $"{g.Parent!.Describe(owner)} leaves some of its outputs out";
            if (owner.OpType == "Scan" && owner.Output.Count != g.Proto.Output.Count)
                return $"{g.Parent!.Describe(owner)} leaves some of its outputs out";
        }
        return null;
    }

    private static string Expose(OnnxModel copy, OnnxGraph graph, string name, OnnxDataType type)
    {
        if (graph.IsMain)
        {
            if (!graph.IsOutput(name)) graph.Proto.Output.Add(new ValueInfoProto { Name = name });
            return name;
        }
        var owner = graph.OwnerNode!;
        string outer = copy.NewName("quantshell_observed/" + name);
        if (owner.OpType == "If")
        {
            foreach (var attribute in owner.Attribute.Where(a => a.G is not null))
            {
                if (ReferenceEquals(attribute.G, graph.Proto))
                {
                    attribute.G.Output.Add(Typed(name, type));
                    continue;
                }
                // The other branch returns an empty tensor of the same type: a run that takes it observes nothing.
                string empty = copy.NewName("quantshell_observed/empty/" + name);
                attribute.G.Node.Add(new NodeProto
                {
                    OpType = "Constant", Name = copy.NewName("quantshell_observed/Constant"), Output = { empty },
                    Attribute = { new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = OnnxTensorCodec.Tensor("", type, [0], []) } },
                });
                attribute.G.Output.Add(Typed(empty, type));
            }
        }
        else
        {
            // Loop and Scan: one more scan output of the body; the node's outputs list its scan outputs last.
            graph.Proto.Output.Add(Typed(name, type));
            if (owner.OpType == "Scan")
            {
                foreach (var attribute in owner.Attribute.Where(a => a.Name is "scan_output_axes" or "scan_output_directions"))
                    attribute.Ints.Add(0);
            }
        }
        owner.Output.Add(outer);
        return Expose(copy, graph.Parent!, outer, type);
    }

    private static ValueInfoProto Typed(string name, OnnxDataType type) => new()
    {
        Name = name,
        Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)(type == OnnxDataType.Undefined ? OnnxDataType.Float : type) } },
    };
}
