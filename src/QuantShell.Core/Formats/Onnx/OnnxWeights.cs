using System.Buffers.Binary;
using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// An operator that reads a constant tensor, directly or through ops that only move its values (Identity, Cast to a float
/// type, Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Slice, Concat: the chains exporters leave between a parameter and
/// its reader).
/// </summary>
/// <param name="Reader">The input that uses the values.</param>
/// <param name="Through">The nodes between the tensor and the reader, in order (empty when it reads the tensor itself).</param>
/// <param name="AsWeight">True when the reader reads it as the weight of a Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN.</param>
/// <param name="ChannelAxis">For a weight: the axis of the tensor that holds the reader's output channels; null when the chain loses it.</param>
/// <param name="AxisLost">Why the chain loses the output-channel axis (the node and what it does), when it does.</param>
public sealed record OnnxTensorReader(OnnxConsumer Reader, IReadOnlyList<OnnxConsumer> Through, bool AsWeight, int? ChannelAxis, string? AxisLost)
{
    /// <summary>The reader, and the chain when there is one: <c>MatMul 'fc' (through Transpose 't')</c>.</summary>
    public string Describe() =>
        Through.Count == 0 ? Reader.Describe() : $"{Reader.Describe()} (through {string.Join(", ", Through.Select(t => t.Describe()))})";
}

/// <summary>
/// What the graph does with one constant tensor: who reads it and, when it is a weight, the axis of its output channels.
/// </summary>
/// <param name="Tensor">The initializer or Constant-held tensor.</param>
/// <param name="Readers">Every operator that reads it (through pass-through chains).</param>
/// <param name="ChannelAxis">The output-channel axis when it is quantized by default; null otherwise.</param>
/// <param name="Description">For results: who reads it as a weight, or why it is not quantized by default.</param>
/// <param name="SkipCategory">Why it is not quantized by default without the tensor's particulars (to count tensors by); null for a weight.</param>
public sealed record OnnxTensorRole(OnnxConstantTensor Tensor, IReadOnlyList<OnnxTensorReader> Readers, int? ChannelAxis, string Description,
                                    string? SkipCategory = null)
{
    /// <summary>True when the tensor is quantized by default: a float weight whose readers agree on one channel axis.</summary>
    public bool IsWeight => ChannelAxis is not null;
}

/// <summary>
/// Every constant tensor of a model (initializers and Constant nodes, in the main graph and every subgraph) with its role,
/// and, when none is a weight, why (<see cref="NothingToQuantize"/>).
/// </summary>
public sealed class OnnxWeightSurvey
{
    internal OnnxWeightSurvey(IReadOnlyList<OnnxTensorRole> tensors, string? nothingToQuantize)
    {
        Tensors = tensors;
        NothingToQuantize = nothingToQuantize;
    }

    /// <summary>Every constant tensor, in <see cref="OnnxModel.ConstantTensors"/> order.</summary>
    public IReadOnlyList<OnnxTensorRole> Tensors { get; }

    /// <summary>The tensors quantized by default.</summary>
    public IEnumerable<OnnxTensorRole> Weights => Tensors.Where(t => t.IsWeight);

    /// <summary>
    /// When no tensor is a weight by default, why, for a warning: "no float weights: the model is already quantized (...)",
    /// "no float weights: ...", or "no weight read by Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN (...)". Null
    /// when some tensor is a weight.
    /// </summary>
    public string? NothingToQuantize { get; }
}

/// <summary>
/// Finds a model's weights from its graph. A constant tensor (an initializer or a Constant node's value, in any graph) is a
/// weight when a Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU or RNN reads it as its weight, directly or through a chain of
/// ops that only move values; its channel axis is the reader's output-channel axis followed back through the chain:
/// <list type="bullet">
/// <item>Identity, Cast (to a float type), Slice and Concat keep every axis where it is;</item>
/// <item>Transpose moves axis <c>perm[k]</c> to <c>k</c>;</item>
/// <item>Squeeze and Unsqueeze drop or insert size-1 axes (axes from the attribute or a constant input);</item>
/// <item>Reshape (shape from a constant) and Flatten keep output axis <c>k</c> as input axis <c>c</c> only when both have
/// the same size and the axes before them the same number of elements (then every element keeps its index along it);
/// otherwise the channels are mixed with other axes and the axis is lost.</item>
/// </list>
/// A tensor whose readers lose the axis, or disagree on it, is not quantized by default (a rule can quantize it).
/// </summary>
public static class OnnxWeights
{
    /// <summary>Ops of other domains that read integer weights: a model whose only weights they read is already quantized.</summary>
    private static readonly HashSet<string> QuantizedReaders = new(StringComparer.Ordinal)
    {
        "ConvInteger", "MatMulInteger", "QLinearConv", "QLinearMatMul", "DequantizeLinear", "QGemm", "MatMulNBits",
        "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "DynamicQuantizeLSTM", "GatherBlockQuantized", "QAttention",
    };

