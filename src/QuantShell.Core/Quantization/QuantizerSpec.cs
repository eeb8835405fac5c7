using QuantShell.Core.Errors;

namespace QuantShell.Core.Quantization;

/// <summary>What a quantizer is applied to: MCT has weights quantizers (per-tensor or per-channel) and activation quantizers (per-tensor only).</summary>
public enum QuantizationTarget
{
    Weights,
    Activation,
}

/// <summary>The three MCT quantization methods.</summary>
public enum QuantizationMethod
{
    /// <summary>Power-of-two: symmetric with a threshold that is an exact power of two.</summary>
    Pot,
    Symmetric,
    Uniform,
}

/// <summary>
/// Everything that defines an inferable quantizer, as in the JSON quantizer file. Immutable; <see cref="Validate"/>
/// checks every rule that does not depend on the tensor (the channel count is checked against the tensor's shape).
/// </summary>
public sealed record QuantizerSpec
{
    /// <summary>The axis used for per-channel quantization when none is given: the last one (as for the seed's example).</summary>
    public const int DefaultChannelAxis = -1;

    public const int MinBits = 1;
    public const int MaxBits = 16;

    public required QuantizationTarget Target { get; init; }
    public required QuantizationMethod Method { get; init; }
    public required int NumBits { get; init; }

    /// <summary>Thresholds for POT and symmetric quantizers: one per tensor, or one per channel.</summary>
    public IReadOnlyList<double>? Threshold { get; init; }

    /// <summary>Range minimums for uniform quantizers: one per tensor, or one per channel.</summary>
    public IReadOnlyList<double>? MinRange { get; init; }

    /// <summary>Range maximums for uniform quantizers, paired with <see cref="MinRange"/>.</summary>
    public IReadOnlyList<double>? MaxRange { get; init; }

    /// <summary>Signed integer range for POT and symmetric quantizers; null means signed. Ignored by uniform quantizers.</summary>
    public bool? Signed { get; init; }

    public bool PerChannel { get; init; }

    /// <summary>Channel axis for per-channel quantization (negative counts from the end); null means <see cref="DefaultChannelAxis"/>.</summary>
    public int? ChannelAxis { get; init; }

    public bool IsSigned => Method != QuantizationMethod.Uniform && (Signed ?? true);

    public int EffectiveChannelAxis => ChannelAxis ?? DefaultChannelAxis;

    /// <summary>Number of (scale, zero point) pairs this quantizer holds.</summary>
    public int ValueCount => (Method == QuantizationMethod.Uniform ? MinRange?.Count : Threshold?.Count) ?? 0;

    /// <summary>Throws <see cref="QuantizerValidationException"/> naming the parameter and value of the first rule broken.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Target))
            throw Invalid("Target", $"Target must be Weights or Activation but is {(int)Target}.", "TargetInvalid");
        if (!Enum.IsDefined(Method))
            throw Invalid("Method", $"Method must be Pot, Symmetric or Uniform but is {(int)Method}.", "MethodInvalid");
        if (NumBits < MinBits || NumBits > MaxBits)
            throw Invalid("NumBits", $"NumBits must be between {MinBits} and {MaxBits} but is {NumBits}.", "NumBitsOutOfRange");
        if (Target == QuantizationTarget.Activation && PerChannel)
            throw Invalid("PerChannel", "PerChannel is not supported for activation quantizers (MCT quantizes activations per tensor).", "PerChannelActivationNotSupported");

        if (Method == QuantizationMethod.Uniform)
            ValidateRanges();
        else
            ValidateThresholds();

