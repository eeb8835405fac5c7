using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// A safetensors file: 8 bytes of little-endian header length N, N bytes of UTF-8 JSON
/// (<c>{"NAME": {"dtype", "shape", "data_offsets": [begin, end)}, "__metadata__": {str: str}}</c>, padded with spaces),
/// then the data: little-endian, C order, offsets relative to the data's start. The header is checked strictly before
/// anything else is read: at most 100,000,000 bytes of UTF-8 JSON, no key twice, known dtypes, each tensor's byte count
/// equal to its shape times its item size, and the offsets, sorted, tiling the data exactly (no overlap, no hole, nothing
/// past the end, nothing left over).
/// </summary>
public sealed class SafetensorsTensorFile : TensorFile
{
    /// <summary>The largest header the format allows (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    /// <summary>The dtypes QuantShell reads, and the newer ones it copies byte for byte (<see cref="DTypeKind.Opaque"/>).</summary>
    private static readonly Dictionary<string, DType> DTypes = new(StringComparer.Ordinal)
    {
        ["F64"] = DType.Float64, ["F32"] = DType.Float32, ["F16"] = DType.Float16, ["BF16"] = DType.BFloat16,
        ["I64"] = DType.Int64, ["I32"] = DType.Int32, ["I16"] = DType.Int16, ["I8"] = DType.Int8,
        ["U64"] = new(DTypeKind.UnsignedInteger, 8, false), ["U32"] = new(DTypeKind.UnsignedInteger, 4, false),
        ["U16"] = DType.UInt16, ["U8"] = DType.UInt8, ["BOOL"] = new(DTypeKind.Bool, 1, false),
        ["F8_E4M3"] = DType.Opaque("F8_E4M3", 1), ["F8_E5M2"] = DType.Opaque("F8_E5M2", 1), ["F8_E8M0"] = DType.Opaque("F8_E8M0", 1),
        ["C64"] = DType.Opaque("C64", 8),
    };

    private readonly SafeFileHandle _handle;
    private readonly long _headerLength;
    private readonly Dictionary<string, (StoredTensor Tensor, long Begin)> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    private SafetensorsTensorFile(SafeFileHandle handle, string name) : base(name, TensorFileKind.Safetensors)
    {
        _handle = handle;
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8) throw Invalid($"the file is {fileLength} bytes, too short for the 8-byte header length.");
        Span<byte> prefix = stackalloc byte[8];
        TensorFileHandles.ReadExactly(handle, prefix, 0, name, "the header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw Invalid($"the header length {headerLength} exceeds the limit of {MaxHeaderBytes} bytes.");
        if ((long)headerLength > fileLength - 8)
            throw Invalid($"the header length {headerLength} runs past the end of the file ({fileLength} bytes).");
        _headerLength = (long)headerLength;
        var header = new byte[_headerLength];
        TensorFileHandles.ReadExactly(handle, header, 8, name, "the header");
        Tensors = ParseHeader(header, fileLength - 8 - _headerLength);
    }

    public override IReadOnlyList<StoredTensor> Tensors { get; }

    public override IReadOnlyDictionary<string, string> Metadata => _metadata;

    public override string FormatName => "safetensors";

    private long DataStart => 8 + _headerLength;

