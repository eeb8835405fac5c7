using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>
/// Raising a model's default opset so that ops QuantShell emits exist (QuantizeLinear: 10; Round and Clip with inputs:
/// 11; per-axis DequantizeLinear: 13; 16-bit QuantizeLinear/DequantizeLinear: 21). The ops of the model whose inputs or
/// meaning changed in between (the table lists the changes of the ONNX operator history that are not compatible) are
/// rewritten to their new form where the change only moved attributes into inputs — Slice (10), TopK (10), Clip (11),
/// Pad (11), Dropout (12, as Identity), Squeeze, Unsqueeze, Split, ReduceSum (13), the other Reduce ops (18),
/// BatchNormalization (9 and 14, inference form) — and refused otherwise (<see cref="ErrorIds.OnnxOpsetUpgradeBlocked"/>,
/// nothing changed). Softmax, LogSoftmax and Hardmax change meaning at 13 unless their axis is the last one.
/// </summary>
internal static class OpsetUpgrade
{
    private static readonly Dictionary<string, int[]> IncompatibleChanges = new(StringComparer.Ordinal)
    {
        ["BatchNormalization"] = [9, 14],
        ["Clip"] = [11],
        ["Dropout"] = [12],
        ["GroupNormalization"] = [21],
        ["Hardmax"] = [13],
        ["LogSoftmax"] = [13],
        ["Pad"] = [11],
        ["ReduceL1"] = [18], ["ReduceL2"] = [18], ["ReduceLogSum"] = [18], ["ReduceLogSumExp"] = [18],
        ["ReduceMax"] = [18], ["ReduceMean"] = [18], ["ReduceMin"] = [18], ["ReduceProd"] = [18],
        ["ReduceSum"] = [13], ["ReduceSumSquare"] = [18],
        ["Resize"] = [11],
        ["Scan"] = [9],
        ["Slice"] = [10],
        ["Softmax"] = [13],
        ["Split"] = [13],
        ["Squeeze"] = [13],
        ["TopK"] = [10],
        ["Unsqueeze"] = [13],
        ["Upsample"] = [10],
    };

    /// <summary>The IR version a default opset needs (ONNX's versioning table).</summary>
    public static long IrVersionFor(long opset) => opset switch
    {
        >= 21 => 10,
        >= 19 => 9,
        >= 15 => 8,
        >= 13 => 7,
        >= 12 => 7,
        >= 11 => 6,
        >= 10 => 5,
        _ => 3,
    };

    /// <summary>
    /// Raises the default opset to <paramref name="needed"/> when lower: every standard op whose form changed in between is
    /// checked first and rewritten only if all of them can be; otherwise nothing changes and the error says what needs the
    /// opset (<paramref name="what"/>) and what to do instead (<paramref name="advice"/>).
    /// </summary>
    public static void Raise(OnnxModel model, long needed, string what = "the lowered model",
                             string advice = "lower with fake weights and exact activations, use at most 8 bits, or convert the model to a newer opset first")
    {
        long current = model.DefaultOpset;
        if (current >= needed) return;
        var rewrites = Plan(model, needed, out var blocker);
        if (blocker is not null)
            throw new QuantShellException(
                $"{model.Name}: {what} needs opset {needed} (it has {current}), but {blocker} changed its inputs or meaning in between " +
                $"in a way QuantShell does not rewrite; {advice}.",
                ErrorIds.OnnxOpsetUpgradeBlocked, QuantShellErrorKind.InvalidData, model.Name);
        foreach (var rewrite in rewrites) rewrite();
        model.SetDefaultOpset(needed);
        model.Proto.IrVersion = Math.Max(model.Proto.IrVersion, IrVersionFor(needed));
    }