        int count = ValueCount;
        if (!PerChannel && count != 1)
        {
            string name = Method == QuantizationMethod.Uniform ? "MinRange" : "Threshold";
            throw Invalid(name, $"A per-tensor quantizer takes exactly one {name} value but {count} were given ({Format(Method == QuantizationMethod.Uniform ? MinRange! : Threshold!)}); use PerChannel for one value per channel.", "ValueCountMismatch");
        }
    }

    private void ValidateThresholds()
    {
        if (MinRange is not null || MaxRange is not null)
            throw Invalid(MinRange is not null ? "MinRange" : "MaxRange", $"MinRange and MaxRange apply to uniform quantizers only; a {Method} quantizer takes Threshold.", "ParameterNotApplicable");
        if (Threshold is null || Threshold.Count == 0)
            throw Invalid("Threshold", $"A {Method} quantizer needs Threshold (one value, or one per channel).", "ThresholdMissing");
        for (int i = 0; i < Threshold.Count; i++)
        {
            double t = Threshold[i];
            string where = Threshold.Count > 1 ? $"Threshold[{i}]" : "Threshold";
            if (!double.IsFinite(t))
                throw Invalid("Threshold", $"{where} must be a finite number but is {FormatValue(t)}.", "ThresholdNotFinite");
            if (t <= 0 || (float)t <= 0f)
                throw Invalid("Threshold", $"{where} must be greater than 0 but is {FormatValue(t)}.", "ThresholdNotPositive");
            if (float.IsInfinity((float)t))
                throw Invalid("Threshold", $"{where} must fit in float32 but is {FormatValue(t)}.", "ThresholdNotFinite");
            if (Method == QuantizationMethod.Pot && !double.IsPow2(t))
                throw Invalid("Threshold", $"{where} must be a power of two for a POT quantizer but is {FormatValue(t)}.", "ThresholdNotPowerOfTwo");
        }
    }

    private void ValidateRanges()
    {
        if (Threshold is not null)
            throw Invalid("Threshold", "Threshold applies to POT and symmetric quantizers only; a Uniform quantizer takes MinRange and MaxRange.", "ParameterNotApplicable");
        if (MinRange is null || MinRange.Count == 0)
            throw Invalid("MinRange", "A Uniform quantizer needs MinRange (one value, or one per channel).", "RangeMissing");
        if (MaxRange is null || MaxRange.Count == 0)
            throw Invalid("MaxRange", "A Uniform quantizer needs MaxRange (one value, or one per channel).", "RangeMissing");
        if (MinRange.Count != MaxRange.Count)
            throw Invalid("MaxRange", $"MinRange has {MinRange.Count} values but MaxRange has {MaxRange.Count}; they must pair up.", "RangeCountMismatch");
        for (int i = 0; i < MinRange.Count; i++)
        {
            string suffix = MinRange.Count > 1 ? $"[{i}]" : "";
            double min = MinRange[i], max = MaxRange[i];
            if (!double.IsFinite(min) || float.IsInfinity((float)min))
                throw Invalid("MinRange", $"MinRange{suffix} must be a finite float32 number but is {FormatValue(min)}.", "RangeNotFinite");
            if (!double.IsFinite(max) || float.IsInfinity((float)max))
                throw Invalid("MaxRange", $"MaxRange{suffix} must be a finite float32 number but is {FormatValue(max)}.", "RangeNotFinite");
            if (!((float)min < (float)max))
                throw Invalid("MinRange", $"MinRange{suffix} must be less than MaxRange{suffix} (in float32) but they are {FormatValue(min)} and {FormatValue(max)}.", "RangeMinNotBelowMax");
        }
    }

    /// <summary>Resolves the channel axis against a tensor rank, with a clear error when it is out of range.</summary>
    public int ResolveChannelAxis(int rank)
    {
        int axis = EffectiveChannelAxis;
        int resolved = axis < 0 ? axis + rank : axis;
        if (rank == 0 || resolved < 0 || resolved >= rank)
        {
            string allowed = rank == 0 ? "a 0-d tensor has no axes" : $"allowed: {-rank}..{rank - 1}";
            throw Invalid("ChannelAxis", $"ChannelAxis {axis} is out of range for a tensor of rank {rank} ({allowed}).", "ChannelAxisOutOfRange");
        }
        return resolved;
    }

    /// <summary>The quantizer-file JSON on one line (values chosen from data are not known yet and are left out).</summary>
    public override string ToString() => QuantizerFile.ToJson(this, indented: false);

    internal static QuantizerValidationException Invalid(string parameter, string message, string errorId) =>
        new(message, parameter, errorId);

    internal static string FormatValue(double value) => value switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "Infinity",
        double.NegativeInfinity => "-Infinity",
        _ => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
    };

    internal static string Format(IEnumerable<double> values) => string.Join(", ", values.Select(FormatValue));
}
