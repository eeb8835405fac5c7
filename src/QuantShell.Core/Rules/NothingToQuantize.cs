using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;

namespace QuantShell.Core.Rules;

/// <summary>
/// Why no tensor of a model file is quantized, for the warning quantize, measure and inspect give: an ONNX model's graph
/// says it best (already quantized, no weight read by Conv/Gemm/MatMul/LSTM, ...); otherwise the skipped tensors are
/// counted by why they were skipped.
/// </summary>
internal static class NothingToQuantize
{
    /// <summary>The reason, given how <paramref name="policy"/> decided every tensor of <paramref name="file"/> (none quantized).</summary>
    public static string Why(TensorFile file, TensorPolicy policy, IEnumerable<string?> skipCategories)
    {
        if (file.Tensors.Count == 0) return "the file holds no tensors";
        if (policy.Rules is null && file is OnnxTensorFile { Survey.NothingToQuantize: { } graphSays }) return graphSays;
        if (policy.Rules is null && IntCodes(file) is { } codes) return codes;
        return Why(file.Tensors.Count, policy, skipCategories);
    }

    /// <summary>
    /// A file the int format wrote (its quantization record names the tensors it holds as codes): it has no float weights
    /// left, and dequantizing it gives them back. Null for any other file (or a record that cannot be read).
    /// </summary>
    private static string? IntCodes(TensorFile file)
    {
        if (!file.Metadata.TryGetValue(TensorFiles.RecordKey, out string? json)) return null;
        Jobs.Quantize.QuantizationRecord record;
        try
        {
            record = Jobs.Quantize.QuantizationRecord.Parse(json, file.Name);
        }
        catch (Errors.QuantShellException)
        {
            return null;
        }
        // A fake-quantized file's record names float tensors: nothing quantized there has its own reasons.
        if (record.Format != Jobs.Quantize.OutputFormat.Int) return null;
        int count = record.Tensors.Count;
        return $"no float weights: the file holds the integer codes of {count} tensor{(count == 1 ? "" : "s")}, as the int format writes them; dequantizing it gives their values back";
    }

    /// <summary>The reason for <paramref name="tensorCount"/> tensors (a model folder's, say), counted by why each was skipped.</summary>
    public static string Why(int tensorCount, TensorPolicy policy, IEnumerable<string?> skipCategories)
    {
        string counts = Counts(skipCategories.Select(c => c ?? "skipped"));
        return policy.Rules is not null
            ? $"the rules quantize none of its {tensorCount} tensors ({counts})"
            : $"none of its {tensorCount} tensors is a weight by default ({counts}); give rules to choose others";
    }

    /// <summary>The same, deciding each tensor with <paramref name="policy"/>; null when some tensor would be quantized.</summary>
    public static string? WhyAny(TensorFile file, TensorPolicy policy)
    {
        var decisions = file.Tensors.Select(policy.DeciderFor(file.Name)).ToList();
        return decisions.Any(d => d.Recipe is not null) ? null : Why(file, policy, decisions.Select(d => d.SkipCategory));
    }

    /// <summary>"12 int64 values (not floating), 3 read by no operator": most first.</summary>
    public static string Counts(IEnumerable<string> categories) =>
        string.Join(", ", Group(categories).Select(c => $"{c.Count} {c.Reason}"));

    public static IReadOnlyList<Jobs.Quantize.SkipCount> Group(IEnumerable<string> categories) =>
        categories.GroupBy(c => c, StringComparer.Ordinal).Select(g => new Jobs.Quantize.SkipCount(g.Key, g.Count()))
                  .OrderByDescending(c => c.Count).ThenBy(c => c.Reason, StringComparer.Ordinal).ToList();
}
