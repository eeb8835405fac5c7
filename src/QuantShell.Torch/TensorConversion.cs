using QuantShell.Core.Formats;
using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace QuantShell.Torch;

/// <summary>Moves arrays between .npy files and TorchSharp tensors (CPU), keeping shape (0-d included) and float dtype.</summary>
public static class TensorConversion
{
    public static Tensor ToTensor(NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        var dtype = array.DType.ItemSize switch { 2 => ScalarType.Float16, 4 => ScalarType.Float32, _ => ScalarType.Float64 };
        var tensor = torch.empty(array.Shape, dtype);
        if (array.ElementCount > 0)
        {
            ReadOnlySpan<byte> bytes = array.Data switch
            {
                Half[] h => MemoryMarshal.AsBytes(h.AsSpan()),
                float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
                double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
                _ => throw new ArgumentException(array.Data.GetType().Name),
            };
            bytes.CopyTo(tensor.bytes);
        }
        return tensor;
    }

    public static NpyArray ToNpyArray(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = torch.NewDisposeScope();
        var cpu = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        var contiguous = cpu.dtype switch
        {
            ScalarType.Float16 or ScalarType.Float32 or ScalarType.Float64 => cpu.contiguous(),
            _ => cpu.to_type(ScalarType.Float32).contiguous(),
        };
        long n = contiguous.numel();
        if (n > Array.MaxLength) throw new QuantShellException($"Tensor of {n} elements is too large for one array.", ErrorIds.TensorTooLarge, QuantShellErrorKind.InvalidData);
        Array data = contiguous.dtype switch
        {
            ScalarType.Float16 => new Half[n],
            ScalarType.Float32 => new float[n],
            _ => new double[n],
        };
        if (n > 0)
        {
            var target = data switch
            {
                Half[] h => MemoryMarshal.AsBytes(h.AsSpan()),
                float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
                double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
                _ => throw new InvalidOperationException(),
            };
            contiguous.bytes.CopyTo(target);
        }
        return new NpyArray(contiguous.shape, data);
    }
}
