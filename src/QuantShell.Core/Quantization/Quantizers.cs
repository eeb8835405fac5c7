namespace QuantShell.Core.Quantization;

// The six MCT inferable quantizers. Each is the shared arithmetic of InferableQuantizer with its own parameters;
// constructors mirror MCT's keyword arguments (num_bits, threshold, per_channel, signed, channel_axis, min_range, max_range).

/// <summary>Weights, power-of-two thresholds; per-tensor or per-channel.</summary>
public sealed class WeightsPOTInferableQuantizer : InferableQuantizer
{
    public WeightsPOTInferableQuantizer(int numBits, double[] threshold, bool perChannel = false, bool signed = true, int? channelAxis = null)
        : base(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = numBits, Threshold = threshold, PerChannel = perChannel, Signed = signed, ChannelAxis = channelAxis }) { }

    internal WeightsPOTInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}

/// <summary>Weights, symmetric thresholds; per-tensor or per-channel.</summary>
public sealed class WeightsSymmetricInferableQuantizer : InferableQuantizer
{
    public WeightsSymmetricInferableQuantizer(int numBits, double[] threshold, bool perChannel = false, bool signed = true, int? channelAxis = null)
        : base(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = numBits, Threshold = threshold, PerChannel = perChannel, Signed = signed, ChannelAxis = channelAxis }) { }

    internal WeightsSymmetricInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}

/// <summary>Weights, uniform (asymmetric) ranges; per-tensor or per-channel.</summary>
public sealed class WeightsUniformInferableQuantizer : InferableQuantizer
{
    public WeightsUniformInferableQuantizer(int numBits, double[] minRange, double[] maxRange, bool perChannel = false, int? channelAxis = null)
        : base(new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Uniform, NumBits = numBits, MinRange = minRange, MaxRange = maxRange, PerChannel = perChannel, ChannelAxis = channelAxis }) { }

    internal WeightsUniformInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}

/// <summary>Activations, one power-of-two threshold.</summary>
public sealed class ActivationPOTInferableQuantizer : InferableQuantizer
{
    public ActivationPOTInferableQuantizer(int numBits, double threshold, bool signed = true)
        : this(numBits, new[] { threshold }, signed) { }

    public ActivationPOTInferableQuantizer(int numBits, double[] threshold, bool signed = true)
        : base(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Pot, NumBits = numBits, Threshold = threshold, Signed = signed }) { }

    internal ActivationPOTInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}

/// <summary>Activations, one symmetric threshold.</summary>
public sealed class ActivationSymmetricInferableQuantizer : InferableQuantizer
{
    public ActivationSymmetricInferableQuantizer(int numBits, double threshold, bool signed = true)
        : this(numBits, new[] { threshold }, signed) { }

    public ActivationSymmetricInferableQuantizer(int numBits, double[] threshold, bool signed = true)
        : base(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Symmetric, NumBits = numBits, Threshold = threshold, Signed = signed }) { }

    internal ActivationSymmetricInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}

/// <summary>Activations, one uniform range.</summary>
public sealed class ActivationUniformInferableQuantizer : InferableQuantizer
{
    public ActivationUniformInferableQuantizer(int numBits, double minRange, double maxRange)
        : this(numBits, new[] { minRange }, new[] { maxRange }) { }

    public ActivationUniformInferableQuantizer(int numBits, double[] minRange, double[] maxRange)
        : base(new QuantizerSpec { Target = QuantizationTarget.Activation, Method = QuantizationMethod.Uniform, NumBits = numBits, MinRange = minRange, MaxRange = maxRange }) { }

    internal ActivationUniformInferableQuantizer(QuantizerSpec spec) : base(spec) { }
}