    /// <summary>Every constant tensor of the model with its role, and why nothing is a weight when nothing is.</summary>
    public static OnnxWeightSurvey Survey(OnnxModel model)
    {
        var index = new GraphIndex(model);
        var roles = model.ConstantTensors().Select(tensor => RoleOf(tensor, Follow(index, tensor))).ToList();
        return new OnnxWeightSurvey(roles, roles.Any(r => r.IsWeight) ? null : WhyNothing(roles));
    }

    private static OnnxTensorRole RoleOf(OnnxConstantTensor tensor, List<OnnxTensorReader> readers)
    {
        if (readers.Count == 0)
            return new OnnxTensorRole(tensor, readers, null, "no operator reads it", "read by no operator");
        var asWeight = readers.Where(r => r.AsWeight).ToList();
        if (asWeight.Count == 0)
        {
            var table = readers.FirstOrDefault(r => r.Reader.IsGatherTable);
            if (table is not null)
                return new OnnxTensorRole(tensor, readers, null, $"it is the table of {table.Describe()} (an embedding): quantized only when a rule names it",
                    "the table of a Gather (quantized only by a rule)");
            return new OnnxTensorRole(tensor, readers, null, $"it is not the weight of a {OnnxConsumer.WeightOperators} (read by {List(readers.DistinctBy(r => r.Reader.Node).ToList(), r => r.Describe())})",
                NotAWeight(readers));
        }
        if (!OnnxDataTypes.IsQuantizable(tensor.DataType))
            return new OnnxTensorRole(tensor, readers, null, $"it is the weight of {List(asWeight, r => r.Describe())} but holds {OnnxDataTypes.Name(tensor.DataType)} values",
                $"a weight of {OnnxDataTypes.Name(tensor.DataType)} values");
        var lost = asWeight.FirstOrDefault(r => r.ChannelAxis is null);
        if (lost is not null)
            return new OnnxTensorRole(tensor, readers, null, $"it is the weight of {lost.Describe()}, but {lost.AxisLost}",
                "a weight whose channel axis is lost on the way to its reader");
        var axes = asWeight.Select(r => r.ChannelAxis!.Value).Distinct().ToList();
        if (axes.Count > 1)
            return new OnnxTensorRole(tensor, readers, null, $"its readers want different channel axes ({string.Join(", ", asWeight.Select(r => $"{r.Describe()}: {r.ChannelAxis}"))})",
                "a weight whose readers want different channel axes");
        return new OnnxTensorRole(tensor, readers, axes[0], $"the weight of {List(asWeight.DistinctBy(r => r.Reader.Node).ToList(), r => r.Describe())}");
    }

    /// <summary>"a bias of Conv", "not a weight (read by BatchNormalization, Mul)": what a summary counts such tensors as.</summary>
    private static string NotAWeight(List<OnnxTensorReader> readers)
    {
        var ops = readers.Select(r => r.Reader.OpType).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (readers.All(r => r.Reader.IsBiasInput)) return $"a bias of {string.Join(", ", ops)}";
        return $"not a weight (read by {string.Join(", ", ops.Take(3))}{(ops.Count > 3 ? ", ..." : "")})";
    }

    private static string List<T>(IReadOnlyList<T> items, Func<T, string> describe) =>
        string.Join(", ", items.Take(3).Select(describe)) + (items.Count > 3 ? $" and {items.Count - 3} more" : "");

