using System.Globalization;
using System.Text;
using System.Text.Json;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Serialization;

namespace QuantShell.Core.Quantization;

/// <summary>
/// The JSON quantizer file of docs/semantics.md: camelCase fields (MCT's snake_case names accepted too), written camelCase.
/// Unknown fields, wrong types and invalid values are errors that name the file and the field.
/// </summary>
public static class QuantizerFile
{
    private const long MaxFileBytes = 16 << 20;

    private static readonly Dictionary<string, string> FieldNames = new(StringComparer.Ordinal)
    {
        ["target"] = "target",
        ["method"] = "method",
        ["numBits"] = "numBits", ["num_bits"] = "numBits",
        ["threshold"] = "threshold",
        ["minRange"] = "minRange", ["min_range"] = "minRange",
        ["maxRange"] = "maxRange", ["max_range"] = "maxRange",
        ["signed"] = "signed",
        ["perChannel"] = "perChannel", ["per_channel"] = "perChannel",
        ["channelAxis"] = "channelAxis", ["channel_axis"] = "channelAxis",
        ["groupSize"] = "groupSize", ["group_size"] = "groupSize",
        ["lutValues"] = "lutValues", ["lut_values"] = "lutValues",
        ["lutValuesBitwidth"] = "lutValuesBitwidth", ["lut_values_bitwidth"] = "lutValuesBitwidth",
        ["eps"] = "eps",
        ["inputRank"] = "inputRank", ["input_rank"] = "inputRank",
    };

    private static string AllowedFields => string.Join(", ", FieldNames.Values.Distinct());