    /// <summary>
    /// The first node (as messages name it) that keeps the opset from being raised to <paramref name="needed"/>: its op
    /// changed incompatibly in between and cannot be rewritten, or, without <paramref name="rewrites"/>, changed at all
    /// (a caller with another way to do its work leaves the model's nodes as they are); null when none does.
    /// </summary>
    public static string? Blocker(OnnxModel model, long needed, bool rewrites = true)
    {
        var planned = Plan(model, needed, out var blocker);
        if (blocker is not null || rewrites || planned.Count == 0) return blocker;
        return FirstChanged(model, needed);
    }

    private static string? FirstChanged(OnnxModel model, long needed)
    {
        long current = model.DefaultOpset;
        foreach (var graph in model.Graphs())
            foreach (var node in graph.Proto.Node)
                if (node.Domain is "" or "ai.onnx" && IncompatibleChanges.TryGetValue(node.OpType, out var versions) && versions.Any(v => v > current && v <= needed))
                    return graph.Describe(node);
        return null;
    }

    /// <summary>The rewrites raising the opset to <paramref name="needed"/> takes, or the first node none can be made for.</summary>
    private static List<Action> Plan(OnnxModel model, long needed, out string? blocker)
    {
        blocker = null;
        var rewrites = new List<Action>();
        long current = model.DefaultOpset;
        if (current >= needed) return rewrites;
        OnnxValueTypes? types = null;
        foreach (var graph in model.Graphs())
        {
            foreach (var node in graph.Proto.Node)
            {
                if (!(node.Domain is "" or "ai.onnx")) continue;
                if (!IncompatibleChanges.TryGetValue(node.OpType, out var versions) || !versions.Any(v => v > current && v <= needed)) continue;
                var rewrite = Rewrite(model, graph, node, current, needed, () => types ??= OnnxValueTypes.Infer(model));
                if (rewrite is null)
                {
                    blocker = graph.Describe(node);
                    return rewrites;
                }
                rewrites.Add(rewrite);
            }
        }
        return rewrites;
    }

