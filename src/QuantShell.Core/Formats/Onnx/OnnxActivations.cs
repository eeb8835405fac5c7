using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// A value of a model's graph that a quantizable op reads as data (not as a weight): where it is defined, how rules name
/// it, and who reads it.
/// </summary>
public sealed record OnnxActivation
{
    /// <summary>The value's name in its graph.</summary>
    public required string Name { get; init; }

    /// <summary>
    /// How rules and results name it: the value's name, or <c>GRAPH-PATH:NAME</c> for a value of a subgraph whose name is
    /// also defined in another graph of the model.
    /// </summary>
    public required string Key { get; init; }

    /// <summary>The graph that defines the value (as an input, or as a node's output).</summary>
    public required OnnxGraph Graph { get; init; }

    /// <summary>The element type, as the model states it or simple rules give it; Undefined when neither does.</summary>
    public required OnnxDataType ElementType { get; init; }

    /// <summary>The quantizable ops that read it (Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN), described for messages.</summary>
    public required IReadOnlyList<string> Readers { get; init; }

    /// <summary>The quantizable op whose output it is (directly, or through the BatchNormalization, then the Relu or Clip, that alone reads that output); null when none.</summary>
    public string? Producer { get; init; }

    /// <summary>What makes it an activation, for messages: "read by ..., output of ...".</summary>
    public string Role => string.Join("; ", new[]
    {
        Readers.Count > 0 ? "read by " + string.Join(", ", Readers) : null,
        Producer is not null ? "output of " + Producer : null,
    }.OfType<string>());

    /// <summary>True for an input of the main graph (its values are the samples themselves).</summary>
    public bool IsModelInput => Graph.IsMain && Graph.Proto.Input.Any(i => i.Name == Name);
}

/// <summary>
/// Finds the activations of a model that calibration observes, in the main graph and in If, Loop and Scan subgraphs:
/// <list type="bullet">
/// <item>every value that a quantizable op reads as data — the input of Conv and ConvTranspose, both inputs of Gemm and
/// MatMul unless one is a weight, the sequence input X of LSTM, GRU and RNN;</item>
/// <item>the output of every Conv, ConvTranspose, Gemm and MatMul — after the BatchNormalization and then the Relu or
/// Clip that alone read it, as MCT quantizes a layer's output once its batch norm is folded in and after its fused
/// activation — unless it is an output of its graph, which stays as the model gives it. A runtime runs a quantizable op with an integer kernel only when both its input and its output are
/// quantized (ONNX Runtime's QLinearConv: DequantizeLinear → Conv → QuantizeLinear).</item>
/// </list>
/// A value is data when it depends on a model input; weights (initializers, Constant nodes and whatever is computed from
/// them alone: Transpose, Reshape, Cast, Identity chains) are not activations.
/// </summary>
public static class OnnxActivations
{
    /// <summary>The quantizable ops and which of their inputs take data.</summary>
    public static readonly IReadOnlyDictionary<string, int[]> DataInputs = new Dictionary<string, int[]>(StringComparer.Ordinal)
    {
        ["Conv"] = [0],
        ["ConvTranspose"] = [0],
        ["Gemm"] = [0, 1],
        ["MatMul"] = [0, 1],
        ["LSTM"] = [0],
        ["GRU"] = [0],
        ["RNN"] = [0],
    };

    /// <summary>The ops whose output is an activation (see the class summary).</summary>
    public static readonly IReadOnlySet<string> QuantizedOutputs = new HashSet<string>(StringComparer.Ordinal) { "Conv", "ConvTranspose", "Gemm", "MatMul" };

    /// <summary>The activation functions a runtime folds into the quantizer that follows them (ONNX Runtime removes a Relu or Clip before a QuantizeLinear whose range it covers).</summary>
    private static readonly IReadOnlySet<string> FoldedActivations = new HashSet<string>(StringComparer.Ordinal) { "Relu", "Clip" };