    /// <summary>Reads and validates a quantizer file; its values must all be given.</summary>
    public static QuantizerSpec Read(string path)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new QuantShellException($"{path}: quantizer file not found.", ErrorIds.QuantizerFileNotFound, QuantShellErrorKind.NotFound, path);
            long length = IO.FileLength.Of(info);
            if (length > MaxFileBytes) throw new QuantShellException($"{path}: quantizer file is {length} bytes; the limit is {MaxFileBytes}.", ErrorIds.QuantizerFileInvalid, QuantShellErrorKind.InvalidData, path);
            text = File.ReadAllText(path, new UTF8Encoding(false, true));
        }
        catch (DecoderFallbackException)
        {
            string what = Formats.TensorFiles.KindOf(path) is { } kind ? $"is {Formats.TensorFiles.Describe(kind)}, not a quantizer file (JSON)" : "quantizer file is not valid UTF-8";
            throw new QuantShellException($"{path}: {what}.", ErrorIds.QuantizerFileInvalid, QuantShellErrorKind.InvalidData, path);
        }
        catch (IOException ex) { throw new QuantShellException($"{path}: cannot be read ({ex.Message}).", ErrorIds.QuantizerFileUnreadable, QuantShellErrorKind.ReadFailed, path, ex); }
        catch (UnauthorizedAccessException ex) { throw new QuantShellException($"{path}: cannot be read ({ex.Message}).", ErrorIds.QuantizerFileUnreadable, QuantShellErrorKind.ReadFailed, path, ex); }
        return Parse(text, path);
    }

    /// <summary>Parses and validates complete quantizer JSON; <paramref name="sourceName"/> names it in errors.</summary>
    public static QuantizerSpec Parse(string json, string sourceName = "quantizer")
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw Invalid(sourceName, $"is not valid JSON ({ex.Message})", ErrorIds.QuantizerFileInvalid);
        }
        using (document)
            return FromElement(document.RootElement, sourceName, requireValues: true);
    }

    /// <summary>
    /// Builds a spec from a parsed JSON object (a quantizer file, a case of a list, a rule's quantizer). With
    /// <paramref name="requireValues"/> the threshold, range or table must be given; without, missing ones are chosen from data.
    /// </summary>
    public static QuantizerSpec FromElement(JsonElement root, string sourceName, bool requireValues = true)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Invalid(sourceName, $"must hold a JSON object but holds {Describe(root.ValueKind)}", ErrorIds.QuantizerFileInvalid);
        var seen = new Dictionary<string, JsonElement>();
        foreach (var property in root.EnumerateObject())
        {
            if (!FieldNames.TryGetValue(property.Name, out var canonical))
                throw Invalid(sourceName, $"unknown field '{property.Name}' (allowed: {AllowedFields})", ErrorIds.QuantizerFieldUnknown);
            if (!seen.TryAdd(canonical, property.Value))
                throw Invalid(sourceName, $"field '{canonical}' is given twice", ErrorIds.QuantizerFieldDuplicate);
        }
        var spec = new QuantizerSpec
        {
            Target = ParseEnum<QuantizationTarget>(Required(seen, "target", sourceName), "target", sourceName),
            Method = ParseEnum<QuantizationMethod>(Required(seen, "method", sourceName), "method", sourceName),
            NumBits = ParseInt(Required(seen, "numBits", sourceName), "numBits", sourceName),
            Threshold = OptionalNumbers(seen, "threshold", sourceName),
            MinRange = OptionalNumbers(seen, "minRange", sourceName),
            MaxRange = OptionalNumbers(seen, "maxRange", sourceName),
            Signed = seen.TryGetValue("signed", out var signed) ? ParseBool(signed, "signed", sourceName) : null,
            PerChannel = seen.TryGetValue("perChannel", out var perChannel) && ParseBool(perChannel, "perChannel", sourceName),
            ChannelAxis = OptionalInt(seen, "channelAxis", sourceName),
            GroupSize = OptionalInt(seen, "groupSize", sourceName),
            LutValues = OptionalNumbers(seen, "lutValues", sourceName),
            LutValuesBitwidth = OptionalInt(seen, "lutValuesBitwidth", sourceName),
            Eps = seen.TryGetValue("eps", out var eps) && eps.ValueKind != JsonValueKind.Null ? Number(eps, "eps", sourceName) : null,
            InputRank = OptionalInt(seen, "inputRank", sourceName),
        };
        try
        {
            if (requireValues) spec.ValidateComplete();
            else spec.Validate();
        }
        catch (QuantizerValidationException ex)
        {
            throw new QuantShellException($"{sourceName}: {ex.MessageIn(ParameterSpelling.Json)}", ex.ErrorId, QuantShellErrorKind.InvalidArgument, sourceName, ex);
        }
        return spec;
    }

    /// <summary>The JSON text of a spec (camelCase; indented, or on one line).</summary>
    public static string ToJson(QuantizerSpec spec, bool indented = true) =>
        JsonSerializer.Serialize(QuantizerFileJson.From(spec), indented ? QuantShellJson.Indented.QuantizerFileJson : QuantShellJson.Compact.QuantizerFileJson);

    /// <summary>Writes a quantizer file atomically; an existing file is replaced only with <see cref="WriteOptions.Force"/>.</summary>
    public static void Write(string path, QuantizerSpec spec, WriteOptions options, string? name = null)
    {
        spec.ValidateComplete();
        byte[] bytes = Encoding.UTF8.GetBytes(ToJson(spec) + "\n");
        AtomicFile.Write(path, options, stream => stream.Write(bytes), name);
    }

    private static JsonElement Required(Dictionary<string, JsonElement> seen, string name, string source) =>
        seen.TryGetValue(name, out var value) ? value : throw Invalid(source, $"the field '{name}' is missing", ErrorIds.QuantizerFieldMissing);

    private static int? OptionalInt(Dictionary<string, JsonElement> seen, string name, string source) =>
        seen.TryGetValue(name, out var element) && element.ValueKind != JsonValueKind.Null ? ParseInt(element, name, source) : null;

    private static T ParseEnum<T>(JsonElement element, string name, string source) where T : struct, Enum
    {
        if (element.ValueKind == JsonValueKind.String && EnumNames.TryParse<T>(element.GetString()) is T value)
            return value;
        string allowed = string.Join(", ", EnumNames.All<T>(EnumNames.Json));
        throw Invalid(source, $"field '{name}' must be one of {allowed} but is {element.GetRawText()}", ErrorIds.QuantizerFieldInvalid);
    }

    private static int ParseInt(JsonElement element, string name, string source)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
            return (int)d;
        throw Invalid(source, $"field '{name}' must be an integer but is {element.GetRawText()}", ErrorIds.QuantizerFieldInvalid);
    }

    private static bool ParseBool(JsonElement element, string name, string source) => element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Invalid(source, $"field '{name}' must be true or false but is {element.GetRawText()}", ErrorIds.QuantizerFieldInvalid),
    };

    private static double[]? OptionalNumbers(Dictionary<string, JsonElement> seen, string name, string source)
    {
        if (!seen.TryGetValue(name, out var element) || element.ValueKind == JsonValueKind.Null) return null;
        if (element.ValueKind == JsonValueKind.Number) return new[] { Number(element, name, source) };
        if (element.ValueKind != JsonValueKind.Array)
            throw Invalid(source, $"field '{name}' must be a number or a list of numbers but is {element.GetRawText()}", ErrorIds.QuantizerFieldInvalid);
        return element.EnumerateArray().Select(e => Number(e, name, source)).ToArray();
    }

    private static double Number(JsonElement element, string name, string source)
    {
        if (element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out double value) && double.IsFinite(value)) return value;
        throw Invalid(source, $"field '{name}' must hold finite numbers but holds {element.GetRawText()}", ErrorIds.QuantizerFieldInvalid);
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "a list",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        _ => kind.ToString().ToLower(CultureInfo.InvariantCulture),
    };

    private static QuantShellException Invalid(string source, string problem, string errorId) =>
        new($"{source}: {problem}.", errorId, errorId == ErrorIds.QuantizerFileInvalid ? QuantShellErrorKind.InvalidData : QuantShellErrorKind.InvalidArgument, source);
}
