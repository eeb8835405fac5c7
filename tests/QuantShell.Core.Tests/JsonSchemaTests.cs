using System.Text.Json;
using QuantShell.Core.Serialization;

namespace QuantShell.Core.Tests;

public sealed class JsonSchemaTests
{
    public static TheoryData<JsonDocumentKind> Kinds() => new(Enum.GetValues<JsonDocumentKind>());

    [Theory]
    [MemberData(nameof(Kinds))]
    public void PublishedSchema_IsTheGeneratedOne(JsonDocumentKind kind)
    {
        // docs/schemas is what users read; it must be what the serializer writes (regenerate with 'dotnet quant schema').
        string file = Path.Combine(TestPaths.RepositoryRoot, "docs", "schemas", $"{kind.ToString().ToLowerInvariant()}.schema.json");
        Assert.Equal(JsonSchemas.For(kind), File.ReadAllText(file));
    }

    [Fact]
    public void QuantizeSchema_RequiresTheFieldsEveryResultHas_AndDescribesTheQuantizer()
    {
        using var schema = JsonDocument.Parse(JsonSchemas.For(JsonDocumentKind.Quantize));
        var required = schema.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Contains("inputPath", required);
        Assert.Contains("nonFiniteCount", required);
        Assert.Contains("elapsedMs", required);
        var quantizer = schema.RootElement.GetProperty("properties").GetProperty("quantizer");
        Assert.Contains("numBits", quantizer.GetProperty("properties").EnumerateObject().Select(p => p.Name));
    }
}
