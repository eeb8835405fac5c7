using System.Text.Json;
using System.Text.Json.Nodes;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;
using QuantShell.Core.Serialization;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// What an <c>int</c> output records about each quantized tensor (safetensors <c>__metadata__</c>, an .npz's
/// <c>quantshell.json</c> entry, a PyTorch archive's <c>quantshell.json</c> record; an ONNX model's <c>qdq</c> format in
/// <c>metadata_props</c>): the quantizer that made the codes and the tensor's original dtype, so that dequantizing gives
/// the <c>fake</c> output bit for bit (docs/model-files.md, output formats).
/// </summary>
public sealed record QuantizationRecord
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>The output format the file was written in (<c>int</c>, or an ONNX model's <c>qdq</c>).</summary>
    public required OutputFormat Format { get; init; }

    public required IReadOnlyList<QuantizedTensorRecord> Tensors { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, QuantShellJson.Compact.QuantizationRecord);

    /// <summary>Parses a record; <paramref name="source"/> names the file in errors.</summary>
    public static QuantizationRecord Parse(string json, string source)
    {
        QuantizationRecord? record;
        try
        {
            record = JsonSerializer.Deserialize(WithFormatKey(json), QuantShellJson.Compact.QuantizationRecord);
        }
        catch (Exception ex) when (ex is JsonException or QuantShellException or NotSupportedException or InvalidOperationException)
        {
            throw new QuantShellException($"{source}: its quantization record is not valid ({ex.Message}).", ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, source, ex);
        }
        if (record is null || record.Version != CurrentVersion || record.Tensors is null)
            throw new QuantShellException($"{source}: its quantization record is not one this version reads (version {record?.Version}).", ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, source);
        return record;
    }

    /// <summary>The key version 0.1.0 wrote for <see cref="Format"/>; files it wrote still dequantize.</summary>
    internal const string FormerFormatKey = "form";

    /// <summary>The record with a 0.1.0 <c>"form"</c> key renamed to <c>"format"</c> (when it has no <c>"format"</c> of its own).</summary>
    private static string WithFormatKey(string json)
    {
        if (!json.Contains($"\"{FormerFormatKey}\"", StringComparison.Ordinal)) return json;
        if (JsonNode.Parse(json) is not JsonObject record || !record.ContainsKey(FormerFormatKey) || record.ContainsKey("format")) return json;
        var format = record[FormerFormatKey];
        record.Remove(FormerFormatKey);
        record["format"] = format;
        return record.ToJsonString();
    }
}

/// <summary>One quantized tensor of an <c>int</c> output.</summary>
public sealed record QuantizedTensorRecord
{
    /// <summary>The tensor's name, which now holds its integer codes.</summary>
    public required string Name { get; init; }

    /// <summary>The original (fake-output) dtype name: float32, float16, bfloat16, float64.</summary>
    public required string DType { get; init; }

    public required long[] Shape { get; init; }

    /// <summary>The quantizer, with every value, as a quantizer file holds it.</summary>
    public required QuantizerSpec Quantizer { get; init; }

    /// <summary>The dtype of the codes: int8, uint8, int16, uint16 or int32.</summary>
    public required string CodeDType { get; init; }

    /// <summary>
    /// The tensor holding the codes when it is not <see cref="Name"/>: in an ONNX model's qdq format <c>NAME</c> is the
    /// output of the nodes that dequantize <c>NAME_quantized</c> (tables: <c>NAME_lut_index</c>). Null in the int format.
    /// </summary>
    public string? Codes { get; init; }

    /// <summary>The tensor holding the scale(s) (<c>NAME_scale</c>).</summary>
    public required string Scale { get; init; }

    /// <summary>
    /// The tensor holding the zero point(s) (<c>NAME_zero_point</c>); null for table quantizers, and in an ONNX model's qdq
    /// form without DequantizeLinear when every zero point is 0.
    /// </summary>
    public string? ZeroPoint { get; init; }

    /// <summary>The tensor holding the table (<c>NAME_lut</c>); null for grid quantizers.</summary>
    public string? Lut { get; init; }

    /// <summary>
    /// In an ONNX model's qdq format, when the weight was the value of a <c>Constant</c> node: that node's name ("" when it
    /// had none), so that dequantizing puts the node back. Null for initializers and in other files.
    /// </summary>
    public string? ConstantNode { get; init; }
}
