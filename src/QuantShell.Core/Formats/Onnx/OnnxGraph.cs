using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// One graph of a model: the main graph, or a subgraph held by a node's attribute (If's branches, Loop's and Scan's
/// bodies), with the way to it for messages (<c>main_graph/If_0.then_branch</c>).
/// </summary>
public sealed class OnnxGraph
{
    internal OnnxGraph(GraphProto proto, string path, OnnxGraph? parent, NodeProto? ownerNode)
    {
        Proto = proto;
        Path = path;
        Parent = parent;
        OwnerNode = ownerNode;
    }

    public GraphProto Proto { get; }

    /// <summary>Where the graph is: the main graph's name, then <c>/node.attribute</c> for each level of subgraph.</summary>
    public string Path { get; }

    /// <summary>The graph whose node holds this one; null for the main graph.</summary>
    public OnnxGraph? Parent { get; }

    /// <summary>The node whose attribute holds this graph; null for the main graph.</summary>
    public NodeProto? OwnerNode { get; }

    public bool IsMain => Parent is null;

    /// <summary>This graph's initializer called <paramref name="name"/>, or null.</summary>
    public TensorProto? FindInitializer(string name) => Proto.Initializer.FirstOrDefault(t => t.Name == name);

    /// <summary>The initializer a name refers to here: this graph's, else the nearest enclosing graph's (outer scope).</summary>
    public (OnnxGraph Graph, TensorProto Tensor)? ResolveInitializer(string name)
    {
        for (var graph = this; graph is not null; graph = graph.Parent)
        {
            if (graph.Defines(name, excludingInitializers: true)) return null; // shadowed by a value computed here
            var tensor = graph.FindInitializer(name);
            if (tensor is not null) return (graph, tensor);
        }
        return null;
    }

    /// <summary>The node that produces <paramref name="name"/> in this graph, or null.</summary>
    public NodeProto? Producer(string name) => Proto.Node.FirstOrDefault(n => n.Output.Contains(name));

    /// <summary>True when the name is one of the graph's outputs.</summary>
    public bool IsOutput(string name) => Proto.Output.Any(o => o.Name == name);

    /// <summary>True when this graph defines the name (an input, a node output or, unless excluded, an initializer).</summary>
    public bool Defines(string name, bool excludingInitializers = false) =>
        Proto.Input.Any(i => i.Name == name) || Proto.Node.Any(n => n.Output.Contains(name)) ||
        (!excludingInitializers && Proto.Initializer.Any(t => t.Name == name));

    /// <summary>How messages name a node: its name, or its position and op type when it has none.</summary>
    public string Describe(NodeProto node)
    {
        string name = node.Name.Length > 0 ? $"'{node.Name}'" : $"#{Proto.Node.IndexOf(node)}";
        string domain = node.Domain.Length > 0 && node.Domain != "ai.onnx" ? $"{node.Domain}." : "";
        return $"node {name} ({domain}{node.OpType}) of graph '{Path}'";
    }

    public override string ToString() => Path;
}
