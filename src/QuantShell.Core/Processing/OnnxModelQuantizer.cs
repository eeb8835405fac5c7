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
/// The <c>int</c> format of other files (codes in place of the values) would leave a model no runtime can run; ONNX's
/// deployable integer format is <c>qdq</c>.
/// </summary>
internal static class OnnxModelQuantizer
{
    public static IReadOnlyList<QuantizationResult> Quantize(OnnxTensorFile file, OutputFormat format, string outputPath, string outputName, WriteOptions write,
                                                             Func<StoredTensor, TensorDecision> decide, FileQuantizeOptions options,
                                                             Action<long>? bytesDone, CancellationToken cancellationToken, QuantizationRules? rules = null)
    {
        if (format == OutputFormat.Int)
            throw new QuantShellException($"{file.Name}: an ONNX model's deployable integer format is qdq (integer initializers feeding DequantizeLinear, " +
                $"which every runtime runs); the int format would leave a model no runtime can run. Use {Parameter.Format.With(OutputFormat.Qdq)} (or {Parameter.Value(OutputFormat.Fake)}).",
                ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, Parameter.Format.Name);
        var results = new QuantizationResult?[file.Tensors.Count];
        string inputPath = JobInput.ResultPathOf(file.Name);
        var quantize = new List<(StoredTensor Tensor, QuantizerRecipe Recipe)>();
        foreach (var tensor in file.Tensors)
        {
            var decision = decide(tensor);
            if (decision.Recipe is { } recipe) quantize.Add((tensor, recipe));
            else
            {
                results[tensor.Index] = QuantizationResult.CreateSkipped(inputPath, outputPath, tensor, decision);
                bytesDone?.Invoke(tensor.ByteCount);
            }
        }
        // Activations named by the rules are checked first: a name the model lacks leaves nothing written.
        var activations = rules is { Activations.Count: > 0 } ? OnnxActivationQuantizer.Plan(file.Model, rules, format) : null;
        if (format == OutputFormat.Qdq) WriteQdq(file, quantize, results, outputPath, options, bytesDone, cancellationToken);
        else WriteFake(file, quantize, results, outputPath, options, bytesDone, cancellationToken);
        var activationResults = activations is null ? [] : OnnxActivationQuantizer.Apply(file.Model, activations, format, inputPath, outputPath, cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
        file.Model.Save(outputPath, write, outputName);
        return [.. ModelQuantizer.Completed(results, file), .. activationResults];
    }

    private static void WriteFake(OnnxTensorFile file, List<(StoredTensor Tensor, QuantizerRecipe Recipe)> quantize, QuantizationResult?[] results,
                                  string outputPath, FileQuantizeOptions options, Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        foreach (var (tensor, recipe) in quantize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            file.Rewrite(tensor, (t, source, destination) =>
                results[t.Index] = ModelQuantizer.QuantizeTensor(file, t, source, destination, outputPath, recipe, options, cancellationToken));
            bytesDone?.Invoke(tensor.ByteCount);
            WholeTensorMemory.AfterModelTensor();
        }
    }

    private static void WriteQdq(OnnxTensorFile file, List<(StoredTensor Tensor, QuantizerRecipe Recipe)> quantize, QuantizationResult?[] results,
                                 string outputPath, FileQuantizeOptions options, Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        var model = file.Model;
        // Every quantizer is resolved, and the opset checked, before the model is changed at all.
        var planned = new List<(StoredTensor Tensor, OnnxConstantTensor Holder, InferableQuantizer Quantizer, SelectionInfo? Selection, QuantizationPlan Plan)>();
        foreach (var (tensor, recipe) in quantize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string name = ModelQuantizer.Source(file, tensor);
            // Refused before any value is chosen, naming the file and the tensor.
            if (recipe.Spec.GroupSize is int groupSize) throw OnnxQdqWeights.NoGroupWiseForm(name, groupSize);
            var (quantizer, selection) = ModelQuantizer.Resolve(file, tensor, recipe, name);
            planned.Add((tensor, file.Holder(tensor), quantizer, selection, quantizer.CreatePlan(tensor.Shape, name)));
            WholeTensorMemory.AfterModelTensor();
        }
        var dequantizer = ChooseDequantizer(model, planned.Select(p => (p.Plan, p.Quantizer.Spec.IsLut, p.Holder.DataType)).ToList());
        var records = new List<QuantizedTensorRecord>();
        var inserted = new Dictionary<OnnxGraph, int>();
        foreach (var (tensor, holder, quantizer, selection, plan) in planned)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var graph = holder.Graph;
            string name = holder.Name;
            var storage = OnnxQdqWeights.StorageDType(plan);
            using var codeStream = new MemoryStream(checked((int)tensor.ElementCount * storage.ItemSize));
            results[tensor.Index] = ModelQuantizer.EncodeTensor(file, tensor, codeStream, outputPath, quantizer, plan, storage, selection, options,
                                                                cancellationToken, OutputFormat.Qdq);
            // The stream's own array when the codes fill it exactly (its capacity was their size): no second copy.
            byte[] codes = codeStream.TryGetBuffer(out var written) && written.Offset == 0 && written.Count == written.Array!.Length ? written.Array : codeStream.ToArray();
            var emitted = OnnxQdqWeights.Emit(model, graph, name, name, name, plan, quantizer.Spec, codes, holder.DataType, dequantizer);
            if (holder.Node is { } constant)
            {
                // The nodes take the Constant node's place, so they come before its readers as it did; the codes go into the
                // graph's initializers like every other weight's.
                int at = graph.Proto.Node.IndexOf(constant);
                graph.Proto.Node.RemoveAt(at);
                for (int i = 0; i < emitted.Nodes.Count; i++) graph.Proto.Node.Insert(at + i, emitted.Nodes[i]);
            }
            else
            {
                // The nodes produce the initializer's name: the initializer goes (and an input of that name, which older IR
                // versions list for every initializer), and the nodes go first, before any reader.
                graph.Proto.Initializer.Remove(holder.Tensor);
                var input = graph.Proto.Input.FirstOrDefault(i => i.Name == name);
                if (input is not null) graph.Proto.Input.Remove(input);
                int at = inserted.GetValueOrDefault(graph);
                for (int i = 0; i < emitted.Nodes.Count; i++) graph.Proto.Node.Insert(at + i, emitted.Nodes[i]);
                inserted[graph] = at + emitted.Nodes.Count;
            }
            // The initializer's float bytes are garbage now that its codes replace it (the tensor file still lists the
            // tensor, so its data is let go of explicitly).
            model.ReleaseData(holder.Tensor);
            WholeTensorMemory.Release(tensor.ByteCount);
            WholeTensorMemory.AfterModelTensor();
            records.Add(new QuantizedTensorRecord
            {
                Name = name,
                DType = tensor.DType.Name,
                Shape = tensor.Shape,
                Quantizer = quantizer.SpecFor(plan),
                CodeDType = OnnxDataTypes.Name(emitted.Storage),
                Codes = emitted.Codes,
                Scale = emitted.ScaleName,
                ZeroPoint = emitted.ZeroPointName,
                Lut = emitted.LutName,
                ConstantNode = holder.Node?.Name,
            });
            bytesDone?.Invoke(tensor.ByteCount);
        }
        if (records.Count > 0) SetRecord(model, new QuantizationRecord { Format = OutputFormat.Qdq, Tensors = records }.ToJson());
    }