    public static SafetensorsTensorFile Open(string path, string name)
    {
        var handle = TensorFileHandles.OpenRead(path, name);
        try
        {
            return new SafetensorsTensorFile(handle, name);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private TensorFormatException Invalid(string problem) => new(Name, problem, ErrorIds.SafetensorsHeaderInvalid);

    private List<StoredTensor> ParseHeader(byte[] header, long dataLength)
    {
        var utf8 = new UTF8Encoding(false, true);
        try
        {
            utf8.GetCharCount(header);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid("the header is not valid UTF-8.");
        }
        var parsed = new List<(string Name, DType DType, string StoredDType, long[] Shape, long Begin, long End)>();
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 8 });
        try
        {
            Expect(ref reader, JsonTokenType.StartObject, "the header is not a JSON object");
            var keys = new HashSet<string>(StringComparer.Ordinal);
            while (Next(ref reader) != JsonTokenType.EndObject)
            {
                string key = reader.GetString()!;
                if (!keys.Add(key))
                    throw key == MetadataKey ? Invalid("the header holds '__metadata__' twice.") : Invalid($"tensor '{key}' appears twice in the header.");
                if (key == MetadataKey) ReadMetadata(ref reader);
                else parsed.Add(ReadTensor(ref reader, key));
            }
            // Only padding (whitespace) may follow the object; the reader refuses anything else.
            if (reader.Read()) throw Invalid("the header holds more than one JSON value.");
        }
        catch (JsonException ex)
        {
            throw Invalid($"the header is not valid JSON ({ex.Message}).");
        }
        catch (InvalidOperationException ex)
        {
            throw Invalid($"the header holds a string that is not valid text ({ex.Message}).");
        }

        // The data is the tensors laid end to end in offset order: each begins where the previous one ended, and the last
        // ends where the file does.
        var ordered = parsed.Select((t, i) => (t, i)).OrderBy(p => p.t.Begin).ThenBy(p => p.t.End).ThenBy(p => p.i).Select(p => p.t).ToList();
        long expectedBegin = 0;
        var tensors = new List<StoredTensor>(ordered.Count);
        foreach (var t in ordered)
        {
            if (t.Begin != expectedBegin)
                throw new TensorFormatException(Name, t.Begin < expectedBegin
                    ? $"tensor '{t.Name}': data_offsets [{t.Begin}, {t.End}) overlap the previous tensor's data (which ends at {expectedBegin})."
                    : $"tensor '{t.Name}': data_offsets [{t.Begin}, {t.End}) leave a hole after {expectedBegin}; the tensors must cover the data exactly.",
                    ErrorIds.TensorLayoutInvalid);
            if (t.End > dataLength)
                throw new TensorFormatException(Name, $"tensor '{t.Name}': data_offsets [{t.Begin}, {t.End}) run past the end of the data ({dataLength} bytes).", ErrorIds.TensorDataTruncated);
            var stored = new StoredTensor { Name = t.Name, DType = t.DType, StoredDType = t.StoredDType, Shape = t.Shape, Index = tensors.Count };
            tensors.Add(stored);
            _byName[t.Name] = (stored, t.Begin);
            expectedBegin = t.End;
        }
        if (expectedBegin != dataLength)
            throw new TensorFormatException(Name, $"the tensors' data ends at {expectedBegin} but the file holds {dataLength} bytes of data; the offsets must cover it exactly.", ErrorIds.TensorLayoutInvalid);
        return tensors;
    }

