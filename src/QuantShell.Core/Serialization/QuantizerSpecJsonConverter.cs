using System.Text.Json;
using System.Text.Json.Serialization;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Serialization;

/// <summary>A <see cref="QuantizerSpec"/> inside another document (a result's <c>quantizer</c>) is written as a quantizer file.</summary>
public sealed class QuantizerSpecJsonConverter : JsonConverter<QuantizerSpec>
{
    public override QuantizerSpec Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return QuantizerFile.FromElement(document.RootElement, "quantizer", requireValues: false);
    }

    public override void Write(Utf8JsonWriter writer, QuantizerSpec value, JsonSerializerOptions options) =>
        JsonSerializer.Serialize(writer, QuantizerFileJson.From(value), QuantShellJson.Compact.QuantizerFileJson);
}