    private static string WhyNothing(List<OnnxTensorRole> roles)
    {
        var quantized = roles.Where(r => !OnnxDataTypes.IsQuantizable(r.Tensor.DataType))
                             .SelectMany(r => r.Readers).Where(r => QuantizedReaders.Contains(r.Reader.OpType))
                             .DistinctBy(r => r.Reader.Node, ReferenceEqualityComparer.Instance).ToList();
        var floats = roles.Where(r => OnnxDataTypes.IsQuantizable(r.Tensor.DataType) && r.Tensor.Dims.All(d => d > 0)).ToList();
        if (quantized.Count > 0)
            return $"no float weights: the model is already quantized (integer weights read by {List(quantized, r => r.Reader.Describe())})";
        if (floats.Count == 0)
            return "no float weights: the model holds no float16, bfloat16, float32 or float64 constant tensor";
        var blocked = floats.FirstOrDefault(r => r.Readers.Any(x => x.AsWeight));
        if (blocked is not null)
            return $"no weight whose channels can be followed: '{blocked.Tensor.Name}': {blocked.Description}";
        var readBy = floats.SelectMany(r => r.Readers).Select(r => r.Reader.OpType).Distinct().ToList();
        return $"no weight read by {OnnxConsumer.WeightOperators} (its {floats.Count} float tensors are read by " +
               $"{(readBy.Count == 0 ? "no operator" : string.Join(", ", readBy.Take(6)) + (readBy.Count > 6 ? ", ..." : ""))})";
    }

    // The walk: from the tensor through pass-through ops to the operators that use it, carrying for each axis of the current
    // value the tensor's axis it holds (null: none, or lost) and the value's shape (-1 where unknown). Axes is null when
    // not even the rank is known (after a Reshape to a shape that is not a constant).
    private sealed record Path(int?[]? Axes, long[]? Shape, string? Lost, List<OnnxConsumer> Through);

    private static readonly HashSet<string> PassThrough = new(StringComparer.Ordinal)
        { "Identity", "Cast", "Transpose", "Slice", "Concat", "Squeeze", "Unsqueeze", "Flatten", "Reshape" };

    private static List<OnnxTensorReader> Follow(GraphIndex index, OnnxConstantTensor tensor)
    {
        var readers = new List<OnnxTensorReader>();
        // Each node input is walked once; a node reached again through another of its inputs (a Concat of two slices of the
        // tensor) is walked again from there, since that path may map the axes its own way.
        var visited = new Dictionary<NodeProto, HashSet<int>>(ReferenceEqualityComparer.Instance);
        long[] dims = tensor.Dims;
        var start = new Path(Enumerable.Range(0, dims.Length).Select(i => (int?)i).ToArray(), dims, null, []);
        Walk(tensor.Graph, tensor.Name, start);
        return readers;

        void Walk(OnnxGraph graph, string name, Path path)
        {
            foreach (var consumer in index.ConsumersOf(graph, name))
            {
                var next = Moves(consumer) ? Step(index, consumer, path) : null;
                if (next is null)
                {
                    bool asWeight = consumer.IsWeightInput;
                    int? axis = path.Axes is null ? null : consumer.WeightChannelAxis(path.Axes.Length);
                    int? source = axis is int a && a < path.Axes!.Length ? path.Axes[a] : null;
                    string? lost = !asWeight || source is not null ? null
                        : path.Lost ?? (axis is null
                            ? $"{consumer.Describe()} reads it with rank {path.Axes?.Length}, which has no output-channel axis"
                            : $"the output channels of {consumer.Describe()} (axis {axis} of what it reads) are an axis the chain inserted");
                    readers.Add(new OnnxTensorReader(consumer, path.Through.ToList(), asWeight, source, lost));
                }
                else if ((visited.TryGetValue(consumer.Node, out var inputs) ? inputs : visited[consumer.Node] = []).Add(consumer.InputIndex))
                {
                    Walk(consumer.Graph, consumer.Node.Output[0], next);
                }
            }
        }
    }

    /// <summary>True when the consumer only moves the values it reads at that input into its first output.</summary>
    private static bool Moves(OnnxConsumer consumer)
    {
        var node = consumer.Node;
        if (!consumer.IsStandard || !PassThrough.Contains(node.OpType) || node.Output.Count < 1 || node.Output[0].Length == 0) return false;
        if (consumer.InputIndex != 0 && node.OpType != "Concat") return false;
        return node.OpType != "Cast" || OnnxDataTypes.IsQuantizable((OnnxDataType)(Attribute(node, "to")?.I ?? 0));
    }

