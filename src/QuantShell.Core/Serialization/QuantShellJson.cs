using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Inspect;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Jobs.Calibrate;
using QuantShell.Core.Jobs.Compare;

namespace QuantShell.Core.Serialization;

/// <summary>
/// Every JSON document QuantShell writes, serialized by System.Text.Json's source generator: camelCase names, enums as
/// camelCase strings, and non-finite numbers as the strings "NaN", "Infinity" and "-Infinity" (JSON has no literal for
/// them; docs/semantics.md, JSON). <see cref="Compact"/> writes one line (JSON Lines output), <see cref="Indented"/> files meant to be read.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(QuantizerFileJson))]
[JsonSerializable(typeof(QuantizationResult))]
[JsonSerializable(typeof(QuantizationReport))]
[JsonSerializable(typeof(MeasurementResult))]
[JsonSerializable(typeof(TensorInfo))]
[JsonSerializable(typeof(QuantizationRecord))]
[JsonSerializable(typeof(DequantizationResult))]
[JsonSerializable(typeof(LowerResult))]
[JsonSerializable(typeof(RulesFileJson))]
[JsonSerializable(typeof(CalibrationResult))]
[JsonSerializable(typeof(ComparisonResult))]
public sealed partial class QuantShellJson : JsonSerializerContext
{
    private static readonly JsonSerializerOptions CompactOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>One JSON document per line.</summary>
    public static QuantShellJson Compact { get; } = new(new JsonSerializerOptions(CompactOptions));

    /// <summary>Indented, for files.</summary>
    public static QuantShellJson Indented { get; } = new(new JsonSerializerOptions(CompactOptions) { WriteIndented = true });
}
