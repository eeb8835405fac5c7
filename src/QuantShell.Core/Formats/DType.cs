using System.Globalization;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>A NumPy dtype as written in an .npy header (<c>descr</c>), e.g. <c>&lt;f4</c> or <c>|b1</c>.</summary>
public sealed record DType(DTypeKind Kind, int ItemSize, bool BigEndian)
{
    public static readonly DType Float16 = new(DTypeKind.Float, 2, false);
    public static readonly DType Float32 = new(DTypeKind.Float, 4, false);
    public static readonly DType Float64 = new(DTypeKind.Float, 8, false);

    /// <summary>The descr string, e.g. <c>&lt;f4</c>, <c>&gt;f8</c>, <c>|u1</c>.</summary>
    public string Descr => $"{(ItemSize == 1 ? '|' : BigEndian ? '>' : '<')}{KindChar}{ItemSize}";

    /// <summary>NumPy-style name: float32, int64, uint8, bool.</summary>
    public string Name => Kind switch
    {
        DTypeKind.Float => $"float{ItemSize * 8}",
        DTypeKind.SignedInteger => $"int{ItemSize * 8}",
        DTypeKind.UnsignedInteger => $"uint{ItemSize * 8}",
        _ => "bool",
    };

    private char KindChar => Kind switch { DTypeKind.Float => 'f', DTypeKind.SignedInteger => 'i', DTypeKind.UnsignedInteger => 'u', _ => 'b' };

    /// <summary>The float dtype a quantized copy is written as: the input's float type, float32 for integers and bool; always little-endian.</summary>
    public DType QuantizedOutput => Kind == DTypeKind.Float ? new DType(DTypeKind.Float, ItemSize, false) : Float32;

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
