using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Kernels;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>
/// Replaces every <c>mct_quantizers</c> node of a model by standard ONNX (see <see cref="WeightsForm"/> and
/// <see cref="ActivationsForm"/>), removes the domain's opset import and raises the default opset only where an emitted
/// op needs it. Weights are quantized by <see cref="InferableQuantizer.Create"/> and its plan: the same kernel as
/// every other path, so a fake-quantized weight equals MCT's bit for bit.
/// </summary>
public sealed class MctLowering
{
    /// <summary>The domain of MCT's custom quantizer ops.</summary>
    public const string Domain = MctQuantizerNode.Domain;

    private readonly OnnxModel _model;
    private readonly WeightsForm _weights;
    private readonly ActivationsForm _activations;
    private readonly List<LoweredNode> _lowered = [];

    private MctLowering(OnnxModel model, WeightsForm weights, ActivationsForm activations)
    {
        _model = model;
        _weights = weights;
        _activations = activations;
    }

    /// <summary>Lowers the model in place and returns what each quantizer node became. Nothing is written.</summary>
    public static IReadOnlyList<LoweredNode> Lower(OnnxModel model, WeightsForm weights, ActivationsForm activations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        model.CheckOperatorDomains([MctQuantizerNode.Domain]);
        foreach (var function in model.Proto.Functions)
        {
            if (function.Node.Any(MctQuantizerNode.IsMctNode))
                throw new QuantShellException($"{model.Name}: function '{function.Domain}.{function.Name}' holds mct_quantizers nodes; QuantShell lowers them in graphs only.",
                    ErrorIds.MctQuantizerNodeInvalid, QuantShellErrorKind.InvalidData, model.Name);
        }
        // Every node is read (and its quantizer checked) before the model is changed at all.
        var nodes = model.Graphs().ToList()
            .SelectMany(graph => graph.Proto.Node.Where(MctQuantizerNode.IsMctNode).ToList().Select(node => MctQuantizerNode.Read(model, graph, node)))
            .ToList();
        var lowering = new MctLowering(model, weights, activations);
        OpsetUpgrade.Raise(model, nodes.Select(lowering.OpsetNeeded).DefaultIfEmpty(0).Max());
        foreach (var node in nodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (node.IsWeights) lowering.LowerWeights(node);
            else lowering.LowerActivation(node);
        }
        foreach (var graph in model.Graphs()) RemoveStaleValueInfo(graph);
        model.RemoveOpsetImport(MctQuantizerNode.Domain);
        return lowering._lowered;
    }

    /// <summary>The default opset the replacement of a node needs.</summary>
    private long OpsetNeeded(MctQuantizerNode node)
    {
        bool wide = node.Spec.NumBits > 8;
        if (node.IsWeights)
        {
            if (_weights == WeightsForm.Fake) return 0;
            if (node.Spec.IsLut) return 11;
            return wide ? 21 : node.Spec.PerChannel ? 13 : 10;
        }
        if (_activations == ActivationsForm.Exact) return 11;
        return wide ? 21 : 11;
    }

    // ---- weights ----

    private void LowerWeights(MctQuantizerNode node)
    {
        var graph = node.Graph;
        var tensor = MctQuantizerNode.ConstantTensor(graph, node.Input)
            ?? throw Invalid(node, $"input 0 '{node.Input}' is not a constant weight (an initializer or a Constant node's output).");
        var type = (OnnxDataType)tensor.DataType;
        if (!OnnxDataTypes.IsQuantizable(type))
            throw Invalid(node, $"weight '{node.Input}' is {OnnxDataTypes.Name(type)}; only float16, bfloat16, float32 and float64 weights are quantized.");
        var quantizer = Create(node);
        if (_weights == WeightsForm.Fake && type == OnnxDataType.Float && tensor.HasRawData)
        {
            // The common case without copies: the kernel reads the parsed bytes and writes the initializer's new bytes.
            var fastPlan = PlanFor(quantizer, tensor.Dims.ToArray(), node);
            var source = MemoryMarshal.Cast<byte, float>(tensor.RawData.Span);
            var raw = new byte[tensor.RawData.Length];
            var stats = new KernelStats();
            fastPlan.Apply<float>(source, MemoryMarshal.Cast<byte, float>(raw.AsSpan()), 0, ref stats);
            if (stats.NonFinite > 0)
                throw NonFiniteInput.Create($"{_model.Name}: weight '{node.Input}'", stats.NonFinite, NonFiniteInput.Unravel(NonFiniteInput.IndexOf(source), fastPlan.Shape));
            LowerWeightsFake(node, tensor, type, raw, fastPlan);
            return;
        }
        var values = _model.ReadValues(tensor, graph);
        var plan = PlanFor(quantizer, values.Shape, node);
        var quantized = Quantize(values, plan, $"{_model.Name}: weight '{node.Input}'");
        if (_weights == WeightsForm.Fake)
        {
            LowerWeightsFake(node, tensor, type, Encode(quantized, type), plan);
            return;
        }
        if (type != OnnxDataType.Float)
            throw Invalid(node, $"weight '{node.Input}' is {OnnxDataTypes.Name(type)}; the qdq form is written for float32 weights (lower this model with fake weights).");
        LowerWeightsQdq(node, (float[])values.Data, plan);
    }

