using System.Globalization;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Quantization;

/// <summary>
/// Everything that defines an inferable quantizer, as in the JSON quantizer file (docs/semantics.md). Immutable. A spec
/// may leave its values out (threshold, range, LUT table): it is then incomplete, its values to be chosen from data
/// (<see cref="IsComplete"/> is false; a <c>QuantizerRecipe</c> says how). <see cref="Validate"/> checks every rule that
/// does not depend on the tensor (docs/semantics.md, validation); the channel count and input rank are checked against a
/// tensor's shape by <see cref="ResolveChannels"/>.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(Serialization.QuantizerSpecJsonConverter))]
public sealed record QuantizerSpec
{
    /// <summary>
    /// The channel axis of a per-channel quantizer given no axis whose values are chosen from the data: axis 0, the output
    /// channels of PyTorch's Conv and Linear weights. A quantizer given its values and no axis takes the first axis whose
    /// length is their count instead (<see cref="ResolveChannels"/>; docs/semantics.md, "The channel axis").
    /// </summary>
    public const int DefaultChannelAxis = 0;

    public const int MinBits = 1;
    public const int MaxBits = 16;

    /// <summary>MCT's default for <see cref="LutValuesBitwidth"/>.</summary>
    public const int DefaultLutValuesBitwidth = 8;

    /// <summary>MCT's default for <see cref="Eps"/>.</summary>
    public const double DefaultEps = 1e-8;

    public required QuantizationTarget Target { get; init; }
    public required QuantizationMethod Method { get; init; }
    public required int NumBits { get; init; }

    /// <summary>Thresholds for POT, symmetric and LUT quantizers: one per tensor, or one per channel.</summary>
    public IReadOnlyList<double>? Threshold { get; init; }

    /// <summary>Range minimums for uniform quantizers: one per tensor, or one per channel.</summary>
    public IReadOnlyList<double>? MinRange { get; init; }

    /// <summary>Range maximums for uniform quantizers, paired with <see cref="MinRange"/>.</summary>
    public IReadOnlyList<double>? MaxRange { get; init; }

    /// <summary>Signed integer range (POT, symmetric, activation LUT); null means signed. Uniform quantizers take none; weights LUT ones are always signed.</summary>
    public bool? Signed { get; init; }

    public bool PerChannel { get; init; }

    /// <summary>
    /// Channel axis for per-channel quantization (negative counts from the end). Null: resolved against each tensor, the
    /// first axis whose length is the number of values given, or <see cref="DefaultChannelAxis"/> when they are chosen
    /// from the data.
    /// </summary>
    public int? ChannelAxis { get; init; }

    /// <summary>
    /// Group-wise scales (QuantShell's, not MCT's): one value per channel and per group of this many consecutive elements
    /// of the last axis, the last group ragged when it does not divide; null for one value per channel (or tensor).
    /// Needs per-channel quantization on an axis other than the last; values are stored channel-major ([channel][group]).
    /// </summary>
    public int? GroupSize { get; init; }

    /// <summary>The table of a LUT quantizer: integer values in the LUT's range, at most 2^NumBits distinct, any order.</summary>
    public IReadOnlyList<double>? LutValues { get; init; }

    /// <summary>The bit width B of the LUT's integer range; null means <see cref="DefaultLutValuesBitwidth"/>.</summary>
    public int? LutValuesBitwidth { get; init; }

    /// <summary>Added to the threshold before dividing (LUT quantizers); null means <see cref="DefaultEps"/>.</summary>
    public double? Eps { get; init; }

    /// <summary>When given (LUT weights), the rank every input must have.</summary>
    public int? InputRank { get; init; }

    public bool IsLut => Method is QuantizationMethod.LutSymmetric or QuantizationMethod.LutPot;

    /// <summary>Whether the integer range (or the LUT's) is signed: uniform never, weights LUT always, else <see cref="Signed"/> (default true).</summary>
    public bool IsSigned => Method switch
    {
        QuantizationMethod.Uniform => false,
        QuantizationMethod.LutSymmetric or QuantizationMethod.LutPot when Target == QuantizationTarget.Weights => true,
        _ => Signed ?? true,
    };