    /// <summary>
    /// DequantizeLinear when the model's opset is, or can be raised to, what every weight's form needs without rewriting any
    /// node; else (an op of the model changed its inputs or meaning in between, e.g. Slice at opset 10 for an opset-9 model)
    /// the same arithmetic with Cast, Sub and Mul, which any opset from 7 runs, so the model's own nodes stay as they are.
    /// The opset is raised here when needed.
    /// </summary>
    private static OnnxQdqWeights.Dequantizer ChooseDequantizer(OnnxModel model, List<(QuantizationPlan Plan, bool Lut, OnnxDataType Type)> weights)
    {
        const string what = "the qdq format";
        string advice = $"use {Parameter.Format.With(OutputFormat.Fake)}";
        long Needed(OnnxQdqWeights.Dequantizer dequantizer) =>
            weights.Select(w => OnnxQdqWeights.OpsetNeeded(w.Plan, w.Lut, w.Type, dequantizer)).DefaultIfEmpty(0).Max();
        long preferred = Needed(OnnxQdqWeights.Dequantizer.DequantizeLinear);
        if (OpsetUpgrade.Blocker(model, preferred, rewrites: false) is null)
        {
            OpsetUpgrade.Raise(model, preferred, what, advice);
            return OnnxQdqWeights.Dequantizer.DequantizeLinear;
        }
        OpsetUpgrade.Raise(model, Needed(OnnxQdqWeights.Dequantizer.Arithmetic), what, advice);
        return OnnxQdqWeights.Dequantizer.Arithmetic;
    }

    private static void SetRecord(OnnxModel model, string json)
    {
        var props = model.Proto.MetadataProps;
        var existing = props.FirstOrDefault(p => p.Key == TensorFiles.RecordKey);
        if (existing is not null) existing.Value = json;
        else props.Add(new Formats.Onnx.Protobuf.StringStringEntryProto { Key = TensorFiles.RecordKey, Value = json });
    }
}
