using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>
/// Raising a model's default opset so that ops QuantShell emits exist (Round and Clip with inputs: 11; per-axis
/// DequantizeLinear: 13; 16-bit QuantizeLinear/DequantizeLinear: 21), refused when an op the model already uses changed
/// its inputs or meaning in between. The table lists the changes of the ONNX operator history that are not compatible
/// (attributes that became inputs, changed semantics); it errs on the side of refusing.
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
    /// Raises the default opset to <paramref name="needed"/> when lower, after checking every standard op of the model;
    /// <paramref name="what"/> and <paramref name="advice"/> say in the error, when an op blocks it, what needs the opset and what to do instead.
    /// </summary>
    public static void Raise(OnnxModel model, long needed, string what = "the lowered model",
                             string advice = "lower with fake weights and exact activations, or use at most 8 bits")
    {
        long current = model.DefaultOpset;
        if (current >= needed) return;
        if (Blocker(model, needed) is { } blocker)
            throw new QuantShellException(
                $"{model.Name}: {what} needs opset {needed} (it has {current}), but {blocker} changed its inputs or meaning in between; {advice}.",
                ErrorIds.OnnxOpsetUpgradeBlocked, QuantShellErrorKind.InvalidData, model.Name);
        model.SetDefaultOpset(needed);
        model.Proto.IrVersion = Math.Max(model.Proto.IrVersion, IrVersionFor(needed));
    }

    /// <summary>The first node (as messages name it) whose op changed incompatibly between the model's opset and <paramref name="needed"/>; null when none did.</summary>
    public static string? Blocker(OnnxModel model, long needed)
    {
        long current = model.DefaultOpset;
        if (current >= needed) return null;
        foreach (var graph in model.Graphs())
        {
            foreach (var node in graph.Proto.Node)
            {
                if (!(node.Domain is "" or "ai.onnx")) continue;
                if (IncompatibleChanges.TryGetValue(node.OpType, out var versions) && versions.Any(v => v > current && v <= needed))
                    return graph.Describe(node);
            }
        }
        return null;
    }
}