    // The values of the method, as results and quantizer files show them: a threshold and a signedness for POT, symmetric
    // and LUT quantizers, a range for uniform ones, a table for LUT ones.
    internal IReadOnlyList<double>? ThresholdOfMethod => Method == QuantizationMethod.Uniform ? null : Threshold;
    internal IReadOnlyList<double>? MinRangeOfMethod => Method == QuantizationMethod.Uniform ? MinRange : null;
    internal IReadOnlyList<double>? MaxRangeOfMethod => Method == QuantizationMethod.Uniform ? MaxRange : null;
    internal IReadOnlyList<double>? LutValuesOfMethod => IsLut ? LutValues : null;
    internal bool? SignedOfMethod => Method == QuantizationMethod.Uniform ? null : IsSigned;

    /// <summary>The method as prose names it: POT, symmetric, uniform, LUT symmetric, LUT POT.</summary>
    internal string MethodName => Method switch
    {
        QuantizationMethod.Pot => "POT",
        QuantizationMethod.LutSymmetric => "LUT symmetric",
        QuantizationMethod.LutPot => "LUT POT",
        _ => Method.ToString().ToLowerInvariant(),
    };

    public int EffectiveLutValuesBitwidth => LutValuesBitwidth ?? DefaultLutValuesBitwidth;

    public double EffectiveEps => Eps ?? DefaultEps;

    /// <summary>Number of per-tensor or per-channel values (thresholds or ranges) this spec holds.</summary>
    public int ValueCount => (Method == QuantizationMethod.Uniform ? MinRange?.Count : Threshold?.Count) ?? 0;

    /// <summary>True when every value is given: threshold (and table for LUT) or range. Otherwise they are chosen from data.</summary>
    public bool IsComplete => Method switch
    {
        QuantizationMethod.Uniform => MinRange is not null || MaxRange is not null,
        QuantizationMethod.LutSymmetric or QuantizationMethod.LutPot => Threshold is not null && LutValues is not null,
        _ => Threshold is not null,
    };

    /// <summary>
    /// Throws <see cref="QuantizerValidationException"/> naming the parameter and value of the first rule broken. A spec
    /// that is not <see cref="IsComplete"/> is checked as far as it goes: every rule but the missing values.
    /// </summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Target))
            throw Invalid(Parameter.Target, $"{Parameter.Target} must be {Parameter.Values(QuantizationTarget.Weights, QuantizationTarget.Activation)} but is {(int)Target}.", ErrorIds.TargetInvalid);
        if (!Enum.IsDefined(Method))
            throw Invalid(Parameter.Method, $"{Parameter.Method} must be {Parameter.Values(Enum.GetValues<QuantizationMethod>())} but is {(int)Method}.", ErrorIds.MethodInvalid);
        if (NumBits < MinBits || NumBits > MaxBits)
            throw Invalid(Parameter.NumBits, $"{Parameter.NumBits} must be between {MinBits} and {MaxBits} but is {NumBits}.", ErrorIds.NumBitsOutOfRange);
        if (Target == QuantizationTarget.Activation && PerChannel)
            throw Invalid(Parameter.PerChannel, $"{Parameter.PerChannel} is not supported for activation quantizers (MCT quantizes activations per tensor).", ErrorIds.PerChannelActivationNotSupported);
        if (ChannelAxis is int axis && !PerChannel)
            throw Invalid(Parameter.ChannelAxis, $"{Parameter.ChannelAxis} {axis} applies to per-channel quantizers only; add {Parameter.PerChannel} or leave {Parameter.ChannelAxis} out.", ErrorIds.ParameterNotApplicable);
        if (Method == QuantizationMethod.LutSymmetric && Target == QuantizationTarget.Activation)
            throw Invalid(Parameter.Method, $"{Parameter.Method.With(QuantizationMethod.LutSymmetric)} is a weights quantizer in MCT; activations take {Parameter.Value(QuantizationMethod.LutPot)}.", ErrorIds.MethodInvalid);

