using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantShell.Core.Quantization;

/// <summary>An MCT inferable quantizer: holds everything needed to fake-quantize a tensor.</summary>
public interface IInferableQuantizer
{
    QuantizerSpec Spec { get; }
    QuantizationParameters Parameters { get; }

    /// <summary>Fake-quantizes a tensor: same shape and float dtype (integer and bool tensors give float32).</summary>
    Tensor Quantize(Tensor input, bool allowNonFinite = false);

    /// <summary>Binds the quantizer to a C-order tensor shape for span-based or streaming use.</summary>
    QuantizationPlan CreatePlan(IReadOnlyList<long> shape);
}

/// <summary>
/// Shared behaviour of the six quantizers: validation at construction, the grid, and the Tensor path. CPU tensors
/// go through the fused kernel; tensors on other devices through composed TorchSharp ops with the same arithmetic.
/// </summary>
public abstract class InferableQuantizer : IInferableQuantizer
{
    // Chunk of a CPU tensor handed to the kernel at once (elements); keeps every span under 2 GiB.
    private const long TensorChunkElements = 1L << 26;

    protected InferableQuantizer(QuantizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        Spec = spec;
        Parameters = ComputeParameters(spec);
    }

    public QuantizerSpec Spec { get; }
    public QuantizationParameters Parameters { get; }

    public QuantizationTarget Target => Spec.Target;
    public QuantizationMethod Method => Spec.Method;
    public int NumBits => Spec.NumBits;
    public bool PerChannel => Spec.PerChannel;

