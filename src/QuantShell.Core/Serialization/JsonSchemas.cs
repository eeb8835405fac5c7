using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Schema;
using System.Text.Json.Serialization.Metadata;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Serialization;

/// <summary>
/// JSON Schemas (draft 2020-12) of the documents QuantShell writes, generated from the very type information that
/// serializes them, so the published schemas (<c>docs/schemas</c>, <c>dotnet quant schema</c>) cannot drift.
/// </summary>
public static class JsonSchemas
{
    public static string For(JsonDocumentKind kind)
    {
        JsonTypeInfo typeInfo = kind switch
        {
            JsonDocumentKind.Quantize => QuantShellJson.Compact.QuantizationReport,
            JsonDocumentKind.Measure => QuantShellJson.Compact.MeasurementResult,
            JsonDocumentKind.Inspect => QuantShellJson.Compact.TensorInfo,
            JsonDocumentKind.Dequantize => QuantShellJson.Compact.DequantizationResult,
            JsonDocumentKind.Lower => QuantShellJson.Compact.LowerResult,
            JsonDocumentKind.Calibrate => QuantShellJson.Compact.CalibrationResult,
            JsonDocumentKind.Compare => QuantShellJson.Compact.ComparisonResult,
            JsonDocumentKind.Rules => QuantShellJson.Compact.RulesFileJson,
            _ => QuantShellJson.Compact.QuantizerFileJson,
        };
        var schema = Export(typeInfo);
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        schema["title"] = kind switch
        {
            JsonDocumentKind.Quantize => "QuantShell quantization result (kind tensor: one per tensor; kind model: one per model file, after its tensors)",
            JsonDocumentKind.Measure => "QuantShell measurement result (one per tensor)",
            JsonDocumentKind.Inspect => "QuantShell tensor description (one per tensor)",
            JsonDocumentKind.Dequantize => "QuantShell dequantization result (one per tensor)",
            JsonDocumentKind.Lower => "QuantShell lowering result (one per model)",
            JsonDocumentKind.Calibrate => "QuantShell calibration result (one per activation)",
            JsonDocumentKind.Compare => "QuantShell comparison result (one per model output)",
            JsonDocumentKind.Rules => "QuantShell rules file",
            _ => "QuantShell quantizer file",
        };
        return schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static JsonNode Export(JsonTypeInfo typeInfo) =>
        JsonSchemaExporter.GetJsonSchemaAsNode(typeInfo, new JsonSchemaExporterOptions
        {
            TreatNullObliviousAsNonNullable = true,
            // A quantizer inside a result is written as a quantizer file (QuantizerSpecJsonConverter).
            TransformSchemaNode = (context, node) => context.TypeInfo.Type == typeof(QuantizerSpec) && context.PropertyInfo is not null
                ? Export(QuantShellJson.Compact.QuantizerFileJson)
                : node,
        });
}
