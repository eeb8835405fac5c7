using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Commands;

/// <summary>
/// The <c>--json</c> form of results: one compact object per line, camelCase. JSON has no Infinity or NaN, so
/// non-finite numbers are written as the strings "Infinity", "-Infinity" and "NaN" (as System.Text.Json's named literals).
/// </summary>
internal static class ResultJson
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Serialize(QuantizationResult result, QuantizerChoice? choice = null) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("input", result.InputPath);
        writer.WriteString("output", result.OutputPath);
        writer.WriteStartArray("shape");
        foreach (long dimension in result.Shape) writer.WriteNumberValue(dimension);
        writer.WriteEndArray();
        writer.WriteString("dtype", result.DType);
        writer.WriteString("outputDtype", result.OutputDType);
        writer.WriteBoolean("fortranOrder", result.FortranOrder);
        writer.WriteString("target", Name(result.Target));
        writer.WriteString("method", Name(result.Method));
        writer.WriteNumber("numBits", result.NumBits);
        writer.WriteBoolean("perChannel", result.PerChannel);
        if (result.ChannelAxis is int axis) writer.WriteNumber("channelAxis", axis);
        else writer.WriteNull("channelAxis");
        writer.WriteStartArray("scale");
        foreach (float scale in result.Scale) WriteNumberValue(writer, scale);
        writer.WriteEndArray();
        writer.WriteStartArray("zeroPoint");
        foreach (int zeroPoint in result.ZeroPoint) writer.WriteNumberValue(zeroPoint);
        writer.WriteEndArray();
        WriteAppliedValues(writer, result.Quantizer);
        writer.WriteNumber("quantMin", result.QuantMin);
        writer.WriteNumber("quantMax", result.QuantMax);
        writer.WriteNumber("elementCount", result.ElementCount);
        writer.WriteNumber("nonFiniteCount", result.NonFiniteCount);
        WriteNumber(writer, "mse", result.Mse);
        WriteNumber(writer, "sqnrDb", result.SqnrDb);
        WriteNumber(writer, "elapsedMs", result.Elapsed.TotalMilliseconds);
        writer.WritePropertyName("quantizer");
        QuantizerFile.WriteTo(writer, result.Quantizer);
        choice?.WriteJson(writer);
        writer.WriteEndObject();
    });

    /// <summary>
    /// The threshold (pot, symmetric) or range (uniform) applied, given or chosen from the data, and the signedness;
    /// the members that do not apply to the method are null.
    /// </summary>
    public static void WriteAppliedValues(Utf8JsonWriter writer, QuantizerSpec spec)
    {
        WriteOptionalNumbers(writer, "threshold", spec.Method == QuantizationMethod.Uniform ? null : spec.Threshold);
        WriteOptionalNumbers(writer, "minRange", spec.Method == QuantizationMethod.Uniform ? spec.MinRange : null);
        WriteOptionalNumbers(writer, "maxRange", spec.Method == QuantizationMethod.Uniform ? spec.MaxRange : null);
        if (spec.Method == QuantizationMethod.Uniform) writer.WriteNull("signed");
        else writer.WriteBoolean("signed", spec.IsSigned);
    }

    private static void WriteOptionalNumbers(Utf8JsonWriter writer, string name, IReadOnlyList<double>? values)
    {
        if (values is null)
        {
            writer.WriteNull(name);
            return;
        }
        writer.WriteStartArray(name);
        foreach (double value in values) WriteNumberValue(writer, value);
        writer.WriteEndArray();
    }

    public static string Write(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            write(writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static void WriteNumber(Utf8JsonWriter writer, string name, double value)
    {
        writer.WritePropertyName(name);
        WriteNumberValue(writer, value);
    }

    public static void WriteNumberValue(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
    }

    public static void WriteNumberValue(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value)) writer.WriteNumberValue(value);
        else WriteNumberValue(writer, (double)value);
    }

    public static string Name(QuantizationTarget target) => target == QuantizationTarget.Weights ? "weights" : "activation";

    public static string Name(QuantizationMethod method) => method.ToString().ToLowerInvariant();
}