    /// <summary>Creates the quantizer class for a spec (target x method).</summary>
    public static InferableQuantizer Create(QuantizerSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        spec.Validate();
        return (spec.Target, spec.Method) switch
        {
            (QuantizationTarget.Weights, QuantizationMethod.Pot) => new WeightsPOTInferableQuantizer(spec),
            (QuantizationTarget.Weights, QuantizationMethod.Symmetric) => new WeightsSymmetricInferableQuantizer(spec),
            (QuantizationTarget.Weights, QuantizationMethod.Uniform) => new WeightsUniformInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.Pot) => new ActivationPOTInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.Symmetric) => new ActivationSymmetricInferableQuantizer(spec),
            (QuantizationTarget.Activation, QuantizationMethod.Uniform) => new ActivationUniformInferableQuantizer(spec),
            _ => throw new QuantizerValidationException($"No quantizer for target {spec.Target} and method {spec.Method}.", "Method", "MethodInvalid"),
        };
    }

    private static QuantizationParameters ComputeParameters(QuantizerSpec spec)
    {
        int count = spec.ValueCount;
        var scales = new float[count];
        var zeroPoints = new int[count];
        if (spec.Method == QuantizationMethod.Uniform)
        {
            for (int c = 0; c < count; c++)
            {
                var (min, max) = RangeMath.AdjustUniformRange((float)spec.MinRange![c], (float)spec.MaxRange![c], spec.NumBits);
                (scales[c], zeroPoints[c]) = spec.Target == QuantizationTarget.Weights
                    ? RangeMath.UniformWeightsGrid(min, max, spec.NumBits)
                    : RangeMath.UniformActivationGrid(min, max, spec.NumBits);
            }
            return new QuantizationParameters(scales, zeroPoints, 0, (1 << spec.NumBits) - 1);
        }
        for (int c = 0; c < count; c++)
            scales[c] = RangeMath.SymmetricScale(spec.Threshold![c], spec.NumBits, spec.IsSigned);
        var (qmin, qmax) = RangeMath.SymmetricRange(spec.NumBits, spec.IsSigned);
        return new QuantizationParameters(scales, zeroPoints, qmin, qmax);
    }

    public QuantizationPlan CreatePlan(IReadOnlyList<long> shape) => QuantizationPlan.Create(Spec, Parameters, shape);

    public Tensor Quantize(Tensor input, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var scope = torch.NewDisposeScope();
        var plan = CreatePlan(input.shape);
        Tensor result;
        if (input.device_type != DeviceType.CPU)
        {
            result = QuantizeComposed(input, plan);
        }
        else
        {
            var stats = new KernelStats();
            result = input.dtype switch
            {
                ScalarType.Float32 => QuantizeCpu<float>(input, plan, ref stats),
                ScalarType.Float64 => QuantizeCpu<double>(input, plan, ref stats),
                ScalarType.Float16 or ScalarType.BFloat16 => QuantizeCpu<float>(input.to_type(ScalarType.Float32), plan, ref stats).to_type(input.dtype),
                ScalarType.ComplexFloat32 or ScalarType.ComplexFloat64 =>
                    throw new QuantShellException($"Complex tensors cannot be quantized (dtype {input.dtype}).", "DTypeNotSupported", QuantShellErrorKind.InvalidData, "input"),
                _ => QuantizeCpu<float>(input.to_type(ScalarType.Float32), plan, ref stats),
            };
            if (stats.NonFinite > 0 && !allowNonFinite)
                throw NonFiniteInput.Create("input tensor", stats.NonFinite, FirstNonFinite(input, plan.Shape));
        }
        return result.MoveToOuterDisposeScope();
    }

    private static Tensor QuantizeCpu<T>(Tensor input, QuantizationPlan plan, ref KernelStats stats)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IMinMaxValue<T>
    {
        var source = input.contiguous();
        var output = torch.empty(input.shape, input.dtype, input.device);
        if (plan.ElementCount == 0) return output;
        var flatSource = source.reshape(-1);
        var flatOutput = output.reshape(-1);
        for (long start = 0; start < plan.ElementCount; start += TensorChunkElements)
        {
            long count = Math.Min(TensorChunkElements, plan.ElementCount - start);
            using var sourceChunk = flatSource.narrow(0, start, count);
            using var outputChunk = flatOutput.narrow(0, start, count);
            plan.Apply(MemoryMarshal.Cast<byte, T>(sourceChunk.bytes), MemoryMarshal.Cast<byte, T>(outputChunk.bytes), start, ref stats);
        }
        return output;
    }

    /// <summary>The same arithmetic with TorchSharp ops, for tensors that are not on the CPU (no saturation check there).</summary>
    internal Tensor QuantizeComposed(Tensor input, QuantizationPlan plan)
    {
        var work = input.dtype is ScalarType.Float32 or ScalarType.Float64 ? input : input.to_type(ScalarType.Float32);
        var broadcast = Enumerable.Repeat(1L, input.shape.Length).ToArray();
        if (plan.ChannelAxis is int axis) broadcast[axis] = plan.Channels;
        var scales = Parameters.Scales.ToArray();
        var scale = torch.tensor(scales, device: input.device).reshape(broadcast).to_type(work.dtype);
        var inverse = torch.tensor(scales.Select(s => 1.0f / s).ToArray(), device: input.device).reshape(broadcast).to_type(work.dtype);
        var zero = torch.tensor(Parameters.ZeroPoints.Select(z => (float)z).ToArray(), device: input.device).reshape(broadcast).to_type(work.dtype);
        var q = work.mul(inverse).round_().add_(zero).clamp_(Parameters.QuantMin, Parameters.QuantMax);
        var result = q.sub_(zero).mul_(scale);
        return input.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? result.to_type(input.dtype) : result;
    }

    private static long[] FirstNonFinite(Tensor input, long[] shape)
    {
        var flat = torch.isfinite(input.to_type(ScalarType.Float64)).logical_not().reshape(-1).nonzero();
        long index = flat.numel() == 0 ? 0 : flat[0, 0].item<long>();
        return NonFiniteInput.Unravel(index, shape);
    }

    public override string ToString()
    {
        string values = Spec.Method == QuantizationMethod.Uniform
            ? $"MinRange=[{QuantizerSpec.Format(Spec.MinRange!)}] MaxRange=[{QuantizerSpec.Format(Spec.MaxRange!)}]"
            : $"Threshold=[{QuantizerSpec.Format(Spec.Threshold!)}] Signed={Spec.IsSigned}";
        string channels = Spec.PerChannel ? $" PerChannel ChannelAxis={Spec.EffectiveChannelAxis}" : "";
        return $"{GetType().Name}(NumBits={Spec.NumBits} {values}{channels})";
    }
}

/// <summary>Builds the error for NaN/±inf inputs when they are not explicitly allowed.</summary>
public static class NonFiniteInput
{
    public const string ErrorId = "NonFiniteInput";

    public static QuantShellException Create(string source, long count, long[] firstIndex) =>
        new($"{source}: {count} non-finite value{(count == 1 ? "" : "s")} (NaN or ±infinity) found, the first at index [{string.Join(", ", firstIndex)}]; " +
            "quantizing them has no meaningful result. Pass -AllowNonFinite (--allow-non-finite) to keep NaN and saturate ±infinity.",
            ErrorId, QuantShellErrorKind.InvalidData, source);

    /// <summary>C-order multi-index of a flat index.</summary>
    public static long[] Unravel(long flatIndex, IReadOnlyList<long> shape)
    {
        var index = new long[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--)
        {
            if (shape[d] == 0) continue;
            index[d] = flatIndex % shape[d];
            flatIndex /= shape[d];
        }
        return index;
    }
}
