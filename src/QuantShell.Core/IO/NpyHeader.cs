using System.Globalization;
using System.Text;
using QuantShell.Core.Errors;

namespace QuantShell.Core.IO;

/// <summary>The element types QuantShell reads: floats, signed and unsigned integers, bool.</summary>
public enum NpyKind
{
    Float,
    SignedInteger,
    UnsignedInteger,
    Bool,
}

/// <summary>A NumPy dtype as written in an .npy header (<c>descr</c>), e.g. <c>&lt;f4</c> or <c>|b1</c>.</summary>
public sealed record NpyDType(NpyKind Kind, int ItemSize, bool BigEndian)
{
    public static readonly NpyDType Float16 = new(NpyKind.Float, 2, false);
    public static readonly NpyDType Float32 = new(NpyKind.Float, 4, false);
    public static readonly NpyDType Float64 = new(NpyKind.Float, 8, false);

    /// <summary>The descr string, e.g. <c>&lt;f4</c>, <c>&gt;f8</c>, <c>|u1</c>.</summary>
    public string Descr => $"{(ItemSize == 1 ? '|' : BigEndian ? '>' : '<')}{KindChar}{ItemSize}";

    /// <summary>NumPy-style name: float32, int64, uint8, bool.</summary>
    public string Name => Kind switch
    {
        NpyKind.Float => $"float{ItemSize * 8}",
        NpyKind.SignedInteger => $"int{ItemSize * 8}",
        NpyKind.UnsignedInteger => $"uint{ItemSize * 8}",
        _ => "bool",
    };

    private char KindChar => Kind switch { NpyKind.Float => 'f', NpyKind.SignedInteger => 'i', NpyKind.UnsignedInteger => 'u', _ => 'b' };

    /// <summary>The float dtype a quantized copy is written as: the input's float type, float32 for integers and bool; always little-endian.</summary>
    public NpyDType QuantizedOutput => Kind == NpyKind.Float ? new NpyDType(NpyKind.Float, ItemSize, false) : Float32;

    /// <summary>Parses a descr string; <paramref name="path"/> only names the file in errors.</summary>
    public static NpyDType Parse(string descr, string path)
    {
        if (descr.Length < 2)
            throw new NpyFormatException(path, $"dtype '{descr}' is not a NumPy type string.", "NpyDTypeInvalid");
        char order = descr[0];
        int start = 1;
        if (order is not ('<' or '>' or '|' or '=')) { order = '='; start = 0; }
        char kind = descr[start];
        string sizeText = descr[(start + 1)..];
        if (kind == 'O')
            throw new NpyFormatException(path, $"dtype '{descr}' is an object array (pickled Python objects); QuantShell never loads pickles.", "NpyObjectArrayRefused");
        if (!int.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
            throw new NpyFormatException(path, $"dtype '{descr}' is not supported; QuantShell reads float16/32/64, signed and unsigned integers and bool.", "NpyDTypeNotSupported");
        NpyKind? parsed = kind switch
        {
            'f' when size is 2 or 4 or 8 => NpyKind.Float,
            'i' when size is 1 or 2 or 4 or 8 => NpyKind.SignedInteger,
            'u' when size is 1 or 2 or 4 or 8 => NpyKind.UnsignedInteger,
            'b' when size == 1 => NpyKind.Bool,
            _ => null,
        };
        if (parsed is null)
        {
            string what = kind switch { 'c' => "complex", 'U' or 'S' or 'a' => "string", 'V' => "structured/void", 'M' or 'm' => "datetime", 'f' => "float of unsupported size", _ => "unknown" };
            throw new NpyFormatException(path, $"dtype '{descr}' ({what}) is not supported; QuantShell reads float16/32/64, signed and unsigned integers and bool.", "NpyDTypeNotSupported");
        }
        return new NpyDType(parsed.Value, size, order == '>' && size > 1);
    }
}

/// <summary>A parsed .npy header: dtype, memory order, shape and where the data starts.</summary>
public sealed record NpyHeader(int MajorVersion, NpyDType DType, bool FortranOrder, long[] Shape, long DataOffset)
{
    /// <summary>The header's text is bounded so a hostile length field cannot make us allocate much.</summary>
    public const int MaxHeaderBytes = 1 << 20;
    public const int MaxRank = 64;

    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long DataBytes => ElementCount * DType.ItemSize;

    public string ShapeText => FormatShape(Shape);

    public static string FormatShape(IReadOnlyList<long> shape) =>
        shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";