    private void LowerWeightsFake(MctQuantizerNode node, TensorProto tensor, OnnxDataType type, byte[] quantized, QuantizationPlan plan)
    {
        var graph = node.Graph;
        var owner = graph.ResolveInitializer(node.Input);
        // The initializer keeps its name (so it compares with MCT's weights by name) when nothing else reads the float weight.
        bool inPlace = owner is { } o && _model.ConsumersOf(o.Graph, node.Input).Count == 1 && !o.Graph.IsOutput(node.Input)
                       && !o.Graph.Proto.Input.Any(i => i.Name == node.Input) && !graph.IsOutput(node.Output);
        string output;
        if (inPlace)
        {
            _model.SetRawData(tensor, quantized);
            RenameUses(graph, node.Output, node.Input);
            output = node.Input;
        }
        else
        {
            graph.Proto.Initializer.Add(OnnxTensorCodec.Tensor(node.Output, type, plan.Shape, quantized));
            output = node.Output;
        }
        Replace(node, []);
        if (!inPlace) RemoveIfUnused(graph, node.Input); // a Constant node's weight, or a shared one (kept while read)
        Record(node, LoweredForm.Fake, output, plan, storage: null);
    }

    /// <summary>Integer codes and the standard nodes that compute the weight from them (<see cref="OnnxQdqWeights"/>).</summary>
    private void LowerWeightsQdq(MctQuantizerNode node, float[] values, QuantizationPlan plan)
    {
        var codes = new int[values.Length];
        plan.Encode<float>(values, codes, 0);
        var storage = OnnxQdqWeights.StorageDType(plan);
        var codeBytes = new byte[codes.Length * storage.ItemSize];
        ModelQuantizer.WriteCodes(codes, storage, codeBytes);
        string nodeStem = node.Node.Name.Length > 0 ? node.Node.Name : node.Output;
        var emitted = OnnxQdqWeights.Emit(_model, node.Graph, WeightStem(node), node.Output, nodeStem, plan, node.Spec, codeBytes);
        Replace(node, emitted.Nodes);
        RemoveIfUnused(node.Graph, node.Input);
        Record(node, emitted.Gather ? LoweredForm.Gather : LoweredForm.Qdq, node.Output, plan, emitted.Storage, emitted.Scale,
               emitted.Gather ? null : emitted.ZeroPoint);
    }

    // ---- activations ----

    private void LowerActivation(MctQuantizerNode node)
    {
        var quantizer = Create(node) as GridQuantizer ?? throw Invalid(node, $"{node.Spec.Method} activations have no integer grid to lower.");
        var p = quantizer.Parameters;
        string stem = node.Node.Name.Length > 0 ? node.Node.Name : node.Output;
        float[] scale = [p.Scales[0]];
        int[] zero = [p.ZeroPoints[0]];
        if (_activations == ActivationsForm.Exact)
        {
            Replace(node, OnnxActivationNodes.Exact(_model, node.Graph, node.Input, node.Output, stem, p));
            Record(node, LoweredForm.Exact, node.Output, null, null, scale, zero);
            return;
        }
        var (nodes, storage) = OnnxActivationNodes.Qdq(_model, node.Graph, node.Input, node.Output, stem, p);
        Replace(node, nodes);
        Record(node, LoweredForm.Qdq, node.Output, null, storage, scale, zero);
    }

    // ---- helpers ----

    private InferableQuantizer Create(MctQuantizerNode node)
    {
        try
        {
            return InferableQuantizer.Create(node.Spec);
        }
        catch (QuantizerValidationException ex)
        {
            throw ex.WithSource(node.Where);
        }
    }

    private static QuantizationPlan PlanFor(InferableQuantizer quantizer, long[] shape, MctQuantizerNode node) =>
        quantizer.CreatePlan(shape, $"{node.Where}, weight '{node.Input}'");

    /// <summary>The plan applied to an array of any float type (float16 computed in float32 and rounded back).</summary>
    private static NpyArray Quantize(NpyArray values, QuantizationPlan plan, string where)
    {
        var stats = new KernelStats();
        NpyArray result;
        switch (values.Data)
        {
            case double[] d:
            {
                var y = new double[d.Length];
                plan.Apply<double>(d, y, 0, ref stats);
                result = new NpyArray(values.Shape, y);
                break;
            }
            case Half[] h:
            {
                var x = Array.ConvertAll(h, v => (float)v);
                var y = new float[x.Length];
                plan.Apply<float>(x, y, 0, ref stats);
                result = new NpyArray(values.Shape, Array.ConvertAll(y, v => (Half)v));
                break;
            }
            default:
            {
                var x = (float[])values.Data;
                var y = new float[x.Length];
                plan.Apply<float>(x, y, 0, ref stats);
                result = new NpyArray(values.Shape, y);
                break;
            }
        }
        if (stats.NonFinite > 0)
        {
            long first = values.Data switch
            {
                double[] d => Array.FindIndex(d, v => !double.IsFinite(v)),
                Half[] h => Array.FindIndex(h, v => !Half.IsFinite(v)),
                float[] f => Array.FindIndex(f, v => !float.IsFinite(v)),
                _ => 0,
            };
            throw NonFiniteInput.Create(where, stats.NonFinite, NonFiniteInput.Unravel(first, values.Shape));
        }
        return result;
    }