        if (Method == QuantizationMethod.Uniform)
        {
            if (Signed is not null)
                throw Invalid(Parameter.Signed, $"{Parameter.Signed} applies to POT, symmetric and LUT quantizers; a uniform quantizer's range is given by {Parameter.MinRange} and {Parameter.MaxRange}.", ErrorIds.ParameterNotApplicable);
            ValidateRanges();
        }
        else
        {
            if (IsLut && Target == QuantizationTarget.Weights && Signed == false)
                throw Invalid(Parameter.Signed, $"{Parameter.Signed} cannot be false for {Parameter.Value(Method)} weights: MCT's weights LUT quantizers are always signed.", ErrorIds.ParameterNotApplicable);
            ValidateThresholds();
        }
        if (IsLut) ValidateLut();
        else
        {
            Parameter? lutParameter = LutValues is not null ? Parameter.LutValues : LutValuesBitwidth is not null ? Parameter.LutValuesBitwidth : Eps is not null ? Parameter.Eps : null;
            if (lutParameter is not null)
                throw Invalid(lutParameter, $"{lutParameter} applies to LUT quantizers ({Parameter.Values(QuantizationMethod.LutSymmetric, QuantizationMethod.LutPot)}) only, not to {MethodName}.", ErrorIds.ParameterNotApplicable);
            if (InputRank is not null)
                throw Invalid("InputRank", $"InputRank applies to LUT quantizers ({Parameter.Values(QuantizationMethod.LutSymmetric, QuantizationMethod.LutPot)}) only, not to {MethodName}.", ErrorIds.ParameterNotApplicable);
        }

        if (GroupSize is int groupSize)
        {
            if (groupSize < 1)
                throw Invalid(Parameter.GroupSize, $"{Parameter.GroupSize} must be at least 1 but is {groupSize}.", ErrorIds.GroupSizeInvalid);
            if (Target == QuantizationTarget.Activation || IsLut)
                throw Invalid(Parameter.GroupSize, $"{Parameter.GroupSize} applies to POT, symmetric and uniform weights quantizers, not to {(IsLut ? MethodName : "activation")} quantizers.", ErrorIds.GroupSizeInvalid);
            if (!PerChannel)
                throw Invalid(Parameter.GroupSize, $"{Parameter.GroupSize} gives one value per channel and group: it needs {Parameter.PerChannel}.", ErrorIds.GroupSizeInvalid);
        }

