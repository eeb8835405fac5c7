using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace QuantShell.Core.Kernels;

/// <summary>One (scale, zero point) grid in the element type: scale and its float32 reciprocal are float32 values.</summary>
public readonly struct Grid<T> where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
{
    public Grid(float scale, int zeroPoint, int quantMin, int quantMax)
    {
        Scale = T.CreateChecked(scale);
        Inverse = T.CreateChecked(1.0f / scale); // PyTorch: float inv_scale = 1.0f / scale, once per scale
        ZeroPoint = T.CreateChecked(zeroPoint);
        QuantMin = T.CreateChecked(quantMin);
        QuantMax = T.CreateChecked(quantMax);
    }

    public T Scale { get; }
    public T Inverse { get; }
    public T ZeroPoint { get; }
    public T QuantMin { get; }
    public T QuantMax { get; }
}
