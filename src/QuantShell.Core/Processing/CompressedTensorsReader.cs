using System.Buffers.Binary;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;

namespace QuantShell.Core.Processing;

/// <summary>
/// Dequantizes a shard in compressed-tensors' pack-quantized layout, as the format's own decompressor does: each module's
/// codes unpacked from <c>M.weight_packed</c> (less 2^(b-1)), less its zero point (unpacked from
/// <c>M.weight_zero_point</c>, asymmetric only), times <c>M.weight_scale</c> of its row (and group), computed in the
/// scale's dtype, into <c>M.weight</c> of shape <c>M.weight_shape</c>. The bits, symmetry and group size come from the
/// config.json beside the shard. Every size is checked against the header before anything is read.
/// </summary>
internal static class CompressedTensorsReader
{
    private const string Packed = ".weight_packed";

    /// <summary>The scheme lookup of the config.json beside <paramref name="shardPath"/>, when the shard holds packed weights and that config is compressed-tensors.</summary>
    public static Func<string, CompressedTensorsConfig.Scheme?>? Recognize(TensorFile file, string shardPath)
    {
        if (file.Kind != TensorFileKind.Safetensors || !file.Tensors.Any(t => t.Name.EndsWith(Packed, StringComparison.Ordinal))) return null;
        string folder = Path.GetDirectoryName(Path.GetFullPath(shardPath))!;
        string configPath = Path.Combine(folder, ModelFolder.ConfigFileName);
        string configName = Path.Combine(Path.GetDirectoryName(file.Name) ?? "", ModelFolder.ConfigFileName);
        if (!File.Exists(configPath))
            throw new QuantShellException($"{file.Name}: holds compressed-tensors weights (*{Packed}) but no config.json lies beside it to say their bits and groups.",
                ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, file.Name);
        return CompressedTensorsConfig.Read(ModelFolder.ReadObject(configPath, configName), configName)
            ?? throw new QuantShellException($"{configName}: has no compressed-tensors quantization_config for the packed weights of {file.Name}.", ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, configName);
    }

    public static IReadOnlyList<DequantizationResult> Write(TensorFile file, Func<string, CompressedTensorsConfig.Scheme?> schemes, Stream output, string outputPath, CancellationToken cancellationToken)
    {
        var byName = file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var consumed = new HashSet<string>(StringComparer.Ordinal);
        string inputPath = JobInput.ResultPathOf(file.Name);
        var outputs = new List<OutputTensor>();
        var results = new List<DequantizationResult>();
        foreach (var tensor in file.Tensors)
        {
            if (!tensor.Name.EndsWith(Packed, StringComparison.Ordinal)) continue;
            string module = tensor.Name[..^Packed.Length];
            var scheme = schemes(module)
                ?? throw Invalid(file, tensor.Name, "config.json's quantization_config does not quantize this module (or ignores it)");
            var scale = Need(file, byName, module + ".weight_scale");
            var shapeTensor = Need(file, byName, module + ".weight_shape");
            StoredTensor? zero = scheme.Symmetric ? null : Need(file, byName, module + ".weight_zero_point");
            consumed.UnionWith(new[] { tensor.Name, scale.Name, shapeTensor.Name }.Concat(zero is null ? [] : [zero.Name]));
            long[] shape = ReadShape(file, shapeTensor);
            var layout = Check(file, tensor, scale, zero, shape, scheme);
            var dtype = scale.DType;
            outputs.Add(new OutputTensor(module + ".weight", dtype, shape, stream => Decode(file, tensor, scale, zero, layout, scheme, stream, cancellationToken)));
            results.Add(new DequantizationResult
            {
                InputPath = inputPath, OutputPath = outputPath, TensorName = module + ".weight", Shape = shape, DType = dtype.Name, Dequantized = true, CodeDType = "int32",
            });
        }
        foreach (var tensor in file.Tensors)
        {
            if (consumed.Contains(tensor.Name)) continue;
            if (tensor.Name.EndsWith(".weight_scale", StringComparison.Ordinal) || tensor.Name.EndsWith(".weight_zero_point", StringComparison.Ordinal) || tensor.Name.EndsWith(".weight_shape", StringComparison.Ordinal))
            {
                if (byName.ContainsKey(tensor.Name[..tensor.Name.LastIndexOf(".weight_", StringComparison.Ordinal)] + Packed)) continue;
            }
            outputs.Add(new OutputTensor(tensor.Name, tensor.DType, tensor.Shape, stream =>
            {
                using var source = file.OpenTensor(tensor);
                StreamCopy.CopyExactly(source, stream, tensor.ByteCount, cancellationToken);
            }));
            results.Add(new DequantizationResult { InputPath = inputPath, OutputPath = outputPath, TensorName = tensor.Name, Shape = tensor.Shape, DType = tensor.DType.Name, Dequantized = false });
        }
        TensorFiles.Write(TensorFileKind.Safetensors, output, outputs, new Dictionary<string, string>(file.Metadata), cancellationToken);
        return results;
    }

    private sealed record Layout(long Rows, long Columns, long Words, int Groups, long GroupSize);

