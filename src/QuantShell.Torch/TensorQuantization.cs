using System.Numerics;
using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantShell.Torch;

/// <summary>
/// The Tensor path: <c>quantizer.Quantize(tensor)</c> as in MCT. CPU tensors go through the core's fused kernel (the
/// same arithmetic as files, bit for bit); tensors on other devices through composed TorchSharp ops with the same
/// arithmetic. Never disposes the caller's tensor; temporaries live in a dispose scope.
/// </summary>
public static class TensorQuantization
{
    // Chunk of a CPU tensor handed to the kernel at once (elements); keeps every span under 2 GiB.
    private const long TensorChunkElements = 1L << 26;

    /// <summary>Fake-quantizes a tensor: same shape and float dtype (integer and bool tensors give float32).</summary>
    public static Tensor Quantize(this InferableQuantizer quantizer, Tensor input, bool allowNonFinite = false)
    {
        ArgumentNullException.ThrowIfNull(quantizer);
        ArgumentNullException.ThrowIfNull(input);
        using var scope = torch.NewDisposeScope();
        var plan = quantizer.CreatePlan(input.shape);
        Tensor result;
        if (input.device_type != DeviceType.CPU)
        {
            result = QuantizeComposed(quantizer, input, plan);
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
                    throw new QuantShellException($"Complex tensors cannot be quantized (dtype {input.dtype}).", ErrorIds.DTypeNotSupported, QuantShellErrorKind.InvalidData, "input"),
                _ => QuantizeCpu<float>(input.to_type(ScalarType.Float32), plan, ref stats),
            };
            if (stats.NonFinite > 0 && !allowNonFinite)
                throw NonFiniteInput.Create("input tensor", stats.NonFinite, FirstNonFinite(input, plan.Shape));
        }
        return result.MoveToOuterDisposeScope();
    }

    private static Tensor QuantizeCpu<T>(Tensor input, QuantizationPlan plan, ref KernelStats stats)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
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
    internal static Tensor QuantizeComposed(InferableQuantizer quantizer, Tensor input, QuantizationPlan plan)
    {
        if (plan is not GridPlan grid)
            throw new QuantShellException($"{quantizer.GetType().Name} quantizes CPU tensors only; move the tensor to the CPU first.", ErrorIds.DTypeNotSupported, QuantShellErrorKind.InvalidData, "input");
        if (plan.GroupSize is not null)
            throw new QuantShellException($"{quantizer.GetType().Name} with GroupSize quantizes CPU tensors only; move the tensor to the CPU first.", ErrorIds.GroupSizeInvalid, QuantShellErrorKind.InvalidArgument, "GroupSize");
        var parameters = grid.Parameters;
        var work = input.dtype is ScalarType.Float32 or ScalarType.Float64 ? input : input.to_type(ScalarType.Float32);
        var broadcast = Enumerable.Repeat(1L, input.shape.Length).ToArray();
        if (plan.ChannelAxis is int axis) broadcast[axis] = plan.Channels;
        var scales = parameters.Scales.ToArray();
        var scale = torch.tensor(scales, device: input.device).reshape(broadcast).to_type(work.dtype);
        var inverse = torch.tensor(scales.Select(s => 1.0f / s).ToArray(), device: input.device).reshape(broadcast).to_type(work.dtype);
        var zero = torch.tensor(parameters.ZeroPoints.Select(z => (float)z).ToArray(), device: input.device).reshape(broadcast).to_type(work.dtype);
        var q = work.mul(inverse).round_().add_(zero).clamp_(parameters.QuantMin, parameters.QuantMax);
        var result = q.sub_(zero).mul_(scale);
        return input.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? result.to_type(input.dtype) : result;
    }

    private static long[] FirstNonFinite(Tensor input, long[] shape)
    {
        var flat = torch.isfinite(input.to_type(ScalarType.Float64)).logical_not().reshape(-1).nonzero();
        long index = flat.numel() == 0 ? 0 : flat[0, 0].item<long>();
        return NonFiniteInput.Unravel(index, shape);
    }
}
