using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Processing;

/// <summary>
/// Quantizes the weights of an ONNX model, one decision per initializer (by default the graph says which are weights and
/// their channel axes), and writes the model with <see cref="OnnxModel.Save"/> (atomic; external data into
/// <c>OUTPUT.data</c>):
/// <list type="bullet">
/// <item><c>fake</c>: each quantized initializer holds dequantize(quantize(x)) in its own type, computed exactly as the
/// .npy path computes it; the graph is unchanged;</item>
/// <item><c>qdq</c>: each quantized initializer becomes its integer codes feeding a standard <c>DequantizeLinear</c> (per
/// axis when per channel; tables: <c>Gather</c> × scale) whose output keeps the initializer's name, so every reader, in
/// the graph and its subgraphs, reads the same fake-quantized values (a shared initializer is quantized once); the
/// quantizers are recorded in <c>metadata_props["quantshell"]</c>.</item>
/// </list>
/// The <c>int</c> form of other files (codes in place of the values) would leave a model no runtime can run; ONNX's
/// deployable integer form is <c>qdq</c>.
/// </summary>
internal static class OnnxModelQuantizer
{
    public static IReadOnlyList<QuantizationResult> Quantize(OnnxTensorFile file, OutputForm form, string outputPath, string outputName, WriteOptions write,
                                                             Func<StoredTensor, TensorDecision> decide, FileQuantizeOptions options,
                                                             Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        if (form == OutputForm.Int)
            throw new QuantShellException($"{file.Name}: an ONNX model's deployable integer form is qdq (integer initializers feeding DequantizeLinear, " +
                "which every runtime runs); the int form would leave a model no runtime can run. Use Form Qdq (or Fake).",
                ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidArgument, "Form");
        var results = new QuantizationResult?[file.Tensors.Count];
        string inputPath = JobInput.ResultPathOf(file.Name);
        var quantize = new List<(StoredTensor Tensor, QuantizerRecipe Recipe)>();
        foreach (var tensor in file.Tensors)
        {
            var decision = decide(tensor);
            if (decision.Recipe is { } recipe) quantize.Add((tensor, recipe));
            else
            {
                results[tensor.Index] = QuantizationResult.CreateSkipped(inputPath, outputPath, tensor, decision.SkipReason!);
                bytesDone?.Invoke(tensor.ByteCount);
            }
        }
        if (form == OutputForm.Qdq) WriteQdq(file, quantize, results, outputPath, options, bytesDone, cancellationToken);
        else WriteFake(file, quantize, results, outputPath, options, bytesDone, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        file.Model.Save(outputPath, write, outputName);
        return ModelQuantizer.Completed(results, file);
    }

    private static void WriteFake(OnnxTensorFile file, List<(StoredTensor Tensor, QuantizerRecipe Recipe)> quantize, QuantizationResult?[] results,
                                  string outputPath, FileQuantizeOptions options, Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        foreach (var (tensor, recipe) in quantize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            byte[] bytes = file.Rewrite(tensor, (t, source, destination) =>
                results[t.Index] = ModelQuantizer.QuantizeTensor(file, t, source, destination, outputPath, recipe, options, cancellationToken));
            file.Model.SetRawData(file.Source(tensor).Proto, bytes);
            bytesDone?.Invoke(tensor.ByteCount);
        }
    }

    private static void WriteQdq(OnnxTensorFile file, List<(StoredTensor Tensor, QuantizerRecipe Recipe)> quantize, QuantizationResult?[] results,
                                 string outputPath, FileQuantizeOptions options, Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        var model = file.Model;
        // Every quantizer is resolved, and the opset checked, before the model is changed at all.
        var planned = new List<(StoredTensor Tensor, InferableQuantizer Quantizer, SelectionInfo? Selection, QuantizationPlan Plan)>();
        foreach (var (tensor, recipe) in quantize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = ModelQuantizer.Source(file, tensor);
            if (tensor.DType != DType.Float32)
                throw new QuantShellException($"{name}: is {tensor.DType.Name}; the qdq form is written for float32 weights (DequantizeLinear gives float32). Use Form Fake.",
                    ErrorIds.OutputFormNotSupported, QuantShellErrorKind.InvalidData, file.Name);
            var (quantizer, selection) = ModelQuantizer.Resolve(file, tensor, recipe, name);
            planned.Add((tensor, quantizer, selection, quantizer.CreatePlan(tensor.Shape, name)));
        }
        OpsetUpgrade.Raise(model, planned.Select(p => OnnxQdqWeights.OpsetNeeded(p.Plan, p.Quantizer.Spec.IsLut)).DefaultIfEmpty(0).Max());
        var records = new List<QuantizedTensorRecord>();
        var inserted = new Dictionary<OnnxGraph, int>();
        foreach (var (tensor, quantizer, selection, plan) in planned)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (graph, proto) = file.Source(tensor);
            var storage = OnnxQdqWeights.StorageDType(plan);
            using var codeStream = new MemoryStream(checked((int)tensor.ElementCount * storage.ItemSize));
            results[tensor.Index] = ModelQuantizer.EncodeTensor(file, tensor, codeStream, outputPath, quantizer, plan, storage, selection, options,
                                                                cancellationToken, OutputForm.Qdq);
            var emitted = OnnxQdqWeights.Emit(model, graph, proto.Name, proto.Name, proto.Name, plan, quantizer.Spec, codeStream.ToArray());
            // The nodes produce the initializer's name: the initializer goes (and an input of that name, which older IR
            // versions list for every initializer), and the nodes go first, before any reader.
            graph.Proto.Initializer.Remove(proto);
            var input = graph.Proto.Input.FirstOrDefault(i => i.Name == proto.Name);
            if (input is not null) graph.Proto.Input.Remove(input);
            int at = inserted.GetValueOrDefault(graph);
            for (int i = 0; i < emitted.Nodes.Count; i++) graph.Proto.Node.Insert(at + i, emitted.Nodes[i]);
            inserted[graph] = at + emitted.Nodes.Count;
            records.Add(new QuantizedTensorRecord
            {
                Name = proto.Name,
                DType = tensor.DType.Name,
                Shape = tensor.Shape,
                Quantizer = quantizer.Spec,
                CodeDType = OnnxDataTypes.Name(emitted.Storage),
                Codes = emitted.Nodes[0].Input[0],
                Scale = emitted.Gather ? emitted.Nodes[2].Input[1] : emitted.Nodes[0].Input[1],
                ZeroPoint = emitted.Gather ? null : emitted.Nodes[0].Input[2],
                Lut = emitted.Gather ? emitted.Nodes[1].Input[0] : null,
            });
            bytesDone?.Invoke(tensor.ByteCount);
        }
        if (records.Count > 0) SetRecord(model, new QuantizationRecord { Form = OutputForm.Qdq, Tensors = records }.ToJson());
    }

    private static void SetRecord(OnnxModel model, string json)
    {
        var props = model.Proto.MetadataProps;
        var existing = props.FirstOrDefault(p => p.Key == TensorFiles.RecordKey);
        if (existing is not null) existing.Value = json;
        else props.Add(new Formats.Onnx.Protobuf.StringStringEntryProto { Key = TensorFiles.RecordKey, Value = json });
    }
}
