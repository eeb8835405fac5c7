using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Processing;

/// <summary>
/// Turns an <c>int</c> output back into the <c>fake</c> one: each recorded tensor's codes become the values they stand for
/// (the kernel's own decode, so bit for bit what quantizing wrote), in the tensor's original dtype; the scale, zero-point
/// and table tensors and the record are dropped; every other tensor is copied.
/// </summary>
internal static class ModelDequantizer
{
    public static IReadOnlyList<DequantizationResult> Write(TensorFile file, Stream output, string outputPath, CancellationToken cancellationToken)
    {
        if (!file.Metadata.TryGetValue(TensorFiles.RecordKey, out string? json))
            throw new QuantShellException($"{file.Name}: holds no quantization record; only files written with the int format can be dequantized.",
                ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, file.Name);
        var record = QuantizationRecord.Parse(json, file.Name);
        var quantized = record.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var auxiliary = new HashSet<string>(record.Tensors.SelectMany(t => new[] { t.Scale, t.ZeroPoint, t.Lut }).OfType<string>(), StringComparer.Ordinal);
        string inputPath = JobInput.ResultPathOf(file.Name);
        var results = new List<DequantizationResult>();
        var outputs = new List<OutputTensor>();
        foreach (var tensor in file.Tensors)
        {
            if (auxiliary.Contains(tensor.Name)) continue;
            if (!quantized.TryGetValue(tensor.Name, out var entry))
            {
                outputs.Add(new OutputTensor(tensor.Name, tensor.DType, tensor.Shape, stream =>
                {
                    using var source = file.OpenTensor(tensor);
                    source.CopyTo(stream);
                }));
                results.Add(new DequantizationResult { InputPath = inputPath, OutputPath = outputPath, TensorName = tensor.Name, Shape = tensor.Shape, DType = tensor.DType.Name, Dequantized = false });
                continue;
            }
            string name = ModelQuantizer.Source(file, tensor);
            var dtype = OriginalDType(entry.DType, name);
            if (tensor.DType.Name != entry.CodeDType || !tensor.Shape.SequenceEqual(entry.Shape))
                throw new TensorFormatException(file.Name, $"tensor '{tensor.Name}' is {tensor.DType.Name} {tensor.ShapeText} but the record says {entry.CodeDType} {NpyHeader.FormatShape(entry.Shape)}.", ErrorIds.QuantizationRecordMissing);
            QuantizationPlan plan;
            try
            {
                plan = InferableQuantizer.Create(entry.Quantizer).CreatePlan(tensor.Shape);
            }
            catch (QuantShellException ex)
            {
                throw ex.WithSource(name);
            }
            outputs.Add(new OutputTensor(tensor.Name, dtype, tensor.Shape, stream =>
            {
                using var source = file.OpenTensor(tensor);
                if (dtype.IsDouble) Decode<double>(source, tensor, plan, stream, dtype, name, cancellationToken);
                else Decode<float>(source, tensor, plan, stream, dtype, name, cancellationToken);
            }));
            results.Add(new DequantizationResult
            {
                InputPath = inputPath, OutputPath = outputPath, TensorName = tensor.Name, Shape = tensor.Shape, DType = dtype.Name,
                Dequantized = true, CodeDType = tensor.DType.Name, Quantizer = entry.Quantizer,
            });
        }
        var metadata = file.Metadata.Where(pair => pair.Key != TensorFiles.RecordKey).ToDictionary(pair => pair.Key, pair => pair.Value);
        TensorFiles.Write(file.Kind, output, outputs, metadata, cancellationToken);
        return results;
    }

    private static DType OriginalDType(string name, string source) => name switch
    {
        "float16" => DType.Float16,
        "float32" => DType.Float32,
        "float64" => DType.Float64,
        "bfloat16" => DType.BFloat16,
        _ => throw new TensorFormatException(source, $"the record gives dtype '{name}', which is not a floating type.", ErrorIds.QuantizationRecordMissing),
    };

    private static void Decode<T>(Stream source, StoredTensor tensor, QuantizationPlan plan, Stream destination, DType dtype, string name, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        const int perChunk = 1 << 16;
        var sink = new DecodeSink<T>(tensor.DType, perChunk, plan, destination, dtype, name);
        try
        {
            TensorChunks.FromStream(source, tensor.DType.ItemSize, tensor.ElementCount, perChunk, ref sink, truncated: null, cancellationToken);
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>Turns each chunk of codes back into the values they stand for and writes them.</summary>
    private struct DecodeSink<T>(DType codeType, int perChunk, QuantizationPlan plan, Stream destination, DType dtype, string name) : IChunkSink, IDisposable
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private int[]? _codes = ArrayPool<int>.Shared.Rent(perChunk);
        private T[]? _values = ArrayPool<T>.Shared.Rent(perChunk);
        private byte[]? _encoded = ArrayPool<byte>.Shared.Rent(perChunk * dtype.ItemSize);

        public readonly void Take(ReadOnlySpan<byte> bytes, long start, int n)
        {
            var (min, max) = plan.CodeRange;
            int codeSize = codeType.ItemSize;
            for (int i = 0; i < n; i++)
            {
                int code = ReadCode(bytes.Slice(i * codeSize, codeSize), codeType);
                if (code < min || code > max)
                    throw new TensorFormatException(name, $"code {code} at index {start + i} lies outside the quantizer's codes [{min}, {max}].", ErrorIds.TensorLayoutInvalid);
                _codes![i] = code;
            }
            plan.Decode<T>(_codes.AsSpan(0, n), _values.AsSpan(0, n), start);
            ElementConverter.Encode<T>(_values.AsSpan(0, n), dtype, _encoded.AsSpan(0, n * dtype.ItemSize));
            destination.Write(_encoded!, 0, n * dtype.ItemSize);
        }

        public void Dispose()
        {
            if (_codes is not null) ArrayPool<int>.Shared.Return(_codes);
            if (_values is not null) ArrayPool<T>.Shared.Return(_values);
            if (_encoded is not null) ArrayPool<byte>.Shared.Return(_encoded);
            _codes = null;
            _values = null;
            _encoded = null;
        }
    }

    private static int ReadCode(ReadOnlySpan<byte> bytes, DType type) => (type.Kind, type.ItemSize) switch
    {
        (DTypeKind.SignedInteger, 1) => (sbyte)bytes[0],
        (DTypeKind.UnsignedInteger, 1) => bytes[0],
        (DTypeKind.SignedInteger, 2) => BinaryPrimitives.ReadInt16LittleEndian(bytes),
        (DTypeKind.UnsignedInteger, 2) => BinaryPrimitives.ReadUInt16LittleEndian(bytes),
        (DTypeKind.SignedInteger, 4) => BinaryPrimitives.ReadInt32LittleEndian(bytes),
        _ => throw new InvalidOperationException($"{type.Name} is not a code type."),
    };
}