    /// <summary>The activations of <paramref name="model"/>, in graph order (main graph first, each value once).</summary>
    public static IReadOnlyList<OnnxActivation> Find(OnnxModel model)
    {
        var types = OnnxValueTypes.Infer(model);
        var dynamic = DynamicValues(model);
        var graphs = model.Graphs().ToList();
        var found = new List<(OnnxGraph Graph, string Name, List<string> Readers, string? Producer)>();
        var index = new Dictionary<(GraphProto, string), int>();
        int At(OnnxGraph definer, string name)
        {
            var key = (definer.Proto, name);
            if (!index.TryGetValue(key, out int at))
            {
                index[key] = at = found.Count;
                found.Add((definer, name, [], null));
            }
            return at;
        }
        foreach (var graph in graphs)
        {
            foreach (var node in graph.Proto.Node)
            {
                if (!(node.Domain is "" or "ai.onnx") || !DataInputs.TryGetValue(node.OpType, out var inputs)) continue;
                foreach (int i in inputs)
                {
                    if (i >= node.Input.Count || node.Input[i].Length == 0) continue;
                    string name = node.Input[i];
                    var definer = Definer(graph, name);
                    if (definer is null || !IsDynamic(dynamic, definer, name)) continue;
                    int at = At(definer, name);
                    string reader = graph.Describe(node);
                    if (!found[at].Readers.Contains(reader)) found[at].Readers.Add(reader);
                }
                if (QuantizedOutputs.Contains(node.OpType) && node.Output.Count > 0 && node.Output[0].Length > 0 && IsDynamic(dynamic, graph, node.Output[0]))
                {
                    string output = node.Output[0];
                    // A BatchNormalization that alone reads the output is folded into the op (MCT folds it into the weights;
                    // ONNX Runtime fuses Conv and BatchNormalization), then a Relu or Clip is folded into the quantizer.
                    output = FollowSoleReader(model, graph, output, "BatchNormalization");
                    output = FollowSoleReader(model, graph, output, FoldedActivations);
                    if (graph.IsOutput(output)) continue;
                    int at = At(graph, output);
                    found[at] = found[at] with { Producer = graph.Describe(node) };
                }
            }
        }
        var definedIn = DefinitionCounts(graphs);
        return found.Select(f => new OnnxActivation
        {
            Name = f.Name,
            Key = KeyOf(f.Graph, f.Name, definedIn),
            Graph = f.Graph,
            ElementType = types.Of(f.Graph, f.Name),
            Readers = f.Readers,
            Producer = f.Producer,
        }).ToList();
    }

    /// <summary>The output of the one node of <paramref name="opTypes"/> that alone reads <paramref name="name"/> (as its first input), or the name itself.</summary>
    private static string FollowSoleReader(OnnxModel model, OnnxGraph graph, string name, params IReadOnlySet<string>[] opTypes) =>
        graph.IsOutput(name) || model.ConsumersOf(graph, name) is not [{ } only]
        || !ReferenceEquals(only.Graph.Proto, graph.Proto) || !only.IsStandard || only.InputIndex != 0 || !opTypes[0].Contains(only.OpType)
            ? name
            : only.Node.Output[0];

    private static string FollowSoleReader(OnnxModel model, OnnxGraph graph, string name, string opType) =>
        FollowSoleReader(model, graph, name, new HashSet<string>(StringComparer.Ordinal) { opType });

    /// <summary>
    /// The value a rules file names: a name defined (as a graph input or a node's output) in exactly one graph, or
    /// <c>GRAPH-PATH:NAME</c>. Null when the model has none; <paramref name="ambiguous"/> lists the graphs when a plain
    /// name is defined in several.
    /// </summary>
    public static OnnxActivation? Resolve(OnnxModel model, string key, out IReadOnlyList<string> ambiguous)
    {
        ambiguous = [];
        var graphs = model.Graphs().ToList();
        var defining = graphs.Where(g => DefinesValue(g, key)).ToList();
        if (defining.Count > 1)
        {
            ambiguous = defining.Select(g => g.Path).ToList();
            return null;
        }
        var graph = defining.FirstOrDefault();
        string name = key;
        if (graph is null)
        {
            graph = graphs.FirstOrDefault(g => key.StartsWith(g.Path + ":", StringComparison.Ordinal) && DefinesValue(g, key[(g.Path.Length + 1)..]));
            if (graph is null) return null;
            name = key[(graph.Path.Length + 1)..];
        }
        var types = OnnxValueTypes.Infer(model);
        return new OnnxActivation
        {
            Name = name,
            Key = key,
            Graph = graph,
            ElementType = types.Of(graph, name),
            Readers = model.ConsumersOf(graph, name).Select(c => c.Graph.Describe(c.Node)).Distinct().ToList(),
        };
    }