    private static byte[] Encode(NpyArray values, OnnxDataType type) =>
        type == OnnxDataType.BFloat16 ? OnnxTensorCodec.EncodeFloats((float[])values.Data, type) : OnnxTensorCodec.Encode(values);

    private string WeightStem(MctQuantizerNode node) => node.Graph.ResolveInitializer(node.Input) is not null ? node.Input : node.Output;

    /// <summary>Puts <paramref name="replacement"/> where the quantizer node was (keeping topological order), then drops its now unused constant inputs.</summary>
    private void Replace(MctQuantizerNode node, IReadOnlyList<NodeProto> replacement)
    {
        var nodes = node.Graph.Proto.Node;
        int index = nodes.IndexOf(node.Node);
        nodes.RemoveAt(index);
        for (int i = 0; i < replacement.Count; i++) nodes.Insert(index + i, replacement[i]);
        foreach (string name in node.ValueInputs) RemoveIfUnused(node.Graph, name);
    }

    /// <summary>Removes a constant (Constant node or initializer, in this graph or an enclosing one) that nothing reads any more.</summary>
    private void RemoveIfUnused(OnnxGraph graph, string name)
    {
        for (var g = graph; g is not null; g = g.Parent)
        {
            var producer = g.Producer(name);
            var initializer = producer is null ? g.FindInitializer(name) : null;
            if (producer is null && initializer is null) continue;
            if (g.IsOutput(name) || _model.ConsumersOf(g, name).Count > 0) return;
            if (producer is not null)
            {
                if (producer.OpType == "Constant" && producer.Output.Count == 1) g.Proto.Node.Remove(producer);
            }
            else if (!g.Proto.Input.Any(i => i.Name == name))
            {
                g.Proto.Initializer.Remove(initializer!);
            }
            return;
        }
    }

    /// <summary>Points every reader of <paramref name="from"/> (in the graph and the subgraphs that see it) at <paramref name="to"/>.</summary>
    private static void RenameUses(OnnxGraph graph, string from, string to)
    {
        foreach (var node in graph.Proto.Node)
        {
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == from) node.Input[i] = to;
            foreach (var sub in OnnxModel.Subgraphs(graph, node))
                if (!sub.Defines(from)) RenameUses(sub, from, to);
        }
    }

    /// <summary>Drops value_info entries of values that no longer exist (the quantizer nodes' outputs that were renamed away).</summary>
    private static void RemoveStaleValueInfo(OnnxGraph graph)
    {
        var names = new HashSet<string>(graph.Proto.Node.SelectMany(n => n.Output), StringComparer.Ordinal);
        names.UnionWith(graph.Proto.Input.Select(i => i.Name));
        names.UnionWith(graph.Proto.Initializer.Select(t => t.Name));
        var stale = graph.Proto.ValueInfo.Where(v => !names.Contains(v.Name)).ToList();
        foreach (var value in stale) graph.Proto.ValueInfo.Remove(value);
    }

    private void Record(MctQuantizerNode node, LoweredForm form, string output, QuantizationPlan? plan, OnnxDataType? storage, float[]? scale = null, int[]? zeroPoint = null)
    {
        int channels = plan?.ChannelAxis is null ? 1 : plan.Channels;
        _lowered.Add(new LoweredNode
        {
            NodeName = node.Node.Name,
            OpType = node.Node.OpType,
            Graph = node.Graph.Path,
            Target = node.Spec.Target,
            Form = form,
            Input = node.Input,
            Output = output,
            Quantizer = node.Spec,
            Shape = plan?.Shape,
            ChannelAxis = plan?.ChannelAxis,
            StorageType = storage is null ? null : OnnxDataTypes.Name(storage.Value),
            Scale = scale ?? (plan is null ? [] : Enumerable.Range(0, channels).Select(c => (float)plan.ScaleOf(c)).ToArray()),
            ZeroPoint = zeroPoint ?? (plan is null ? [] : Enumerable.Range(0, channels).Select(plan.ZeroPointOf).ToArray()),
            MctqVersion = node.Version,
        });
    }

    private static QuantShellException Invalid(MctQuantizerNode node, string problem) =>
        new($"{node.Where}: {problem}", ErrorIds.MctQuantizerNodeInvalid, QuantShellErrorKind.InvalidData, node.Where);
}