        int count = ValueCount;
        if (!PerChannel && count > 1)
        {
            var name = Method == QuantizationMethod.Uniform ? Parameter.MinRange : Parameter.Threshold;
            throw Invalid(name, $"A per-tensor quantizer takes exactly one {name} value but {count} were given ({Format(Method == QuantizationMethod.Uniform ? MinRange! : Threshold!)}); use {Parameter.PerChannel} for one value per channel.", ErrorIds.ValueCountMismatch);
        }
    }

    /// <summary>Validates, and requires every value (threshold, range, table) to be given.</summary>
    public void ValidateComplete()
    {
        Validate();
        if (IsComplete) return;
        throw Method switch
        {
            QuantizationMethod.Uniform => Invalid(Parameter.MinRange, $"A uniform quantizer needs {Parameter.MinRange} and {Parameter.MaxRange} (one pair, or one per channel).", ErrorIds.RangeMissing),
            _ when Threshold is null => Invalid(Parameter.Threshold, $"A {MethodName} quantizer needs {Parameter.Threshold} (one value, or one per channel).", ErrorIds.ThresholdMissing),
            _ => Invalid(Parameter.LutValues, $"A {MethodName} quantizer needs {Parameter.LutValues} (its table of integers).", ErrorIds.LutValuesMissing),
        };
    }

    private void ValidateThresholds()
    {
        if (MinRange is not null || MaxRange is not null)
            throw Invalid(MinRange is not null ? Parameter.MinRange : Parameter.MaxRange, $"{Parameter.MinRange} and {Parameter.MaxRange} apply to uniform quantizers only; a {MethodName} quantizer takes {Parameter.Threshold}.", ErrorIds.ParameterNotApplicable);
        if (Threshold is null) return; // chosen from data
        if (Threshold.Count == 0)
            throw Invalid(Parameter.Threshold, $"A {MethodName} quantizer needs {Parameter.Threshold} (one value, or one per channel).", ErrorIds.ThresholdMissing);
        bool powerOfTwo = Method is QuantizationMethod.Pot or QuantizationMethod.LutPot;
        for (int i = 0; i < Threshold.Count; i++)
        {
            double t = Threshold[i];
            // Checked for every channel (thousands per chunk of a large weight): the name is only spelled for an error.
            if (double.IsFinite(t) && t > 0 && (float)t > 0f && !float.IsInfinity((float)t) && (!powerOfTwo || double.IsPow2(t))) continue;
            string where = Threshold.Count > 1 ? $"{Parameter.Threshold}[{i}]" : $"{Parameter.Threshold}";
            if (!double.IsFinite(t))
                throw Invalid("Threshold", $"{where} must be a finite number but is {FormatValue(t)}.", ErrorIds.ThresholdNotFinite);
            if (t <= 0 || (float)t <= 0f)
                throw Invalid("Threshold", $"{where} must be greater than 0 but is {FormatValue(t)}.", ErrorIds.ThresholdNotPositive);
            if (float.IsInfinity((float)t))
                throw Invalid("Threshold", $"{where} must fit in float32 but is {FormatValue(t)}.", ErrorIds.ThresholdNotFinite);
            if (powerOfTwo && !double.IsPow2(t))
                throw Invalid("Threshold", $"{where} must be a power of two for a {MethodName} quantizer but is {FormatValue(t)}.", ErrorIds.ThresholdNotPowerOfTwo);
        }
    }

    private void ValidateRanges()
    {
        if (Threshold is not null)
            throw Invalid(Parameter.Threshold, $"{Parameter.Threshold} applies to POT, symmetric and LUT quantizers only; a uniform quantizer takes {Parameter.MinRange} and {Parameter.MaxRange}.", ErrorIds.ParameterNotApplicable);
        if (MinRange is null && MaxRange is null) return; // chosen from data
        if (MinRange is null || MinRange.Count == 0)
            throw Invalid(Parameter.MinRange, $"A uniform quantizer needs {Parameter.MinRange} (one value, or one per channel) with its {Parameter.MaxRange}.", ErrorIds.RangeMissing);
        if (MaxRange is null || MaxRange.Count == 0)
            throw Invalid(Parameter.MaxRange, $"A uniform quantizer needs {Parameter.MaxRange} (one value, or one per channel) with its {Parameter.MinRange}.", ErrorIds.RangeMissing);
        if (MinRange.Count != MaxRange.Count)
            throw Invalid(Parameter.MaxRange, $"{Parameter.MinRange} has {MinRange.Count} values but {Parameter.MaxRange} has {MaxRange.Count}; they must pair up.", ErrorIds.RangeCountMismatch);
        for (int i = 0; i < MinRange.Count; i++)
        {
            double min = MinRange[i], max = MaxRange[i];
            if (double.IsFinite(min) && !float.IsInfinity((float)min) && double.IsFinite(max) && !float.IsInfinity((float)max) && (float)min < (float)max) continue;
            string suffix = MinRange.Count > 1 ? $"[{i}]" : "";
            if (!double.IsFinite(min) || float.IsInfinity((float)min))
                throw Invalid(Parameter.MinRange, $"{Parameter.MinRange}{suffix} must be a finite float32 number but is {FormatValue(min)}.", ErrorIds.RangeNotFinite);
            if (!double.IsFinite(max) || float.IsInfinity((float)max))
                throw Invalid(Parameter.MaxRange, $"{Parameter.MaxRange}{suffix} must be a finite float32 number but is {FormatValue(max)}.", ErrorIds.RangeNotFinite);
            if (!((float)min < (float)max))
                throw Invalid(Parameter.MinRange, $"{Parameter.MinRange}{suffix} must be less than {Parameter.MaxRange}{suffix} (in float32) but they are {FormatValue(min)} and {FormatValue(max)}.", ErrorIds.RangeMinNotBelowMax);
        }
    }

    // MCT's checks at creation (docs/semantics.md, "Look-up-table quantizers").
    private void ValidateLut()
    {
        int bitwidth = EffectiveLutValuesBitwidth;
        if (bitwidth < MinBits || bitwidth > MaxBits)
            throw Invalid(Parameter.LutValuesBitwidth, $"{Parameter.LutValuesBitwidth} must be between {MinBits} and {MaxBits} but is {bitwidth}.", ErrorIds.LutValuesBitwidthInvalid);
        if (NumBits > bitwidth)
            throw Invalid(Parameter.NumBits, $"{Parameter.NumBits} ({NumBits}) must not exceed {Parameter.LutValuesBitwidth} ({bitwidth}).", ErrorIds.LutValuesBitwidthInvalid);
        double eps = EffectiveEps;
        if (!double.IsFinite(eps) || eps < 0)
            throw Invalid(Parameter.Eps, $"{Parameter.Eps} must be a finite number of at least 0 but is {FormatValue(eps)}.", ErrorIds.EpsInvalid);
        if (InputRank is int rank && rank < 1)
            throw Invalid("InputRank", $"InputRank must be at least 1 but is {rank}.", ErrorIds.ParameterNotApplicable);
        if (LutValues is null) return; // chosen from data
        if (LutValues.Count == 0)
            throw Invalid(Parameter.LutValues, $"A {MethodName} quantizer needs {Parameter.LutValues} (at least one integer).", ErrorIds.LutValuesMissing);
        bool signed = IsSigned;
        double low = signed ? -Math.Pow(2, bitwidth - 1) : 0, high = signed ? Math.Pow(2, bitwidth - 1) - 1 : Math.Pow(2, bitwidth);
        for (int i = 0; i < LutValues.Count; i++)
        {
            double v = LutValues[i];
            if (!double.IsFinite(v) || v != Math.Floor(v))
                throw Invalid(Parameter.LutValues, $"{Parameter.LutValues}[{i}] must be an integer but is {FormatValue(v)}.", ErrorIds.LutValuesInvalid);
            if (v < low || v > high)
                throw Invalid(Parameter.LutValues, $"{Parameter.LutValues}[{i}] is {FormatValue(v)} but {(signed ? "signed" : "unsigned")} values of a {bitwidth}-bit LUT lie in [{FormatValue(low)}, {FormatValue(high)}].", ErrorIds.LutValuesInvalid);
        }
        int distinct = LutValues.Distinct().Count();
        if (distinct > 1 << NumBits)
            throw Invalid(Parameter.LutValues, $"{Parameter.LutValues} has {distinct} distinct values but a {NumBits}-bit LUT holds at most {1 << NumBits}.", ErrorIds.LutValuesInvalid);
    }

    /// <summary>
    /// The channel axis along which values are chosen from data of <paramref name="shape"/>: the axis given; else, for a
    /// LUT quantizer given its thresholds (its table chosen), the first axis whose length is their count, as when it is
    /// applied; else <see cref="DefaultChannelAxis"/>. Returns the resolved (non-negative) axis; out of range is a clear error.
    /// </summary>
    public int ResolveSelectionAxis(IReadOnlyList<long> shape)
    {
        if (ChannelAxis is int given) return CheckAxis(given, shape.Count);
        if (shape.Count == 0) throw NoAxes();
        return PerChannel && Threshold is not null ? ResolveChannels(shape, Threshold.Count)!.Value : DefaultChannelAxis;
    }

    /// <summary>
    /// Checks a complete spec against a tensor shape: the input rank (when the spec names one) and, per channel, that
    /// <paramref name="valueCount"/> values fit the channel axis. Without an axis given, the channels are on the first axis
    /// whose length is <paramref name="valueCount"/> (the seed's three thresholds on shape (1, 3, 3, 3): axis 1); none is
    /// an error naming the shape and the count. Returns the resolved (non-negative) axis, or null per tensor.
    /// </summary>
    public int? ResolveChannels(IReadOnlyList<long> shape, int valueCount)
    {
        if (InputRank is int rank && rank != shape.Count)
            throw Invalid("InputRank", $"InputRank is {rank} but the tensor has rank {shape.Count} (shape {FormatShape(shape)}).", ErrorIds.InputRankMismatch);
        if (!PerChannel) return null;
        string name = Method == QuantizationMethod.Uniform ? $"{Parameter.MinRange}/{Parameter.MaxRange}" : $"{Parameter.Threshold}";
        var parameter = Method == QuantizationMethod.Uniform ? Parameter.MinRange : Parameter.Threshold;
        if (GroupSize is int groupSize)
        {
            // Values channel by channel, a group at a time: the channels are on the axis given, else on axis 0.
            if (shape.Count == 0) throw NoAxes();
            int channelAxis = ChannelAxis is int chosen ? CheckAxis(chosen, shape.Count) : DefaultChannelAxis;
            CheckGroupAxis(channelAxis, shape);
            long groups = (shape[^1] + groupSize - 1) / groupSize;
            if (shape[channelAxis] * groups != valueCount)
                throw Invalid(parameter,
                    $"{name} has {valueCount} values but shape {FormatShape(shape)} has {shape[channelAxis]} channels (axis {channelAxis}) of {groups} groups of {groupSize}; give {shape[channelAxis] * groups} values, channel by channel.",
                    ErrorIds.ChannelCountMismatch);
            return channelAxis;
        }
        if (ChannelAxis is not int given)
        {
            if (shape.Count == 0) throw NoAxes();
            for (int a = 0; a < shape.Count; a++)
                if (shape[a] == valueCount) return a;
            throw Invalid(parameter,
                $"{name} has {valueCount} values but no axis of shape {FormatShape(shape)} has length {valueCount}; give one value per channel of an axis, or choose the axis with {Parameter.ChannelAxis}.",
                ErrorIds.ChannelCountMismatch);
        }
        int axis = CheckAxis(given, shape.Count);
        if (shape[axis] != valueCount)
        {
            throw Invalid(parameter,
                $"{name} has {valueCount} values but channel axis {given} of shape {FormatShape(shape)} has length {shape[axis]}; give one value per channel or choose another {Parameter.ChannelAxis}.",
                ErrorIds.ChannelCountMismatch);
        }
        return axis;
    }

    /// <summary>
    /// This spec as applied to a tensor: a per-channel spec given no axis gets the one resolved for it
    /// (<paramref name="resolvedAxis"/>), so that results and recorded quantizers say which axis was used.
    /// </summary>
    public QuantizerSpec WithResolvedAxis(int? resolvedAxis) =>
        PerChannel && ChannelAxis is null && resolvedAxis is not null ? this with { ChannelAxis = resolvedAxis } : this;

    /// <summary>Group-wise scales group the last axis, so the channels must be on another one.</summary>
    internal void CheckGroupAxis(int channelAxis, IReadOnlyList<long> shape)
    {
        if (GroupSize is not null && channelAxis == shape.Count - 1)
            throw Invalid(Parameter.GroupSize,
                $"{Parameter.GroupSize} groups the last axis, but the channel axis {channelAxis} of shape {FormatShape(shape)} is the last axis; choose another {Parameter.ChannelAxis} (0, the output channels of a Linear weight).",
                ErrorIds.GroupSizeInvalid);
    }

    private static QuantizerValidationException NoAxes() =>
        Invalid(Parameter.PerChannel, $"{Parameter.PerChannel} needs a channel axis but a 0-d tensor (shape ()) has no axes; quantize it per tensor.", ErrorIds.ChannelAxisOutOfRange);

    private static int CheckAxis(int axis, int rank)
    {
        int resolved = axis < 0 ? axis + rank : axis;
        if (rank == 0 || resolved < 0 || resolved >= rank)
        {
            string allowed = rank == 0 ? "a 0-d tensor has no axes" : $"allowed: {-rank}..{rank - 1}";
            throw Invalid(Parameter.ChannelAxis, $"{Parameter.ChannelAxis} {axis} is out of range for a tensor of rank {rank} ({allowed}).", ErrorIds.ChannelAxisOutOfRange);
        }
        return resolved;
    }

    /// <summary>The quantizer-file JSON on one line (values chosen from data are not known yet and are left out).</summary>
    public override string ToString() => QuantizerFile.ToJson(this, indented: false);

    internal static QuantizerValidationException Invalid(Parameter parameter, string message, string errorId) =>
        new(message, parameter, errorId);

    /// <summary>For a quantizer-file field that no face has as a parameter (InputRank).</summary>
    internal static QuantizerValidationException Invalid(string field, string message, string errorId) =>
        new(message, field, errorId);

    internal static string FormatValue(double value) => value switch
    {
        double.NaN => "NaN",
        double.PositiveInfinity => "Infinity",
        double.NegativeInfinity => "-Infinity",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    internal static string Format(IEnumerable<double> values) => string.Join(", ", values.Select(FormatValue));

    internal static string FormatShape(IReadOnlyList<long> shape) =>
        shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
}