    /// <summary>The graph that defines <paramref name="name"/> as seen from <paramref name="graph"/>: itself or the nearest enclosing one.</summary>
    private static OnnxGraph? Definer(OnnxGraph graph, string name)
    {
        for (var g = graph; g is not null; g = g.Parent)
            if (g.Defines(name)) return g;
        return null;
    }

    private static bool DefinesValue(OnnxGraph graph, string name) =>
        graph.Proto.Input.Any(i => i.Name == name && !graph.Proto.Initializer.Any(t => t.Name == name)) || graph.Proto.Node.Any(n => n.Output.Contains(name));

    private static Dictionary<string, int> DefinitionCounts(IEnumerable<OnnxGraph> graphs)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var graph in graphs)
        {
            foreach (var name in graph.Proto.Input.Select(i => i.Name).Concat(graph.Proto.Node.SelectMany(n => n.Output)).Where(n => n.Length > 0).Distinct())
                counts[name] = counts.GetValueOrDefault(name) + 1;
        }
        return counts;
    }

    private static string KeyOf(OnnxGraph graph, string name, Dictionary<string, int> definedIn) =>
        graph.IsMain || definedIn.GetValueOrDefault(name) <= 1 ? name : $"{graph.Path}:{name}";

    private static bool IsDynamic(Dictionary<GraphProto, HashSet<string>> dynamic, OnnxGraph graph, string name) =>
        dynamic.TryGetValue(graph.Proto, out var set) && set.Contains(name);

    /// <summary>
    /// Per graph, the values that depend on a model input: the main graph's inputs that are not initializers (those are
    /// weights with defaults), a subgraph's own inputs (Loop's iteration and state, Scan's slices), and every output of a
    /// node that reads such a value, directly or in its subgraphs.
    /// </summary>
    private static Dictionary<GraphProto, HashSet<string>> DynamicValues(OnnxModel model)
    {
        var result = new Dictionary<GraphProto, HashSet<string>>(ReferenceEqualityComparer.Instance);
        Mark(model.MainGraph, new HashSet<string>(StringComparer.Ordinal));
        return result;

        void Mark(OnnxGraph graph, HashSet<string> outer)
        {
            var proto = graph.Proto;
            var initializers = proto.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            var visible = new HashSet<string>(outer, StringComparer.Ordinal);
            visible.ExceptWith(initializers);
            foreach (var input in proto.Input)
            {
                if (graph.IsMain && initializers.Contains(input.Name)) continue;
                visible.Add(input.Name);
            }
            // A value a node defines here hides an outer one of its name. Nodes are visited through a work list rather
            // than in file order: ONNX asks for a topologically sorted graph, but converters (float16 ones, for example)
            // append a node at the end whose output earlier nodes read, and ONNX Runtime sorts such graphs itself.
            var reads = new List<string>[proto.Node.Count];
            var readers = new Dictionary<string, List<int>>(StringComparer.Ordinal);
            for (int n = 0; n < proto.Node.Count; n++)
            {
                var node = proto.Node[n];
                foreach (string output in node.Output) visible.Remove(output);
                reads[n] = node.Input.Concat(OnnxModel.Subgraphs(graph, node).SelectMany(OnnxModel.FreeNames)).Where(r => r.Length > 0).Distinct().ToList();
                foreach (string name in reads[n])
                {
                    if (!readers.TryGetValue(name, out var list)) readers[name] = list = [];
                    list.Add(n);
                }
            }
            var pending = new Queue<int>(Enumerable.Range(0, proto.Node.Count));
            var done = new bool[proto.Node.Count];
            while (pending.TryDequeue(out int n))
            {
                if (done[n] || !reads[n].Any(visible.Contains)) continue;
                done[n] = true;
                foreach (string output in proto.Node[n].Output)
                {
                    if (output.Length == 0 || !visible.Add(output) || !readers.TryGetValue(output, out var next)) continue;
                    foreach (int r in next) pending.Enqueue(r);
                }
            }
            result[proto] = visible;
            foreach (var node in proto.Node)
                foreach (var sub in OnnxModel.Subgraphs(graph, node))
                    Mark(sub, visible);
        }
    }
}
