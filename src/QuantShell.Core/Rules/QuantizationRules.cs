using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.IO;
using QuantShell.Core.Selection;
using QuantShell.Core.Serialization;

namespace QuantShell.Core.Rules;

/// <summary>
/// Which tensor of a model file gets which quantizer (docs/model-files.md, "Rules"): a list of rules, the first that matches a
/// tensor's name (a glob: <c>*</c> any run of characters, dots included, <c>?</c> one character, case-sensitive) and rank
/// decides; <c>skip</c> copies the tensor unchanged; a quantizer without its threshold, range or table has them chosen
/// from that tensor's data by the rule's <c>errorMethod</c> (default mse). No matching rule: the tensor is copied.
/// </summary>
public sealed class QuantizationRules
{
    private const long MaxFileBytes = 16 << 20;

    private QuantizationRules(IReadOnlyList<QuantizationRule> rules, IReadOnlyList<ActivationRule> activations, string source)
    {
        Rules = rules;
        Activations = activations;
        Source = source;
    }

    public IReadOnlyList<QuantizationRule> Rules { get; }

    /// <summary>
    /// Activation quantizers of an ONNX model's graph values, by name (the <c>activations</c> list that
    /// <c>calibrate</c> writes): quantizing the model puts each one on its value, before every reader.
    /// </summary>
    public IReadOnlyList<ActivationRule> Activations { get; }

    /// <summary>Rules made in code (calibration writes them); checked as a file's are.</summary>
    public static QuantizationRules Create(IReadOnlyList<QuantizationRule> rules, IReadOnlyList<ActivationRule> activations, string source) =>
        Parse(ToJson(rules, activations), source);

    /// <summary>Where the rules came from (a file, or "Rules" for a hashtable), for messages.</summary>
    public string Source { get; }

