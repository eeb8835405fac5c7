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
        // A quantize line is a tensor's result or a model's summary, told apart by "kind".
        using var schema = JsonDocument.Parse(JsonSchemas.For(JsonDocumentKind.Quantize));
        Assert.Equal(["kind"], schema.RootElement.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        var kinds = schema.RootElement.GetProperty("anyOf").EnumerateArray()
            .ToDictionary(k => k.GetProperty("properties").GetProperty("kind").GetProperty("const").GetString()!);
        Assert.Equal(["model", "tensor"], kinds.Keys.Order());
        var tensor = kinds["tensor"];
        var required = tensor.GetProperty("required").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Contains("inputPath", required);
        Assert.Contains("nonFiniteCount", required);
        Assert.Contains("elapsedMs", required);
        var quantizer = tensor.GetProperty("properties").GetProperty("quantizer");
        Assert.Contains("numBits", quantizer.GetProperty("properties").EnumerateObject().Select(p => p.Name));
        var model = kinds["model"];
        string[] summaryFields = ["tensorCount", "quantizedCount", "skippedCount", "skipped", "elapsedMs"];
        Assert.All(summaryFields, f => Assert.Contains(f, model.GetProperty("required").EnumerateArray().Select(e => e.GetString())));
        Assert.All(["sqnrDb", "inputBytes", "outputBytes", "warning"], f => Assert.True(model.GetProperty("properties").TryGetProperty(f, out _), f));
        Assert.False(model.GetProperty("properties").TryGetProperty("tensors", out _)); // printed as lines of their own
    }
}