    /// <summary>The path after a pass-through op (see <see cref="Moves"/>).</summary>
    private static Path Step(GraphIndex index, OnnxConsumer consumer, Path path)
    {
        var node = consumer.Node;
        var through = new List<OnnxConsumer>(path.Through) { consumer };
        if (path.Axes is null || path.Shape is null)
            return path with { Through = through, Lost = path.Lost ?? $"{consumer.Describe()} follows a value of unknown rank" };
        var axes = path.Axes;
        var shape = path.Shape;
        int rank = axes.Length;
        Path Keep(long[]? newShape = null) => path with { Shape = newShape ?? shape, Through = through };
        Path Lose(string why) => new(null, null, path.Lost ?? $"{consumer.Describe()} {why}", through);
        switch (node.OpType)
        {
            case "Identity" or "Cast":
                return Keep();
            case "Transpose":
            {
                var perm = Attribute(node, "perm")?.Ints.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, rank).Reverse().ToArray();
                if (perm.Length != rank || perm.Any(p => p < 0 || p >= rank) || perm.Distinct().Count() != rank)
                    return Lose("has a perm that does not fit the tensor's rank");
                return new Path(perm.Select(p => axes[p]).ToArray(), perm.Select(p => shape[p]).ToArray(), path.Lost, through);
            }
            case "Slice":
                return Keep(SliceShape(index, consumer, shape));
            case "Concat":
            {
                long axis = Attribute(node, "axis")?.I ?? 0;
                var newShape = (long[])shape.Clone();
                if (axis < 0) axis += rank;
                if (axis >= 0 && axis < rank) newShape[axis] = -1;
                return Keep(newShape);
            }
            case "Squeeze" or "Unsqueeze":
            {
                bool squeeze = node.OpType == "Squeeze";
                long[]? given = Attribute(node, "axes")?.Ints.ToArray();
                if (given is null && node.Input.Count > 1 && node.Input[1].Length > 0)
                {
                    given = index.ConstantInts(consumer.Graph, node.Input[1]);
                    if (given is null) return Lose($"takes its axes from '{node.Input[1]}', which is not a constant");
                }
                if (squeeze)
                {
                    if (given is null)
                    {
                        if (shape.Any(d => d < 0)) return Lose("drops the size-1 axes of a value whose shape is not known here");
                        given = Enumerable.Range(0, rank).Where(i => shape[i] == 1).Select(i => (long)i).ToArray();
                    }
                    var drop = given.Select(a => a < 0 ? a + rank : a).ToHashSet();
                    if (drop.Any(a => a < 0 || a >= rank)) return Lose("has axes that do not fit the tensor's rank");
                    var keep = Enumerable.Range(0, rank).Where(i => !drop.Contains(i)).ToArray();
                    return new Path(keep.Select(i => axes[i]).ToArray(), keep.Select(i => shape[i]).ToArray(), path.Lost, through);
                }
                if (given is null) return Lose("has no axes");
                int outRank = rank + given.Length;
                var inserted = given.Select(a => a < 0 ? a + outRank : a).ToHashSet();
                if (inserted.Count != given.Length || inserted.Any(a => a < 0 || a >= outRank)) return Lose("has axes that do not fit the tensor's rank");
                var newAxes = new int?[outRank];
                var newShape = new long[outRank];
                for (int k = 0, c = 0; k < outRank; k++)
                {
                    if (inserted.Contains(k)) { newShape[k] = 1; continue; }
                    newAxes[k] = axes[c];
                    newShape[k] = shape[c++];
                }
                return new Path(newAxes, newShape, path.Lost, through);
            }
            case "Flatten":
            {
                long axis = Attribute(node, "axis")?.I ?? 1;
                if (axis < 0) axis += rank;
                if (axis < 0 || axis > rank) return Lose("has an axis that does not fit the tensor's rank");
                return Reshape(consumer, path, through, [Product(shape, 0, (int)axis), Product(shape, (int)axis, rank)]);
            }
            default: // Reshape
            {
                long[]? target = Attribute(node, "shape")?.Ints.ToArray();
                if (target is null && node.Input.Count > 1 && node.Input[1].Length > 0) target = index.ConstantInts(consumer.Graph, node.Input[1]);
                if (target is null)
                    return Lose($"takes its shape from '{(node.Input.Count > 1 ? node.Input[1] : "")}', which is not a constant");
                bool allowZero = Attribute(node, "allowzero")?.I == 1;
                var output = new long[target.Length];
                for (int k = 0; k < target.Length; k++)
                    output[k] = target[k] == 0 && !allowZero ? k < rank ? shape[k] : -1 : target[k] < 0 ? -1 : target[k];
                int inferred = Array.IndexOf(target, -1L);
                if (inferred >= 0 && output.Count(d => d < 0) == 1 && output[inferred] < 0 && shape.All(d => d >= 0))
                {
                    long known = output.Where((d, k) => k != inferred).Aggregate(1L, (a, b) => a * b);
                    output[inferred] = known == 0 ? 0 : Product(shape, 0, rank) / known;
                }
                return Reshape(consumer, path, through, output);
            }
        }
    }

    /// <summary>Output axis k keeps input axis c when both hold the same size and the axes before them the same number of elements.</summary>
    private static Path Reshape(OnnxConsumer consumer, Path path, List<OnnxConsumer> through, long[] output)
    {
        var shape = path.Shape!;
        var inputAxes = path.Axes!;
        var axes = new int?[output.Length];
        bool known = shape.All(d => d >= 0) && output.All(d => d >= 0);
        if (known)
        {
            for (int k = 0; k < output.Length; k++)
            {
                long before = Product(output, 0, k);
                for (int c = 0; c < shape.Length; c++)
                {
                    if (shape[c] != output[k] || Product(shape, 0, c) != before || inputAxes[c] is null) continue;
                    axes[k] = inputAxes[c];
                    break;
                }
            }
        }
        string? lost = path.Lost;
        if (lost is null && inputAxes.Any(a => a is not null) && !inputAxes.Where(a => a is not null).All(a => axes.Contains(a)))
        {
            lost = known
                ? $"{consumer.Describe()} reshapes [{string.Join(", ", shape)}] to [{string.Join(", ", output)}], which mixes its channels with other axes"
                : $"{consumer.Describe()} reshapes it to a shape that is not known here";
        }
        return new Path(axes, output, lost, through);
    }

    private static long[] SliceShape(GraphIndex index, OnnxConsumer consumer, long[] shape)
    {
        var node = consumer.Node;
        int rank = shape.Length;
        long[]? starts, ends, axesGiven, steps = null;
        if (Attribute(node, "starts") is { } startsAttribute)
        {
            starts = startsAttribute.Ints.ToArray();
            ends = Attribute(node, "ends")?.Ints.ToArray();
            axesGiven = Attribute(node, "axes")?.Ints.ToArray();
        }
        else
        {
            starts = Input(1);
            ends = Input(2);
            axesGiven = node.Input.Count > 3 && node.Input[3].Length > 0 ? Input(3) : null;
            steps = node.Input.Count > 4 && node.Input[4].Length > 0 ? Input(4) : null;
            if (node.Input.Count > 3 && node.Input[3].Length > 0 && axesGiven is null) return Enumerable.Repeat(-1L, rank).ToArray();
            if (node.Input.Count > 4 && node.Input[4].Length > 0 && steps is null) return Enumerable.Repeat(-1L, rank).ToArray();
        }
        if (starts is null || ends is null || starts.Length != ends.Length) return Enumerable.Repeat(-1L, rank).ToArray();
        axesGiven ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        if (axesGiven.Length != starts.Length || steps.Length != starts.Length) return Enumerable.Repeat(-1L, rank).ToArray();
        var output = (long[])shape.Clone();
        for (int i = 0; i < starts.Length; i++)
        {
            long axis = axesGiven[i] < 0 ? axesGiven[i] + rank : axesGiven[i];
            if (axis < 0 || axis >= rank) return Enumerable.Repeat(-1L, rank).ToArray();
            long dim = shape[axis];
            if (dim < 0 || steps[i] == 0) { output[axis] = -1; continue; }
            long step = steps[i];
            long begin = starts[i] < 0 ? starts[i] + dim : starts[i];
            long end = ends[i] < 0 ? ends[i] + dim : ends[i];
            if (step > 0)
            {
                begin = Math.Clamp(begin, 0, dim);
                end = Math.Clamp(end, 0, dim);
                output[axis] = end > begin ? (end - begin + step - 1) / step : 0;
            }
            else
            {
                begin = Math.Clamp(begin, 0, dim - 1);
                end = Math.Clamp(end, -1, dim - 1);
                output[axis] = begin > end ? (begin - end - step - 1) / -step : 0;
            }
        }
        return output;

        long[]? Input(int i) => node.Input.Count > i && node.Input[i].Length > 0 ? index.ConstantInts(consumer.Graph, node.Input[i]) : null;
    }

    private static long Product(long[] dims, int from, int to)
    {
        long product = 1;
        for (int i = from; i < to; i++)
        {
            if (dims[i] < 0) return -1;
            product *= dims[i];
        }
        return product;
    }

    private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    /// <summary>
    /// Who reads each value, and which constant each name holds, built once per model: each node input is filed under the
    /// graph that defines the name it reads (its own, or the nearest enclosing one: outer-scope reads from subgraphs).
    /// </summary>
    private sealed class GraphIndex
    {
        private readonly Dictionary<GraphProto, Scope> _scopes = new(ReferenceEqualityComparer.Instance);
        private readonly OnnxModel _model;

        public GraphIndex(OnnxModel model)
        {
            _model = model;
            foreach (var graph in model.Graphs())
            {
                var scope = new Scope(graph, graph.Parent is null ? null : _scopes[graph.Parent.Proto]);
                _scopes[graph.Proto] = scope;
                foreach (var input in graph.Proto.Input) scope.Inputs.Add(input.Name);
                foreach (var tensor in graph.Proto.Initializer) scope.Initializers.TryAdd(tensor.Name, tensor);
                foreach (var node in graph.Proto.Node)
                    foreach (string output in node.Output)
                        if (output.Length > 0) scope.Producers.TryAdd(output, node);
            }
            foreach (var scope in _scopes.Values)
            {
                foreach (var node in scope.Graph.Proto.Node)
                {
                    for (int i = 0; i < node.Input.Count; i++)
                    {
                        string name = node.Input[i];
                        if (name.Length == 0) continue;
                        var owner = scope.Owner(name);
                        if (owner is null) continue;
                        if (!owner.Consumers.TryGetValue(name, out var list)) owner.Consumers[name] = list = [];
                        list.Add(new OnnxConsumer(scope.Graph, node, i));
                    }
                }
            }
        }

        public IReadOnlyList<OnnxConsumer> ConsumersOf(OnnxGraph graph, string name) =>
            _scopes[graph.Proto].Consumers.TryGetValue(name, out var list) ? list : [];

        /// <summary>The integers a name holds when it is an integer constant (initializer or Constant node) in scope; else null.</summary>
        public long[]? ConstantInts(OnnxGraph graph, string name)
        {
            var owner = _scopes[graph.Proto].Owner(name);
            if (owner is null) return null;
            if (owner.Initializers.TryGetValue(name, out var tensor)) return Ints(tensor, owner.Graph);
            if (!owner.Producers.TryGetValue(name, out var node) || node.OpType != "Constant") return null;
            foreach (var attribute in node.Attribute)
            {
                switch (attribute.Name)
                {
                    case "value" when attribute.T is not null: return Ints(attribute.T, owner.Graph);
                    case "value_ints": return attribute.Ints.ToArray();
                    case "value_int": return [attribute.I];
                }
            }
            return null;
        }

        private long[]? Ints(TensorProto tensor, OnnxGraph graph)
        {
            var type = (OnnxDataType)tensor.DataType;
            if (type is not (OnnxDataType.Int64 or OnnxDataType.Int32) || tensor.Dims.Count > 1) return null;
            var bytes = _model.ReadElementBytes(tensor, graph).Span;
            int size = type == OnnxDataType.Int64 ? 8 : 4;
            var values = new long[bytes.Length / size];
            for (int i = 0; i < values.Length; i++)
                values[i] = size == 8 ? BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]) : BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
            return values;
        }

        private sealed class Scope(OnnxGraph graph, Scope? parent)
        {
            public OnnxGraph Graph { get; } = graph;
            public HashSet<string> Inputs { get; } = new(StringComparer.Ordinal);
            public Dictionary<string, TensorProto> Initializers { get; } = new(StringComparer.Ordinal);
            public Dictionary<string, NodeProto> Producers { get; } = new(StringComparer.Ordinal);
            public Dictionary<string, List<OnnxConsumer>> Consumers { get; } = new(StringComparer.Ordinal);

            /// <summary>The scope that defines <paramref name="name"/> as seen from here: this one, else the nearest enclosing one.</summary>
            public Scope? Owner(string name)
            {
                for (var scope = this; scope is not null; scope = scope.Parent)
                    if (scope.Inputs.Contains(name) || scope.Producers.ContainsKey(name) || scope.Initializers.ContainsKey(name)) return scope;
                return null;
            }

            private Scope? Parent { get; } = parent;
        }
    }
}