    private static Layout Check(TensorFile file, StoredTensor packed, StoredTensor scale, StoredTensor? zero, long[] shape, CompressedTensorsConfig.Scheme scheme)
    {
        if (shape.Length != 2 || shape[0] < 0 || shape[1] < 0)
            throw Invalid(file, packed.Name, $"weight_shape {NpyHeader.FormatShape(shape)} is not the (out, in) of a Linear weight");
        long rows = shape[0], columns = shape[1];
        long words = CompressedTensorsWriter.PackedWords(columns, scheme.NumBits);
        if (packed.DType != DType.Int32 || packed.Rank != 2 || packed.Shape[0] != rows || packed.Shape[1] != words)
            throw Invalid(file, packed.Name, $"is {packed.DType.Name} {packed.ShapeText} but weight_shape {NpyHeader.FormatShape(shape)} at {scheme.NumBits} bits needs int32 ({rows}, {words})");
        int groups = scheme.GroupSize is int g ? checked((int)((columns + g - 1) / g)) : 1;
        if (!scale.DType.IsFloating || scale.Rank != 2 || scale.Shape[0] != rows || scale.Shape[1] != groups)
            throw Invalid(file, scale.Name, $"is {scale.DType.Name} {scale.ShapeText} but {rows} rows of {groups} group(s) need a float ({rows}, {groups})");
        if (zero is not null && (zero.DType != DType.Int32 || zero.Rank != 2 || zero.Shape[0] != CompressedTensorsWriter.PackedWords(rows, scheme.NumBits) || zero.Shape[1] != groups))
            throw Invalid(file, zero.Name, $"is {zero.DType.Name} {zero.ShapeText} but needs int32 ({CompressedTensorsWriter.PackedWords(rows, scheme.NumBits)}, {groups})");
        return new Layout(rows, columns, words, groups, scheme.GroupSize ?? Math.Max(1, columns));
    }

    private static void Decode(TensorFile file, StoredTensor packed, StoredTensor scaleTensor, StoredTensor? zeroTensor, Layout layout,
                               CompressedTensorsConfig.Scheme scheme, Stream output, CancellationToken cancellationToken)
    {
        if (layout.Rows == 0 || layout.Columns == 0) return;
        int bits = scheme.NumBits, offset = 1 << (bits - 1);
        var scales = new float[layout.Rows * layout.Groups];
        ElementConverter.Decode<float>(ReadAll(file, scaleTensor), scaleTensor.DType, scales);
        var zeros = new int[layout.Rows * layout.Groups];
        if (zeroTensor is not null)
        {
            // Packed along the rows: word w of group column g at [w, g].
            var words = ReadAll(file, zeroTensor);
            long zeroWords = zeroTensor.Shape[0];
            var column = new byte[zeroWords * 4];
            for (int g = 0; g < layout.Groups; g++)
            {
                for (long w = 0; w < zeroWords; w++) words.AsSpan((int)((w * layout.Groups + g) * 4), 4).CopyTo(column.AsSpan((int)(w * 4)));
                for (long r = 0; r < layout.Rows; r++) zeros[r * layout.Groups + g] = (int)Unpack(column, r, bits) - offset;
            }
        }
        var dtype = scaleTensor.DType;
        var rowBytes = new byte[layout.Words * 4];
        var values = new float[layout.Columns];
        var encoded = new byte[layout.Columns * dtype.ItemSize];
        using var source = file.OpenTensor(packed);
        for (long r = 0; r < layout.Rows; r++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            source.ReadExactly(rowBytes);
            for (long c = 0; c < layout.Columns; c++)
            {
                long set = r * layout.Groups + c / layout.GroupSize;
                int code = (int)Unpack(rowBytes, c, bits) - offset;
                // (code - zero) is a small integer and the scale a value of its dtype: their product in float32 is exact,
                // so rounding it once to the dtype is the dtype's own multiplication.
                values[c] = (code - zeros[set]) * scales[set];
            }
            if (dtype.IsDouble)
            {
                var doubles = values.Select(v => (double)v).ToArray();
                ElementConverter.Encode<double>(doubles, dtype, encoded);
            }
            else ElementConverter.Encode<float>(values, dtype, encoded);
            output.Write(encoded);
        }
    }

    private static uint Unpack(byte[] words, long index, int bits)
    {
        long position = index * bits;
        int word = (int)(position >> 5), shift = (int)(position & 31);
        ulong pair = BinaryPrimitives.ReadUInt32LittleEndian(words.AsSpan(word * 4));
        if (shift + bits > 32) pair |= (ulong)BinaryPrimitives.ReadUInt32LittleEndian(words.AsSpan(word * 4 + 4)) << 32;
        return (uint)(pair >> shift) & ((1u << bits) - 1);
    }

    private static long[] ReadShape(TensorFile file, StoredTensor tensor)
    {
        if (tensor.DType.Kind != DTypeKind.SignedInteger || tensor.Rank != 1 || tensor.Shape[0] > 8)
            throw Invalid(file, tensor.Name, $"is {tensor.DType.Name} {tensor.ShapeText}, not the integer list of a weight's shape");
        var bytes = ReadAll(file, tensor);
        return Enumerable.Range(0, (int)tensor.Shape[0]).Select(i => tensor.DType.ItemSize switch
        {
            8 => BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(i * 8)),
            4 => BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(i * 4)),
            2 => BinaryPrimitives.ReadInt16LittleEndian(bytes.AsSpan(i * 2)),
            _ => (long)(sbyte)bytes[i],
        }).ToArray();
    }

    private static byte[] ReadAll(TensorFile file, StoredTensor tensor)
    {
        using var source = file.OpenTensor(tensor);
        var bytes = new byte[tensor.ByteCount];
        source.ReadExactly(bytes);
        return bytes;
    }

    private static StoredTensor Need(TensorFile file, Dictionary<string, StoredTensor> byName, string name) =>
        byName.TryGetValue(name, out var tensor) ? tensor : throw Invalid(file, name, "is missing: the pack-quantized layout needs it beside the packed weight");

    private static QuantShellException Invalid(TensorFile file, string tensor, string problem) =>
        new TensorFormatException(file.Name, $"tensor '{tensor}' {problem}.", ErrorIds.TensorLayoutInvalid);
}
