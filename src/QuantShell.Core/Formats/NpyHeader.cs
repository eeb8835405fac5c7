using System.Globalization;
using System.Text;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>A parsed .npy header: dtype, memory order, shape and where the data starts.</summary>
public sealed record NpyHeader(int MajorVersion, DType DType, bool FortranOrder, long[] Shape, long DataOffset)
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
            throw new TensorFormatException(path, "not an .npy file (the magic string \\x93NUMPY is missing).", ErrorIds.NpyMagicInvalid);
        if (got < 10)
            throw new TensorFormatException(path, "the file ends inside the .npy preamble.", ErrorIds.NpyHeaderTruncated);
        int major = prefix[6], minor = prefix[7];
        if (major is not (1 or 2 or 3) || minor != 0)
            throw new TensorFormatException(path, $"format version {major}.{minor} is not supported (1.0, 2.0 and 3.0 are).", ErrorIds.NpyVersionNotSupported);
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
                throw new TensorFormatException(path, "the file ends inside the .npy preamble.", ErrorIds.NpyHeaderTruncated);
            headerLength = (uint)(prefix[8] | (prefix[9] << 8) | (prefix[10] << 16) | (prefix[11] << 24));
            preamble = 12;
        }
        if (headerLength > MaxHeaderBytes)
            throw new TensorFormatException(path, $"header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes.", ErrorIds.NpyHeaderTooLarge);
        if (stream.CanSeek && stream.Length - preamble < headerLength)
            throw new TensorFormatException(path, $"header length {headerLength} runs past the end of the file ({stream.Length} bytes).", ErrorIds.NpyHeaderTruncated);
        var headerBytes = new byte[headerLength];
        if (ReadUpTo(stream, headerBytes) < headerLength)
            throw new TensorFormatException(path, $"header length {headerLength} runs past the end of the file.", ErrorIds.NpyHeaderTruncated);
        string text;
        try
        {
            text = (major == 3 ? new UTF8Encoding(false, true) : Encoding.Latin1).GetString(headerBytes);
        }
        catch (DecoderFallbackException)
        {
            throw new TensorFormatException(path, "the header is not valid UTF-8.", ErrorIds.NpyHeaderInvalid);
        }
        var (descr, fortran, shape) = new HeaderLiteralParser(text, path).ParseDict();
        var dtype = DType.Parse(descr, path);
        long count = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
                throw new TensorFormatException(path, $"shape {FormatShape(shape)} has a negative dimension.", ErrorIds.NpyShapeInvalid);
            if (dim != 0 && count > long.MaxValue / dim / dtype.ItemSize)
                throw new TensorFormatException(path, $"shape {FormatShape(shape)} has more elements than can exist.", ErrorIds.NpyShapeInvalid);
            count *= dim;
        }
        var header = new NpyHeader(major, dtype, fortran, shape, preamble + headerLength);
        if (stream.CanSeek)
        {
            long available = stream.Length - header.DataOffset;
            if (available < header.DataBytes)
                throw new TensorFormatException(path, $"data is truncated: shape {header.ShapeText} of {dtype.Name} needs {header.DataBytes} bytes but the file holds {available}.", ErrorIds.NpyDataTruncated);
            if (available > header.DataBytes)
                throw new TensorFormatException(path, $"{available - header.DataBytes} bytes of trailing data after the array of shape {header.ShapeText} ({header.DataBytes} bytes).", ErrorIds.NpyTrailingData);
        }
        return header;
    }

    /// <summary>Writes a little-endian, C-order header (version 1.0, or 2.0 when the text does not fit), padded to 64 bytes.</summary>
    public static void Write(Stream stream, DType dtype, IReadOnlyList<long> shape, bool fortranOrder = false)
    {
        string dict = $"{{'descr': '{dtype.Descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {FormatShape(shape)}, }}";
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
                    if (Peek() == '[') throw new TensorFormatException(_path, "structured dtypes (a list as 'descr') are not supported.", ErrorIds.NpyDTypeNotSupported);
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
            if (dims.Count >= NpyHeader.MaxRank) throw new TensorFormatException(_path, $"shape has more than {NpyHeader.MaxRank} dimensions.", ErrorIds.NpyShapeInvalid);
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
            throw new TensorFormatException(_path, $"shape dimension {Truncate(digits)} is out of range.", ErrorIds.NpyShapeInvalid);
        if (value < 0) throw new TensorFormatException(_path, $"shape has a negative dimension ({value}).", ErrorIds.NpyShapeInvalid);
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

    private TensorFormatException Fail(string problem) =>
        new(_path, $"the header is not a valid .npy dict literal: {problem} at character {_at}.", ErrorIds.NpyHeaderInvalid);

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