    /// <summary>Reads and validates the header at the start of <paramref name="stream"/>, leaving it positioned at the data.</summary>
    public static NpyHeader Read(Stream stream, string path)
    {
        Span<byte> prefix = stackalloc byte[12];
        int got = ReadUpTo(stream, prefix[..10]);
        if (got < 6 || !prefix[..6].SequenceEqual(Magic))
            throw new NpyFormatException(path, "not an .npy file (the magic string \\x93NUMPY is missing).", "NpyMagicInvalid");
        if (got < 10)
            throw new NpyFormatException(path, "the file ends inside the .npy preamble.", "NpyHeaderTruncated");
        int major = prefix[6], minor = prefix[7];
        if (major is not (1 or 2 or 3) || minor != 0)
            throw new NpyFormatException(path, $"format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are).", "NpyVersionNotSupported");
        long headerLength;
        int preamble;
        if (major == 1)
        {
            headerLength = prefix[8] | (prefix[9] << 8);
            preamble = 10;
        }
        else
        {
            if (ReadUpTo(stream, prefix[10..12]) < 2)
                throw new NpyFormatException(path, "the file ends inside the .npy preamble.", "NpyHeaderTruncated");
            headerLength = (uint)(prefix[8] | (prefix[9] << 8) | (prefix[10] << 16) | (prefix[11] << 24));
            preamble = 12;
        }
        if (headerLength > MaxHeaderBytes)
            throw new NpyFormatException(path, $"header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes.", "NpyHeaderTooLarge");
        if (stream.CanSeek && stream.Length - preamble < headerLength)
            throw new NpyFormatException(path, $"header length {headerLength} runs past the end of the file ({stream.Length} bytes).", "NpyHeaderTruncated");
        var headerBytes = new byte[headerLength];
        if (ReadUpTo(stream, headerBytes) < headerLength)
            throw new NpyFormatException(path, $"header length {headerLength} runs past the end of the file.", "NpyHeaderTruncated");
        string text;
        try
        {
            text = (major == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw new NpyFormatException(path, "the header is not valid UTF-8.", "NpyHeaderInvalid");
        }
        var (descr, fortran, shape) = new HeaderLiteralParser(text, path).ParseDict();
        var dtype = NpyDType.Parse(descr, path);
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
                throw new NpyFormatException(path, $"shape {FormatShape(shape)} has a negative dimension.", "NpyShapeInvalid");
            if (dim != 0 && count > long.MaxValue / dim / dtype.ItemSize)
                throw new NpyFormatException(path, $"shape {FormatShape(shape)} has more elements than can exist.", "NpyShapeInvalid");
            count *= dim;
        }
        var header = new NpyHeader(major, dtype, fortran, shape, preamble + headerLength);
        if (stream.CanSeek)
        {
            long available = stream.Length - header.DataOffset;
            if (available < header.DataBytes)
                throw new NpyFormatException(path, $"data is truncated: shape {header.ShapeText} of {dtype.Name} needs {header.DataBytes} bytes but the file holds {available}.", "NpyDataTruncated");
            if (available > header.DataBytes)
                throw new NpyFormatException(path, $"{available - header.DataBytes} bytes of trailing data after the array of shape {header.ShapeText} ({header.DataBytes} bytes).", "NpyTrailingData");
        }
        return header;
    }

    /// <summary>Writes a little-endian, C-order header (version 1.0, or 2.0 when the text does not fit), padded to 64 bytes.</summary>
    public static void Write(Stream stream, NpyDType dtype, IReadOnlyList<long> shape)
    {
        string dict = $"{{'descr': '{dtype.Descr}', 'fortran_order': False, 'shape': {FormatShape(shape)}, }}";
        int major = dict.Length + 1 + 10 > ushort.MaxValue ? 2 : 1;
        int preamble = major == 1 ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        string padded = dict.PadRight(total - preamble - 1) + "\n";
        var bytes = new byte[total];
        Magic.CopyTo(bytes, 0);
        bytes[6] = (byte)major;
        bytes[7] = 0;
        int length = padded.Length;
        bytes[8] = (byte)length;
        bytes[9] = (byte)(length >> 8);
        if (major == 2)
        {
            bytes[10] = (byte)(length >> 16);
            bytes[11] = (byte)(length >> 24);
        }
        Encoding.Latin1.GetBytes(padded, 0, padded.Length, bytes, preamble);
        stream.Write(bytes);
    }