    /// <summary>Reads a rules file.</summary>
    public static QuantizationRules Read(string path, string? name = null)
    {
        name ??= path;
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new QuantShellException($"{name}: rules file not found.", ErrorIds.RulesFileNotFound, QuantShellErrorKind.NotFound, name);
            long length = IO.FileLength.Of(info);
            if (length > MaxFileBytes) throw Invalid(name, $"is {length} bytes; a rules file is at most {MaxFileBytes}");
            text = File.ReadAllText(path, new UTF8Encoding(false, true));
        }
        catch (DecoderFallbackException) { throw Invalid(name, Formats.TensorFiles.KindOf(path) is { } kind ? $"is {Formats.TensorFiles.Describe(kind)}, not a rules file (JSON)" : "is not valid UTF-8"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex);
        }
        return Parse(text, name);
    }

    /// <summary>The rules file's JSON text (indented), as <see cref="Write"/> writes it.</summary>
    public static string ToJson(IReadOnlyList<QuantizationRule> rules, IReadOnlyList<ActivationRule> activations) =>
        JsonSerializer.Serialize(new RulesFileJson
        {
            Rules = rules.Select(r => new RuleJson
            {
                Match = r.Match, MinRank = r.MinRank, MaxRank = r.MaxRank, Skip = r.Skip ? true : null, Quantizer = r.Quantizer, ErrorMethod = r.ErrorMethod, P = r.P,
            }).ToList(),
            Activations = activations.Count == 0 ? null : activations.Select(a => new ActivationRuleJson { Tensor = a.Tensor, Quantizer = a.Quantizer }).ToList(),
        }, QuantShellJson.Indented.RulesFileJson);

    /// <summary>Writes these rules as a rules file, atomically; an existing file is replaced only with <see cref="WriteOptions.Force"/>.</summary>
    public void Write(string path, WriteOptions options, string? name = null)
    {
        byte[] bytes = new UTF8Encoding(false).GetBytes(ToJson(Rules, Activations) + "\n");
        AtomicFile.Write(path, options, stream => stream.Write(bytes), name);
    }

    /// <summary>Parses rules JSON (a file's text, or a hashtable serialized by a face); <paramref name="source"/> names it in errors.</summary>
    public static QuantizationRules Parse(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            throw Invalid(source, $"is not valid JSON ({ex.Message})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !TryGet(root, "rules", out var list) || list.ValueKind != JsonValueKind.Array)
                throw Invalid(source, "must be an object with a \"rules\" list: {\"rules\": [{\"match\": \"*.weight\", \"quantizer\": {...}}]}");
            foreach (var property in root.EnumerateObject())
            {
                if (!FileFields.Contains(property.Name, StringComparer.OrdinalIgnoreCase))
                    throw Invalid(source, $"unknown field '{property.Name}' (allowed: {string.Join(", ", FileFields)})");
            }
            var rules = new List<QuantizationRule>();
            int index = 0;
            foreach (var element in list.EnumerateArray())
                rules.Add(ParseRule(element, $"{source}: rule {index++}"));
            var activations = new List<ActivationRule>();
            if (TryGet(root, "activations", out var activationList))
            {
                if (activationList.ValueKind != JsonValueKind.Array)
                    throw Invalid(source, "\"activations\" must be a list: [{\"tensor\": \"conv1_input\", \"quantizer\": {...}}]");
                index = 0;
                foreach (var element in activationList.EnumerateArray())
                {
                    var activation = ParseActivation(element, $"{source}: activation {index++}");
                    if (activations.Any(a => a.Tensor == activation.Tensor))
                        throw Invalid($"{source}: activation {index - 1}", $"names tensor '{activation.Tensor}' again");
                    activations.Add(activation);
                }
            }
            return new QuantizationRules(rules, activations, source);
        }
    }

    private static readonly string[] FileFields = ["rules", "activations"];

    private static readonly string[] RuleFields = ["match", "minRank", "maxRank", "skip", "quantizer", "errorMethod", "p", "search"];

    private static readonly string[] ActivationFields = ["tensor", "quantizer"];

    private static ActivationRule ParseActivation(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Invalid(where, "must be an object");
        foreach (var property in element.EnumerateObject())
        {
            if (!ActivationFields.Contains(property.Name, StringComparer.OrdinalIgnoreCase))
                throw Invalid(where, $"unknown field '{property.Name}' (allowed: {string.Join(", ", ActivationFields)})");
        }
        if (!TryGet(element, "tensor", out var tensor) || tensor.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(tensor.GetString()))
            throw Invalid(where, "needs \"tensor\": the name of a value of the model's graph");
        if (!TryGet(element, "quantizer", out var quantizer))
            throw Invalid(where, "needs a \"quantizer\"");
        string name = tensor.GetString()!;
        string source = $"{where} ('{name}')";
        var spec = QuantizerFile.FromElement(quantizer, source, requireValues: true);
        if (spec.Target != QuantizationTarget.Activation)
            throw Invalid(source, $"its quantizer must be an activation quantizer (\"target\": \"activation\") but is for {EnumNames.Json(spec.Target)}");
        try
        {
            InferableQuantizer.Create(spec);
        }
        catch (QuantizerValidationException ex)
        {
            throw new QuantShellException($"{source}: {ex.Message}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, source, ex);
        }
        return new ActivationRule { Tensor = name, Quantizer = spec };
    }

    private static QuantizationRule ParseRule(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object) throw Invalid(where, "must be an object");
        foreach (var property in element.EnumerateObject())
        {
            if (!RuleFields.Contains(property.Name, StringComparer.OrdinalIgnoreCase))
                throw Invalid(where, $"unknown field '{property.Name}' (allowed: {string.Join(", ", RuleFields)})");
        }
        if (!TryGet(element, "match", out var match) || match.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(match.GetString()))
            throw Invalid(where, "needs \"match\": a glob on tensor names such as \"*.weight\"");
        bool skip = TryGet(element, "skip", out var skipElement) && skipElement.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Invalid(where, $"\"skip\" must be true or false but is {skipElement.GetRawText()}"),
        };
        QuantizerSpec? spec = null;
        if (TryGet(element, "quantizer", out var quantizer))
            spec = QuantizerFile.FromElement(quantizer, where, requireValues: false);
        if (skip == (spec is not null))
            throw Invalid(where, skip ? "gives both \"skip\": true and a quantizer" : "needs a \"quantizer\" or \"skip\": true");
        ErrorMethod? errorMethod = null;
        if (TryGet(element, "errorMethod", out var method))
        {
            errorMethod = method.ValueKind == JsonValueKind.String ? EnumNames.TryParse<ErrorMethod>(method.GetString()) : null;
            if (errorMethod is null)
                throw Invalid(where, $"\"errorMethod\" must be one of {string.Join(", ", EnumNames.All<ErrorMethod>(EnumNames.Json))} but is {method.GetRawText()}");
        }
        SelectionSearch? search = null;
        if (TryGet(element, "search", out var searchElement))
        {
            search = searchElement.ValueKind == JsonValueKind.String ? EnumNames.TryParse<SelectionSearch>(searchElement.GetString()) : null;
            if (search is null)
                throw Invalid(where, $"\"search\" must be one of {string.Join(", ", EnumNames.All<SelectionSearch>(EnumNames.Json))} but is {searchElement.GetRawText()}");
        }
        double? p = TryGet(element, "p", out var pElement) ? pElement.ValueKind == JsonValueKind.Number ? pElement.GetDouble() : throw Invalid(where, "\"p\" must be a number") : null;
        var rule = new QuantizationRule
        {
            Match = match.GetString()!,
            MinRank = Rank(element, "minRank", where),
            MaxRank = Rank(element, "maxRank", where),
            Skip = skip,
            Quantizer = spec,
            ErrorMethod = errorMethod,
            Search = search,
            P = p,
        };
        if (spec is not null)
        {
            try
            {
                rule.Recipe(); // every rule of the quantizer arguments, checked before any file is read
            }
            catch (QuantShellException ex)
            {
                throw new QuantShellException($"{where}: {ex.MessageIn(ParameterSpelling.Json)}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, where, ex);
            }
        }
        return rule;
    }

    private static int? Rank(JsonElement element, string name, string where)
    {
        if (!TryGet(element, name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int rank) && rank >= 0) return rank;
        throw Invalid(where, $"\"{name}\" must be a non-negative integer but is {value.GetRawText()}");
    }

    // Field names are matched case-insensitively, as PowerShell hashtables are.
    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    private static QuantShellException Invalid(string where, string problem) =>
        new($"{where}: {problem}.", ErrorIds.RulesInvalid, QuantShellErrorKind.InvalidArgument, where);

    /// <summary>The first rule that matches the tensor (by name and rank), or null.</summary>
    public (QuantizationRule Rule, int Index)? Match(StoredTensor tensor)
    {
        for (int i = 0; i < Rules.Count; i++)
        {
            if (Rules[i].Matches(tensor)) return (Rules[i], i);
        }
        return null;
    }
}

