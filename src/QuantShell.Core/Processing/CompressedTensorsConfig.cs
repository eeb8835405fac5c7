using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs.Quantize;

namespace QuantShell.Core.Processing;

/// <summary>
/// The <c>quantization_config</c> of a compressed-tensors checkpoint's config.json (docs/model-folders.md): written for
/// the modules QuantShell packed, and read back to dequantize a shard.
/// </summary>
internal static class CompressedTensorsConfig
{
    /// <summary>The compressed-tensors release whose pack-quantized rules QuantShell follows (dense packing of 1-8 bits).</summary>
    public const string FormatVersion = "0.18.0";

    public const string QuantMethod = "compressed-tensors";
    public const string PackQuantized = "pack-quantized";

    /// <summary>
    /// One config group per distinct scheme (bits, symmetric, group size). One scheme targets <c>Linear</c> and lists the
    /// Linear weights left as they were in <c>ignore</c>; several schemes target their modules by exact name.
    /// </summary>
    public static JsonObject Build(IReadOnlyList<CompressedModule> modules, IReadOnlyList<string> ignored)
    {
        var schemes = modules.GroupBy(m => (m.NumBits, m.Symmetric, m.GroupSize)).OrderBy(g => g.Key.NumBits).ThenBy(g => g.Key.Symmetric).ThenBy(g => g.Key.GroupSize ?? 0).ToList();
        var groups = new JsonObject();
        for (int i = 0; i < schemes.Count; i++)
        {
            var (bits, symmetric, groupSize) = schemes[i].Key;
            var targets = schemes.Count == 1 ? new JsonArray("Linear") : new JsonArray(schemes[i].Select(m => (JsonNode)m.Module).OrderBy(m => (string)m!, StringComparer.Ordinal).ToArray());
            groups[$"group_{i}"] = new JsonObject
            {
                ["targets"] = targets,
                ["weights"] = new JsonObject
                {
                    ["num_bits"] = bits,
                    ["type"] = "int",
                    ["symmetric"] = symmetric,
                    ["group_size"] = groupSize,
                    ["strategy"] = groupSize is null ? "channel" : "group",
                    ["block_structure"] = null,
                    ["dynamic"] = false,
                    ["actorder"] = null,
                    ["observer"] = null,
                    ["observer_kwargs"] = new JsonObject(),
                },
                ["input_activations"] = null,
                ["output_activations"] = null,
                ["format"] = PackQuantized,
            };
        }
        return new JsonObject
        {
            ["config_groups"] = groups,
            ["format"] = PackQuantized,
            ["global_compression_ratio"] = null,
            ["ignore"] = new JsonArray(ignored.Distinct().OrderBy(n => n, StringComparer.Ordinal).Select(n => (JsonNode)n).ToArray()),
            ["kv_cache_scheme"] = null,
            ["quant_method"] = QuantMethod,
            ["quantization_status"] = "compressed",
            ["sparsity_config"] = new JsonObject(),
            ["transform_config"] = new JsonObject(),
            ["version"] = FormatVersion,
        };
    }

    /// <summary>The scheme of one packed module, as a config states it.</summary>
    public sealed record Scheme(int NumBits, bool Symmetric, int? GroupSize);

    /// <summary>
    /// Reads a config.json's <c>quantization_config</c> when it is compressed-tensors in the pack-quantized format, else null.
    /// <paramref name="configName"/> names it in errors.
    /// </summary>
    public static Func<string, Scheme?>? Read(JsonObject config, string configName)
    {
        if (config["quantization_config"] is not JsonObject q || (string?)Text(q["quant_method"]) != QuantMethod) return null;
        try
        {
            if ((string?)Text(q["format"]) is { } format && format != PackQuantized)
                throw Invalid(configName, $"its compressed-tensors format is '{format}'; QuantShell reads '{PackQuantized}'.");
            var ignore = (q["ignore"] as JsonArray ?? []).Select(n => Matcher((string)n!)).ToList();
            var groups = new List<(List<Func<string, bool>> Targets, Scheme Scheme)>();
            foreach (var (_, node) in q["config_groups"] as JsonObject ?? throw Invalid(configName, "quantization_config has no config_groups."))
            {
                var group = node as JsonObject ?? throw Invalid(configName, "a config group is not an object.");
                var weights = group["weights"] as JsonObject;
                if (weights is null) continue;
                if ((string?)Text(weights["type"]) is { } type && type != "int")
                    throw Invalid(configName, $"a config group quantizes weights as '{type}'; the pack-quantized layout holds int.");
                int bits = (int)weights["num_bits"]!;
                if (bits < 1 || bits > 8) throw Invalid(configName, $"num_bits {bits} is outside the 1-8 the layout packs.");
                bool symmetric = weights["symmetric"] is JsonNode s ? (bool)s : true;
                int? groupSize = weights["group_size"] is JsonNode g && (int)g > 0 ? (int)g : null;
                // A module with packed weights is a Linear layer: the class target "Linear" matches it.
                groups.Add(((group["targets"] as JsonArray ?? []).Select(t => (string)t! == "Linear" ? (_ => true) : Matcher((string)t!)).ToList(), new Scheme(bits, symmetric, groupSize)));
            }
            return module =>
            {
                if (ignore.Any(i => i(module))) return null;
                foreach (var (targets, scheme) in groups)
                {
                    if (targets.Any(t => t(module))) return scheme;
                }
                return null;
            };
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or NullReferenceException or ArgumentException or NotSupportedException)
        {
            throw Invalid(configName, $"its quantization_config cannot be read ({ex.Message}).");
        }
    }

    private static JsonNode? Text(JsonNode? node) => node;

    // "re:" targets are regular expressions matched from the start of the name; the config is data, so matching never backtracks.
    private static Func<string, bool> Matcher(string target)
    {
        if (!target.StartsWith("re:", StringComparison.Ordinal)) return module => module == target;
        var regex = new Regex("^(?:" + target[3..] + ")", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
        return regex.IsMatch;
    }

    private static QuantShellException Invalid(string configName, string problem) =>
        new($"{configName}: {problem}", ErrorIds.ModelFolderInvalid, QuantShellErrorKind.InvalidData, configName);
}
