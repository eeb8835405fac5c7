using System.Globalization;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// An element type with its byte order: a NumPy dtype as an .npy header writes it (<c>descr</c>, e.g. <c>&lt;f4</c> or
/// <c>|b1</c>), and the types of model files (bfloat16; <see cref="DTypeKind.Opaque"/> types copied but never read).
/// </summary>
public sealed record DType(DTypeKind Kind, int ItemSize, bool BigEndian, string? OpaqueName = null)
{
    public static readonly DType Float16 = new(DTypeKind.Float, 2, false);
    public static readonly DType Float32 = new(DTypeKind.Float, 4, false);
    public static readonly DType Float64 = new(DTypeKind.Float, 8, false);
    public static readonly DType BFloat16 = new(DTypeKind.BFloat, 2, false);
    public static readonly DType Int8 = new(DTypeKind.SignedInteger, 1, false);
    public static readonly DType UInt8 = new(DTypeKind.UnsignedInteger, 1, false);
    public static readonly DType Int16 = new(DTypeKind.SignedInteger, 2, false);
    public static readonly DType UInt16 = new(DTypeKind.UnsignedInteger, 2, false);
    public static readonly DType Int32 = new(DTypeKind.SignedInteger, 4, false);
    public static readonly DType Int64 = new(DTypeKind.SignedInteger, 8, false);

    /// <summary>A type copied byte for byte and never read (float8, complex, ...), named as its file names it.</summary>
    public static DType Opaque(string name, int itemSize) => new(DTypeKind.Opaque, itemSize, false, name);

    /// <summary>The .npy descr string, e.g. <c>&lt;f4</c>, <c>&gt;f8</c>, <c>|u1</c>; types NumPy lacks have none.</summary>
    public string Descr => Kind is DTypeKind.BFloat or DTypeKind.Opaque
        ? throw new InvalidOperationException($"{Name} has no .npy descr.")
        : $"{(ItemSize == 1 ? '|' : BigEndian ? '>' : '<')}{KindChar}{ItemSize}";

    /// <summary>NumPy-style name: float32, int64, uint8, bool, bfloat16; an opaque type's own name.</summary>
    public string Name => Kind switch
    {
        DTypeKind.Float => $"float{ItemSize * 8}",
        DTypeKind.SignedInteger => $"int{ItemSize * 8}",
        DTypeKind.UnsignedInteger => $"uint{ItemSize * 8}",
        DTypeKind.Bool => "bool",
        DTypeKind.BFloat => "bfloat16",
        _ => OpaqueName ?? $"opaque{ItemSize * 8}",
    };

    /// <summary>Floating point: the tensors of model files that quantizers apply to.</summary>
    public bool IsFloating => Kind is DTypeKind.Float or DTypeKind.BFloat;

    /// <summary>Read as float64 (float64 data); everything else numeric is computed as float32.</summary>
    public bool IsDouble => Kind == DTypeKind.Float && ItemSize == 8;

    private char KindChar => Kind switch { DTypeKind.Float => 'f', DTypeKind.SignedInteger => 'i', DTypeKind.UnsignedInteger => 'u', _ => 'b' };

    /// <summary>
    /// The type a fake-quantized copy is written as: the input's float type (bfloat16 too), float32 for integers and bool;
    /// always little-endian.
    /// </summary>
    public DType QuantizedOutput => Kind switch
    {
        DTypeKind.Float => new DType(DTypeKind.Float, ItemSize, false),
        DTypeKind.BFloat => BFloat16,
        _ => Float32,
    };

    /// <summary>Parses a descr string; <paramref name="path"/> only names the file in errors.</summary>
    public static DType Parse(string descr, string path)
    {
        if (descr.Length < 2)
            throw new TensorFormatException(path, $"dtype '{descr}' is not a NumPy type string.", ErrorIds.NpyDTypeInvalid);
        char order = descr[0];
        int start = 1;
        if (order is not ('<' or '>' or '|' or '=')) { order = '='; start = 0; }
        char kind = descr[start];
        string sizeText = descr[(start + 1)..];
        if (kind == 'O')
            throw new TensorFormatException(path, $"dtype '{descr}' is an object array (pickled Python objects); QuantShell never loads pickles.", ErrorIds.NpyObjectArrayRefused);
        if (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
            throw new TensorFormatException(path, $"dtype '{descr}' is not supported; QuantShell reads float16/32/64, signed and unsigned integers and bool.", ErrorIds.NpyDTypeNotSupported);
        DTypeKind? parsed = kind switch
        {
            'f' when size is 2 or 4 or 8 => DTypeKind.Float,
            'i' when size is 1 or 2 or 4 or 8 => DTypeKind.SignedInteger,
            'u' when size is 1 or 2 or 4 or 8 => DTypeKind.UnsignedInteger,
            'b' when size == 1 => DTypeKind.Bool,
            _ => null,
        };
        if (parsed is null)
        {
            string what = kind switch { 'c' => "complex", 'U' or 'S' or 'a' => "string", 'V' => "structured/void", 'M' or 'm' => "datetime", 'f' => "float of unsupported size", _ => "unknown" };
            throw new TensorFormatException(path, $"dtype '{descr}' ({what}) is not supported; QuantShell reads float16/32/64, signed and unsigned integers and bool.", ErrorIds.NpyDTypeNotSupported);
        }
        return new DType(parsed.Value, size, order == '>' && size > 1);
    }
}