    /// <summary>The rewrite of a node into its form at <paramref name="needed"/>, or null when its meaning changed.</summary>
    private static Action? Rewrite(OnnxModel model, OnnxGraph graph, NodeProto node, long current, long needed, Func<OnnxValueTypes> types)
    {
        AttributeProto? Attribute(string name) => node.Attribute.FirstOrDefault(a => a.Name == name);
        bool Crosses(int version) => current < version && needed >= version;
        switch (node.OpType)
        {
            case "Slice":
                // 1: starts, ends, axes attributes; 10: inputs (steps optional).
                var starts = Attribute("starts");
                var ends = Attribute("ends");
                if (starts is null || ends is null) return null;
                var axes = Attribute("axes");
                return () =>
                {
                    node.Input.Add(Int64s(model, graph, node, "starts", starts.Ints));
                    node.Input.Add(Int64s(model, graph, node, "ends", ends.Ints));
                    if (axes is not null) node.Input.Add(Int64s(model, graph, node, "axes", axes.Ints));
                    Remove(node, "starts", "ends", "axes");
                };
            case "TopK":
                var k = Attribute("k");
                if (k is null) return null;
                return () =>
                {
                    node.Input.Add(Int64s(model, graph, node, "k", [k.I]));
                    Remove(node, "k");
                };
            case "Clip":
            {
                // 6: min and max attributes (float, default the float range); 11: inputs of the input's type.
                var type = types().Of(graph, node.Input[0]);
                if (type is not (OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.Double)) return null;
                var min = Attribute("min");
                var max = Attribute("max");
                return () =>
                {
                    node.Input.Add(min is null ? "" : Scalar(model, graph, node, "min", type, min.F));
                    if (max is not null) node.Input.Add(Scalar(model, graph, node, "max", type, max.F));
                    while (node.Input.Count > 1 && node.Input[^1].Length == 0) node.Input.RemoveAt(node.Input.Count - 1);
                    Remove(node, "min", "max");
                };
            }
            case "Pad":
            {
                // 2: pads and value attributes; 11: inputs (mode stays an attribute).
                var pads = Attribute("pads");
                if (pads is null) return null;
                var value = Attribute("value");
                var type = types().Of(graph, node.Input[0]);
                if (value is not null && value.F != 0 && type is not (OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.Double)) return null;
                return () =>
                {
                    node.Input.Add(Int64s(model, graph, node, "pads", pads.Ints));
                    if (value is not null && value.F != 0) node.Input.Add(Scalar(model, graph, node, "value", type, value.F));
                    Remove(node, "pads", "value");
                };
            }
            case "Dropout":
                // An inference run passes the data through: Identity, when the mask output is not used.
                if (node.Output.Count > 1 && node.Output.Skip(1).Any(o => o.Length > 0)) return null;
                return () =>
                {
                    node.OpType = "Identity";
                    while (node.Input.Count > 1) node.Input.RemoveAt(node.Input.Count - 1);
                    node.Attribute.Clear();
                };
            case "Squeeze" or "Unsqueeze" or "Split" or "ReduceSum" or "ReduceL1" or "ReduceL2" or "ReduceLogSum" or "ReduceLogSumExp" or "ReduceMax"
                or "ReduceMean" or "ReduceMin" or "ReduceProd" or "ReduceSumSquare":
            {
                // Their axes (Split: split) moved from an attribute to the second input.
                string name = node.OpType == "Split" ? "split" : "axes";
                var values = Attribute(name);
                if (node.OpType == "Unsqueeze" && values is null) return null;
                if (node.Input.Count > 1) return null;
                return () =>
                {
                    if (values is not null) node.Input.Add(Int64s(model, graph, node, name, values.Ints));
                    Remove(node, name);
                };
            }
            case "BatchNormalization":
                // 9 dropped 'spatial' (1 was the only per-channel meaning); 14 added training outputs: inference has one output.
                var spatial = Attribute("spatial");
                if (Crosses(9) && spatial is not null && spatial.I != 1) return null;
                if (Crosses(14) && node.Output.Count > 1 && node.Output.Skip(1).Any(o => o.Length > 0)) return null;
                return () =>
                {
                    Remove(node, "spatial", "is_test", "consumed_inputs");
                    while (node.Output.Count > 1) node.Output.RemoveAt(node.Output.Count - 1);
                };
            case "Softmax" or "LogSoftmax" or "Hardmax":
                // Before 13 these flattened the input at 'axis' (default 1); from 13 they work along 'axis' (default -1). The
                // same only along the last axis.
                return Attribute("axis")?.I == -1 ? () => { } : null;
            default:
                return null;
        }
    }

    private static void Remove(NodeProto node, params string[] names)
    {
        foreach (var attribute in node.Attribute.Where(a => names.Contains(a.Name)).ToList()) node.Attribute.Remove(attribute);
    }

    private static string Int64s(OnnxModel model, OnnxGraph graph, NodeProto node, string what, IEnumerable<long> values)
    {
        var list = values.ToArray();
        var bytes = new byte[list.Length * 8];
        for (int i = 0; i < list.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(8 * i), list[i]);
        string name = model.NewName($"{(node.Name.Length > 0 ? node.Name : node.Output[0])}/{what}");
        graph.Proto.Initializer.Add(OnnxTensorCodec.Tensor(name, OnnxDataType.Int64, [list.Length], bytes));
        return name;
    }

    private static string Scalar(OnnxModel model, OnnxGraph graph, NodeProto node, string what, OnnxDataType type, float value)
    {
        byte[] bytes = type switch
        {
            OnnxDataType.Double => BitConverter.GetBytes((double)value),
            OnnxDataType.Float16 => BitConverter.GetBytes((Half)value),
            _ => BitConverter.GetBytes(value),
        };
        string name = model.NewName($"{(node.Name.Length > 0 ? node.Name : node.Output[0])}/{what}");
        graph.Proto.Initializer.Add(OnnxTensorCodec.Tensor(name, type, [], bytes));
        return name;
    }
}