/// <summary>One activation quantizer of a rules file: a value of an ONNX model's graph and its complete quantizer.</summary>
public sealed record ActivationRule
{
    /// <summary>The value's name (<c>GRAPH-PATH:NAME</c> for a value of a subgraph whose name another graph defines too).</summary>
    public required string Tensor { get; init; }

    /// <summary>The activation quantizer, complete.</summary>
    public required QuantizerSpec Quantizer { get; init; }
}

/// <summary>One rule of a <see cref="QuantizationRules"/> list.</summary>
public sealed record QuantizationRule
{
    private Regex? _pattern;
    private QuantizerRecipe? _recipe;

    /// <summary>A glob on tensor names: <c>*</c> any run of characters (dots included), <c>?</c> one character; case-sensitive.</summary>
    public required string Match { get; init; }
    public int? MinRank { get; init; }
    public int? MaxRank { get; init; }

    /// <summary>Copy matching tensors unchanged.</summary>
    public bool Skip { get; init; }

    /// <summary>The quantizer; values it leaves out are chosen from each tensor's data.</summary>
    public QuantizerSpec? Quantizer { get; init; }

    public ErrorMethod? ErrorMethod { get; init; }
    public SelectionSearch? Search { get; init; }
    public double? P { get; init; }

    public bool Matches(StoredTensor tensor) =>
        (MinRank is null || tensor.Rank >= MinRank) && (MaxRank is null || tensor.Rank <= MaxRank)
        && (_pattern ??= new Regex("^" + Regex.Escape(Match).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$",
            RegexOptions.CultureInvariant | RegexOptions.Singleline)).IsMatch(tensor.Name);

    /// <summary>The rule's quantizer checked (values to choose from data by the rule's error method).</summary>
    public QuantizerRecipe Recipe() => _recipe ??= new QuantizerArguments { Quantizer = Quantizer, ErrorMethod = ErrorMethod, Search = Search, P = P }.Check();
}
