using QuantShell.Core.Errors;
using QuantShell.Core.Kernels;

namespace QuantShell.Core.Quantization;

/// <summary>
/// An MCT inferable quantizer: everything needed to fake-quantize a tensor, validated when it is created. Bind it to a
/// tensor shape with <see cref="CreatePlan(IReadOnlyList{long})"/> to quantize spans, streams or files; the Tensor path lives in
/// <c>QuantShell.Torch</c> (an extension method <c>Quantize(Tensor)</c>), so this assembly never loads libtorch.
/// </summary>
public abstract class InferableQuantizer
{
    private protected InferableQuantizer(QuantizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.ValidateComplete();
        Spec = spec;
    }

    /// <summary>The quantizer's parameters, as in the quantizer file.</summary>
    public QuantizerSpec Spec { get; }

    public QuantizationTarget Target => Spec.Target;
    public QuantizationMethod Method => Spec.Method;
    public int NumBits => Spec.NumBits;
    public bool PerChannel => Spec.PerChannel;

    /// <summary>Binds the quantizer to a C-order tensor shape; checks the channel axis and count against it.</summary>
    public abstract QuantizationPlan CreatePlan(IReadOnlyList<long> shape);

    /// <summary>Binds the quantizer to a tensor's shape; a mismatch names <paramref name="source"/> (the file, the tensor).</summary>
    public QuantizationPlan CreatePlan(IReadOnlyList<long> shape, string source)
    {
        try
        {
            return CreatePlan(shape);
        }
        catch (QuantizerValidationException ex)
        {
            throw ex.WithSource(source);
        }
    }

    /// <summary>
    /// The spec as applied through <paramref name="plan"/>: a per-channel quantizer given no axis gets the one its tensor
    /// resolved, so that results and recorded quantizers say which axis was used.
    /// </summary>
    public QuantizerSpec SpecFor(QuantizationPlan plan) => Spec.WithResolvedAxis(plan.ChannelAxis);

    /// <summary>Creates the class of MCT's that a spec describes (target x method).</summary>
    public static InferableQuantizer Create(QuantizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        // Each class's constructor validates the spec.
        return (spec.Target, spec.Method) switch
        {
            (QuantizationTarget.Weights, QuantizationMethod.Pot) => new WeightsPOTInferableQuantizer(spec),
            (QuantizationTarget.Weights, QuantizationMethod.Symmetric) => new WeightsSymmetricInferableQuantizer(spec),
            (QuantizationTarget.Weights, QuantizationMethod.Uniform) => new WeightsUniformInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.Pot) => new ActivationPOTInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.Symmetric) => new ActivationSymmetricInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.Uniform) => new ActivationUniformInferableQuantizer(spec),
            (QuantizationTarget.Weights, QuantizationMethod.LutSymmetric) => new WeightsLUTSymmetricInferableQuantizer(spec),
            (QuantizationTarget.Weights, QuantizationMethod.LutPot) => new WeightsLUTPOTInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.LutPot) => new ActivationLutPOTInferableQuantizer(spec),
            _ => throw NoQuantizer(spec),
        };
    }

    // The spec's own rules say why (an activation LUT symmetric quantizer, a target or method out of range).
    private static QuantizerValidationException NoQuantizer(QuantizerSpec spec)
    {
        spec.Validate();
        return new QuantizerValidationException($"No quantizer for {Parameter.Target.With(spec.Target)} and {Parameter.Method.With(spec.Method)}.", Parameter.Method, ErrorIds.MethodInvalid);
    }

    /// <summary>The class name and its parameters, e.g. <c>WeightsPOTInferableQuantizer(NumBits=8 Threshold=[4] Signed=True)</c>.</summary>
    public override string ToString()
    {
        string values = Spec.Method == QuantizationMethod.Uniform
            ? $"MinRange=[{QuantizerSpec.Format(Spec.MinRange!)}] MaxRange=[{QuantizerSpec.Format(Spec.MaxRange!)}]"
            : $"Threshold=[{QuantizerSpec.Format(Spec.Threshold!)}] Signed={Spec.IsSigned}";
        if (Spec.IsLut)
            values += $" LutValues=[{QuantizerSpec.Format(Spec.LutValues!)}] LutValuesBitwidth={Spec.EffectiveLutValuesBitwidth} Eps={QuantizerSpec.FormatValue(Spec.EffectiveEps)}";
        string channels = !Spec.PerChannel ? "" : Spec.ChannelAxis is int axis ? $" PerChannel ChannelAxis={axis}" : " PerChannel";
        if (Spec.GroupSize is int groupSize) channels += $" GroupSize={groupSize}";
        return $"{GetType().Name}(NumBits={Spec.NumBits} {values}{channels})";
    }
}