    private (string, DType, string, long[], long, long) ReadTensor(ref Utf8JsonReader reader, string name)
    {
        Expect(ref reader, JsonTokenType.StartObject, $"tensor '{name}' is not a JSON object");
        string? dtypeText = null;
        long[]? shape = null, offsets = null;
        var keys = new HashSet<string>(StringComparer.Ordinal);
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            if (!keys.Add(key)) throw Invalid($"tensor '{name}' has the key '{key}' twice.");
            switch (key)
            {
                case "dtype":
                    Expect(ref reader, JsonTokenType.String, $"tensor '{name}': 'dtype' is not a string");
                    dtypeText = reader.GetString()!;
                    break;
                case "shape":
                    shape = ReadIntegers(ref reader, name, key);
                    break;
                case "data_offsets":
                    offsets = ReadIntegers(ref reader, name, key);
                    break;
                default:
                    reader.Skip(); // other readers ignore unknown fields too
                    break;
            }
        }
        if (dtypeText is null || shape is null || offsets is null)
            throw Invalid($"tensor '{name}' lacks {(dtypeText is null ? "'dtype'" : shape is null ? "'shape'" : "'data_offsets'")}.");
        if (!DTypes.TryGetValue(dtypeText, out var dtype))
            throw new TensorFormatException(Name, $"tensor '{name}': dtype '{Shorten(dtypeText)}' is not supported (F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2 F8_E8M0 C64 are).", ErrorIds.DTypeNotSupported);
        if (offsets.Length != 2)
            throw Invalid($"tensor '{name}': 'data_offsets' has {offsets.Length} numbers instead of [begin, end].");
        if (offsets[1] < offsets[0])
            throw new TensorFormatException(Name, $"tensor '{name}': data_offsets [{offsets[0]}, {offsets[1]}) end before they begin.", ErrorIds.TensorLayoutInvalid);
        long bytes = 1;
        foreach (long dimension in shape)
        {
            if (dimension != 0 && bytes > long.MaxValue / dimension / dtype.ItemSize)
                throw new TensorFormatException(Name, $"tensor '{name}': shape {NpyHeader.FormatShape(shape)} has more elements than can exist.", ErrorIds.TensorLayoutInvalid);
            bytes *= dimension;
        }
        bytes *= dtype.ItemSize;
        if (offsets[1] - offsets[0] != bytes)
            throw new TensorFormatException(Name, $"tensor '{name}': shape {NpyHeader.FormatShape(shape)} of {dtypeText} needs {bytes} bytes but data_offsets [{offsets[0]}, {offsets[1]}) hold {offsets[1] - offsets[0]}.", ErrorIds.TensorLayoutInvalid);
        return (name, dtype, dtypeText, shape, offsets[0], offsets[1]);
    }

    private long[] ReadIntegers(ref Utf8JsonReader reader, string name, string key)
    {
        Expect(ref reader, JsonTokenType.StartArray, $"tensor '{name}': '{key}' is not a list of integers");
        var values = new List<long>();
        while (Next(ref reader) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long value) || value < 0)
                throw Invalid($"tensor '{name}': '{key}' holds something other than a non-negative integer.");
            if (key == "shape" && values.Count >= NpyHeader.MaxRank)
                throw Invalid($"tensor '{name}': shape has more than {NpyHeader.MaxRank} dimensions.");
            values.Add(value);
        }
        return values.ToArray();
    }

    private void ReadMetadata(ref Utf8JsonReader reader)
    {
        if (Next(ref reader) == JsonTokenType.Null) return;
        if (reader.TokenType != JsonTokenType.StartObject) throw Invalid("'__metadata__' is not an object of strings.");
        while (Next(ref reader) != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            if (Next(ref reader) != JsonTokenType.String)
                throw Invalid($"'__metadata__' entry '{Shorten(key)}' is not a string.");
            if (!_metadata.TryAdd(key, reader.GetString()!))
                throw Invalid($"'__metadata__' holds the key '{Shorten(key)}' twice.");
        }
    }

    private JsonTokenType Next(ref Utf8JsonReader reader)
    {
        if (!reader.Read()) throw Invalid("the header's JSON ends early.");
        return reader.TokenType;
    }

    private void Expect(ref Utf8JsonReader reader, JsonTokenType type, string problem)
    {
        if (Next(ref reader) != type) throw Invalid(problem + ".");
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";

    public override Stream OpenTensor(StoredTensor tensor)
    {
        var (stored, begin) = _byName[tensor.Name];
        return new FileWindowStream(_handle, DataStart + begin, stored.ByteCount, Name, $"tensor '{tensor.Name}'");
    }

    /// <summary>The header's bytes are kept as they were, so every reader sees the same file; data is rewritten in place.</summary>
    public override void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken)
    {
        using (var head = new FileWindowStream(_handle, 0, DataStart, Name, "the header"))
            StreamCopy.CopyExactly(head, output, DataStart, cancellationToken);
        foreach (var tensor in Tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var rewriter = rewrite(tensor);
            using var source = OpenTensor(tensor);
            if (rewriter is null) StreamCopy.CopyExactly(source, output, tensor.ByteCount, cancellationToken);
            else BoundedOutputStream.Run(rewriter, tensor, source, output);
        }
        output.Flush();
    }

    /// <summary>
    /// Writes a new safetensors file: <c>__metadata__</c> first (when there is any), the tensors in the given order, the
    /// header padded with spaces to a multiple of 8 bytes.
    /// </summary>
    internal static void Write(Stream output, IReadOnlyList<OutputTensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        OutputTensors.CheckAll(tensors);
        var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (metadata.Count > 0)
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) writer.WriteString(key, value);
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (tensor.Name == MetadataKey) throw new ArgumentException($"A tensor cannot be named '{MetadataKey}'.", nameof(tensors));
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", DTypeName(tensor.DType));
                writer.WriteStartArray("shape");
                foreach (long dimension in tensor.Shape) writer.WriteNumberValue(dimension);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += tensor.ByteCount;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        long padded = (json.Length + 7) / 8 * 8;
        while (json.Length < padded) json.WriteByte((byte)' ');
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(prefix, json.Length);
        output.Write(prefix);
        json.Position = 0;
        json.CopyTo(output);
        foreach (var tensor in tensors) OutputTensors.WriteExactly(tensor, output);
        output.Flush();
    }

    /// <summary>The safetensors name of a dtype (<c>F32</c>, <c>BF16</c>, ...).</summary>
    internal static string DTypeName(DType dtype) =>
        DTypes.FirstOrDefault(p => p.Value == dtype with { BigEndian = false }).Key
        ?? throw new ArgumentException($"safetensors has no dtype for {dtype.Name}.", nameof(dtype));

    protected override void Dispose(bool disposing)
    {
        if (disposing) _handle.Dispose();
    }
}