    internal static int ReadUpTo(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

/// <summary>
/// Parses the header's Python dict literal as data: string, bool and integer-tuple literals only. Nothing is evaluated;
/// anything else (names, calls, expressions, other keys) is an error.
/// </summary>
internal sealed class HeaderLiteralParser
{
    private readonly string _text;
    private readonly string _path;
    private int _at;

    public HeaderLiteralParser(string text, string path)
    {
        _text = text;
        _path = path;
    }

    public (string Descr, bool FortranOrder, long[] Shape) ParseDict()
    {
        string? descr = null;
        bool? fortran = null;
        long[]? shape = null;
        Expect('{');
        SkipSpace();
        while (Peek() != '}')
        {
            string key = ParseString();
            Expect(':');
            switch (key)
            {
                case "descr":
                    if (descr is not null) throw Fail("the key 'descr' appears twice");
                    SkipSpace();
                    if (Peek() == '[') throw new NpyFormatException(_path, "structured dtypes (a list as 'descr') are not supported.", "NpyDTypeNotSupported");
                    descr = ParseString();
                    break;
                case "fortran_order":
                    if (fortran is not null) throw Fail("the key 'fortran_order' appears twice");
                    fortran = ParseBool();
                    break;
                case "shape":
                    if (shape is not null) throw Fail("the key 'shape' appears twice");
                    shape = ParseShape();
                    break;
                default:
                    throw Fail($"unexpected key '{Truncate(key)}' (only 'descr', 'fortran_order' and 'shape' are allowed)");
            }
            SkipSpace();
            if (Peek() == ',') { _at++; SkipSpace(); }
            else if (Peek() != '}') throw Fail("expected ',' or '}'");
        }
        _at++;
        SkipSpace();
        if (_at != _text.Length) throw Fail("text after the closing '}'");
        if (descr is null) throw Fail("the key 'descr' is missing");
        if (fortran is null) throw Fail("the key 'fortran_order' is missing");
        if (shape is null) throw Fail("the key 'shape' is missing");
        return (descr, fortran.Value, shape);
    }

    private long[] ParseShape()
    {
        Expect('(');
        var dims = new List<long>();
        SkipSpace();
        while (Peek() != ')')
        {
            if (dims.Count >= NpyHeader.MaxRank) throw new NpyFormatException(_path, $"shape has more than {NpyHeader.MaxRank} dimensions.", "NpyShapeInvalid");
            dims.Add(ParseInteger());
            SkipSpace();
            if (Peek() == ',') { _at++; SkipSpace(); }
            else if (Peek() != ')') throw Fail("expected ',' or ')' in the shape");
        }
        _at++;
        return dims.ToArray();
    }

    private long ParseInteger()
    {
        SkipSpace();
        int start = _at;
        if (Peek() == '-') _at++;
        while (_at < _text.Length && char.IsAsciiDigit(_text[_at])) _at++;
        string digits = _text[start.._at];
        if (_at < _text.Length && _text[_at] is 'L' or 'l') _at++; // Python 2 long literal
        if (digits.Length == 0 || digits == "-") throw Fail("expected an integer in the shape");
        if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
            throw new NpyFormatException(_path, $"shape dimension {Truncate(digits)} is out of range.", "NpyShapeInvalid");
        if (value < 0) throw new NpyFormatException(_path, $"shape has a negative dimension ({value}).", "NpyShapeInvalid");
        return value;
    }

    private bool ParseBool()
    {
        SkipSpace();
        if (Matches("True")) return true;
        if (Matches("False")) return false;
        throw Fail("expected True or False for 'fortran_order'");
    }

    private bool Matches(string word)
    {
        if (string.CompareOrdinal(_text, _at, word, 0, word.Length) != 0) return false;
        int end = _at + word.Length;
        if (end < _text.Length && (char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_')) return false;
        _at = end;
        return true;
    }

    private string ParseString()
    {
        SkipSpace();
        char quote = Peek();
        if (quote is not ('\'' or '"')) throw Fail("expected a quoted string");
        int start = ++_at;
        while (_at < _text.Length && _text[_at] != quote)
        {
            if (_text[_at] == '\\') throw Fail("escape sequences are not allowed in header strings");
            _at++;
        }
        if (_at >= _text.Length) throw Fail("unterminated string");
        return _text[start.._at++];
    }

    private void Expect(char c)
    {
        SkipSpace();
        if (Peek() != c) throw Fail($"expected '{c}'");
        _at++;
    }

    private char Peek() => _at < _text.Length ? _text[_at] : '\0';

    private void SkipSpace()
    {
        while (_at < _text.Length && _text[_at] is ' ' or '\t' or '\n' or '\r') _at++;
    }

    private NpyFormatException Fail(string problem) =>
        new(_path, $"the header is not a valid .npy dict literal: {problem} at character {_at}.", "NpyHeaderInvalid");

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
