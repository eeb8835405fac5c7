using System.Buffers.Binary;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Processing;

/// <summary>
/// Turns an ONNX model's <c>qdq</c> format back into its <c>fake</c> format: each recorded weight's codes are decoded by the
/// kernel (bit for bit what quantizing computed) into a tensor of the weight's name and original type — an initializer, or
/// a Constant node where the weight was one — and the nodes and initializers that dequantized it at run time, and the
/// record, are removed.
/// </summary>
internal static class OnnxModelDequantizer
{
    public static IReadOnlyList<DequantizationResult> Write(OnnxTensorFile file, string outputPath, string outputName, WriteOptions write, CancellationToken cancellationToken)
    {
        var model = file.Model;
        if (!file.Metadata.TryGetValue(TensorFiles.RecordKey, out string? json))
            throw new QuantShellException($"{file.Name}: holds no quantization record; only models written with the qdq format can be dequantized.",
                ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, file.Name);
        var record = QuantizationRecord.Parse(json, file.Name);
        if (record.Format != OutputFormat.Qdq || record.Tensors.Any(t => t.Codes is null))
            throw new QuantShellException($"{file.Name}: its quantization record is not one of the qdq format.", ErrorIds.QuantizationRecordMissing, QuantShellErrorKind.InvalidData, file.Name);
        string inputPath = JobInput.ResultPathOf(file.Name);
        var results = new List<DequantizationResult>();
        var restored = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in record.Tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = $"{file.Name}: tensor '{entry.Name}'";
            var (graph, codes) = model.Graphs().Select(g => (Graph: g, Tensor: g.FindInitializer(entry.Codes!))).FirstOrDefault(p => p.Tensor is not null);
            if (codes is null)
                throw new TensorFormatException(file.Name, $"the record names '{entry.Codes}' as the codes of '{entry.Name}', but the model has no such initializer.", ErrorIds.QuantizationRecordMissing);
            var codeType = (OnnxDataType)codes.DataType;
            var valueType = entry.DType switch
            {
                "float32" => OnnxDataType.Float,
                "float16" => OnnxDataType.Float16,
                "bfloat16" => OnnxDataType.BFloat16,
                "float64" => OnnxDataType.Double,
                _ => OnnxDataType.Undefined,
            };
            if (OnnxDataTypes.Name(codeType) != entry.CodeDType || !codes.Dims.SequenceEqual(entry.Shape) || valueType == OnnxDataType.Undefined)
                throw new TensorFormatException(file.Name, $"initializer '{entry.Codes}' is {OnnxDataTypes.Name(codeType)} [{string.Join(", ", codes.Dims)}] but the record says " +
                    $"{entry.CodeDType} [{string.Join(", ", entry.Shape)}] of {entry.DType} values.", ErrorIds.QuantizationRecordMissing);
            var plan = CreatePlan(entry, name);
            var bytes = model.ReadElementBytes(codes, graph).Span;
            int size = OnnxDataTypes.BitsPerElement(codeType) / 8;
            var (min, max) = plan.CodeRange;
            var values = new int[bytes.Length / size];
            for (int i = 0; i < values.Length; i++)
            {
                var at = bytes.Slice(i * size, size);
                int code = codeType switch
                {
                    OnnxDataType.Int8 => (sbyte)at[0],
                    OnnxDataType.UInt8 => at[0],
                    OnnxDataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(at),
                    _ => BinaryPrimitives.ReadUInt16LittleEndian(at),
                };
                if (code < min || code > max)
                    throw new TensorFormatException(name, $"code {code} at index {i} lies outside the quantizer's codes [{min}, {max}].", ErrorIds.TensorLayoutInvalid);
                values[i] = code;
            }
            var dtype = OnnxDataTypes.ToDType(valueType);
            var raw = new byte[values.Length * dtype.ItemSize];
            if (dtype.IsDouble)
            {
                var weights = new double[values.Length];
                plan.Decode<double>(values, weights, 0);
                ElementConverter.Encode<double>(weights, dtype, raw);
            }
            else
            {
                var weights = new float[values.Length];
                plan.Decode<float>(values, weights, 0);
                ElementConverter.Encode<float>(weights, dtype, raw);
            }
            int position = RemoveProducers(graph, entry.Name);
            foreach (string auxiliary in new[] { entry.Codes, entry.Scale, entry.ZeroPoint, entry.Lut }.OfType<string>())
            {
                var tensor = graph.FindInitializer(auxiliary);
                if (tensor is not null && model.ConsumersOf(graph, auxiliary).Count == 0) graph.Proto.Initializer.Remove(tensor);
            }
            var value = OnnxTensorCodec.Tensor(entry.ConstantNode is null ? entry.Name : "", valueType, entry.Shape, raw);
            if (entry.ConstantNode is { } nodeName)
            {
                var constant = new NodeProto { OpType = "Constant", Name = nodeName };
                constant.Output.Add(entry.Name);
                constant.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
                graph.Proto.Node.Insert(Math.Clamp(position, 0, graph.Proto.Node.Count), constant);
            }
            else
            {
                graph.Proto.Initializer.Add(value);
            }
            restored.Add(entry.Name);
            results.Add(new DequantizationResult
            {
                InputPath = inputPath, OutputPath = outputPath, TensorName = entry.Name, Shape = entry.Shape, DType = entry.DType,
                Dequantized = true, CodeDType = entry.CodeDType, Quantizer = entry.Quantizer,
            });
        }
        var props = model.Proto.MetadataProps;
        foreach (var prop in props.Where(p => p.Key == TensorFiles.RecordKey).ToList()) props.Remove(prop);
        foreach (var held in model.ConstantTensors().Where(i => !restored.Contains(i.Name)))
        {
            results.Add(new DequantizationResult
            {
                InputPath = inputPath, OutputPath = outputPath, TensorName = held.Name, Shape = held.Dims,
                DType = OnnxDataTypes.Name(held.DataType), Dequantized = false,
            });
        }
        cancellationToken.ThrowIfCancellationRequested();
        model.Save(outputPath, write, outputName);
        return results;
    }

    private static Kernels.QuantizationPlan CreatePlan(QuantizedTensorRecord entry, string name)
    {
        try
        {
            return InferableQuantizer.Create(entry.Quantizer).CreatePlan(entry.Shape);
        }
        catch (QuantShellException ex)
        {
            throw ex.WithSource(name);
        }
    }

    /// <summary>
    /// Removes the node that produces <paramref name="value"/> and, back from it, every node whose output nothing else
    /// reads; returns the position of the first node removed (where the weight's producer goes back), or -1.
    /// </summary>
    private static int RemoveProducers(OnnxGraph graph, string value)
    {
        var node = graph.Producer(value);
        if (node is null) return -1;
        int position = graph.Proto.Node.IndexOf(node);
        graph.Proto.Node.RemoveAt(position);
        foreach (string input in node.Input)
        {
            if (input.Length == 0 || graph.Proto.Node.Any(n => n.Input.Contains(input)) || graph.IsOutput(input)) continue;
            int earlier = RemoveProducers(graph, input);
            if (earlier >= 0) position = Math.Min(position, earlier);
        }
        return position;
    }
}
