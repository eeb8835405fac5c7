using System.Diagnostics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Processing;

/// <summary>
/// Puts the activation quantizers of a rules file (<see cref="QuantizationRules.Activations"/>) on an ONNX model's values:
/// for each named value, nodes that quantize it are inserted right after it is produced (at the start of its graph for a
/// graph input), and every node that read it — in its graph and in the subgraphs that see it — reads the quantized value
/// instead; a graph output of that name keeps the value as it was. <c>qdq</c>: QuantizeLinear + DequantizeLinear on
/// exactly the quantizer's grid (scale, zero point, int8/uint8), which runtimes run with integer kernels; <c>fake</c>:
/// PyTorch's fake-quantize in float32 ops, bit for bit (LUT quantizers: fake only). Every entry is checked before the
/// model is changed.
/// </summary>
internal static class OnnxActivationQuantizer
{
    /// <summary>Every activation of the rules resolved in the model and checked (nothing is changed yet).</summary>
    public static IReadOnlyList<(ActivationRule Rule, OnnxActivation Value, InferableQuantizer Quantizer)> Plan(OnnxModel model, QuantizationRules rules, OutputFormat format)
    {
        var planned = new List<(ActivationRule Rule, OnnxActivation Value, InferableQuantizer Quantizer)>();
        foreach (var rule in rules.Activations)
        {
            var value = OnnxActivations.Resolve(model, rule.Tensor, out var ambiguous);
            if (value is null)
            {
                string why = ambiguous.Count > 0
                    ? $"is defined in several graphs ({string.Join(", ", ambiguous.Select(g => $"'{g}'"))}); name it GRAPH-PATH:{rule.Tensor}"
                    : "is no value of the model (no graph input or node output of that name, in any graph)";
                throw new QuantShellException($"{rules.Source}: activation '{rule.Tensor}' {why}; {model.Name} was not written.",
                    ErrorIds.RulesTensorNotFound, QuantShellErrorKind.InvalidData, rules.Source);
            }
            if (value.ElementType is not (OnnxDataType.Float or OnnxDataType.Float16 or OnnxDataType.BFloat16 or OnnxDataType.Undefined))
                throw new QuantShellException($"{model.Name}: activation '{rule.Tensor}' is {OnnxDataTypes.Name(value.ElementType)}; activation quantizers are put on float32, float16 and bfloat16 values.",
                    ErrorIds.ActivationDTypeNotSupported, QuantShellErrorKind.InvalidData, model.Name);
            var quantizer = InferableQuantizer.Create(rule.Quantizer);
            if (quantizer is LutQuantizer && format == OutputFormat.Qdq)
                throw new QuantShellException($"{rules.Source}: activation '{rule.Tensor}' has a LUT quantizer, which has no integer grid for QuantizeLinear; " +
                    $"write the model with {Parameter.Format.With(OutputFormat.Fake)} (the table as float ops, bit for bit).", ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, Parameter.Format.Name);
            planned.Add((rule, value, quantizer));
        }
        return planned;
    }

    /// <summary>Puts the planned quantizers on their values (see the class summary); one result per activation.</summary>
    public static IReadOnlyList<QuantizationResult> Apply(OnnxModel model, IReadOnlyList<(ActivationRule Rule, OnnxActivation Value, InferableQuantizer Quantizer)> planned,
                                                          OutputFormat format, string inputPath, string outputPath, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (planned.Count == 0) return [];
        OpsetUpgrade.Raise(model, planned.Max(p => Math.Max(OnnxActivationNodes.OpsetNeeded(format == OutputFormat.Qdq, p.Quantizer), OnnxActivationNodes.OpsetNeeded(p.Value.ElementType))),
            "the activation quantizers", "convert the model to a newer opset first");

        var results = new List<QuantizationResult>();
        foreach (var (rule, value, quantizer) in planned)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var graph = value.Graph;
            OnnxDataType? storage = null;
            // ONNX Runtime 1.31 aborts the process (an assertion in its transpose optimizer) on DequantizeLinear → Transpose
            // whose output a subgraph reads. A Transpose only moves values, so quantizing after it gives the same values:
            // such a Transpose keeps reading the float value and its output is quantized instead.
            var transposes = format == OutputFormat.Qdq ? TransposesIntoSubgraphs(model, graph, value.Name) : [];
            foreach (var transpose in transposes)
                storage = Insert(model, graph, transpose.Output[0], transpose, value.Name, quantizer, format, value.ElementType);
            bool othersRead = graph.Proto.Node.Any(n => !transposes.Any(t => ReferenceEquals(t, n)) && n.Input.Contains(value.Name))
                || graph.Proto.Node.Any(n => OnnxModel.Subgraphs(graph, n).Any(sub => OnnxModel.FreeNames(sub).Contains(value.Name)));
            if (transposes.Count == 0 || othersRead)
                storage = Insert(model, graph, value.Name, graph.Producer(value.Name), value.Name, quantizer, format, value.ElementType, except: transposes);
            results.Add(Result(inputPath, outputPath, rule, quantizer, format, storage, value.ElementType, clock.Elapsed));
        }
        return results;
    }

    /// <summary>
    /// Inserts the nodes that quantize <paramref name="name"/> right after <paramref name="producer"/> (at the start of the
    /// graph when null) and points its readers — but the new nodes and <paramref name="except"/> — at their output. A float16
    /// or bfloat16 value is cast to float32 first and the result back to its type (<see cref="OnnxActivationNodes.InFloat32"/>).
    /// </summary>
    private static OnnxDataType? Insert(OnnxModel model, OnnxGraph graph, string name, NodeProto? producer, string stem, InferableQuantizer quantizer,
                                        OutputFormat format, OnnxDataType type, IReadOnlyCollection<NodeProto>? except = null)
    {
        string output = model.NewName(name + (format == OutputFormat.Qdq ? "/dequantized" : "/fake_quantized"));
        OnnxDataType? storage = null;
        var nodes = OnnxActivationNodes.InFloat32(model, stem, name, output, type, (input, result) =>
        {
            if (quantizer is LutQuantizer lut)
                return OnnxActivationNodes.Lut(model, graph, input, result, stem, lut, model.DefaultOpset);
            if (format == OutputFormat.Qdq)
            {
                var (qdq, codes) = OnnxActivationNodes.Qdq(model, graph, input, result, stem, ((GridQuantizer)quantizer).Parameters);
                storage = codes;
                return qdq;
            }
            return OnnxActivationNodes.Exact(model, graph, input, result, stem, ((GridQuantizer)quantizer).Parameters);
        });
        var skipped = new HashSet<NodeProto>(nodes, ReferenceEqualityComparer.Instance);
        if (except is not null) skipped.UnionWith(except);
        RenameReaders(graph, name, output, skipped);
        int at = producer is null ? 0 : graph.Proto.Node.IndexOf(producer) + 1;
        for (int i = 0; i < nodes.Count; i++) graph.Proto.Node.Insert(at + i, nodes[i]);
        return storage;
    }

    /// <summary>The standard Transposes of <paramref name="graph"/> that read <paramref name="name"/> and whose output a subgraph reads.</summary>
    private static List<NodeProto> TransposesIntoSubgraphs(OnnxModel model, OnnxGraph graph, string name) =>
        graph.Proto.Node.Where(n => n.OpType == "Transpose" && n.Domain is "" or "ai.onnx" && n.Input.Count > 0 && n.Input[0] == name && n.Output.Count == 1
                                    && model.ConsumersOf(graph, n.Output[0]).Any(c => !ReferenceEquals(c.Graph.Proto, graph.Proto)))
            .ToList();

    /// <summary>Points every reader of <paramref name="from"/> in the graph and the subgraphs that see it at <paramref name="to"/>.</summary>
    private static void RenameReaders(OnnxGraph graph, string from, string to, HashSet<NodeProto> except)
    {
        foreach (var node in graph.Proto.Node)
        {
            if (except.Contains(node)) continue;
            for (int i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == from) node.Input[i] = to;
            foreach (var sub in OnnxModel.Subgraphs(graph, node))
            {
                if (sub.Defines(from)) continue;
                RenameReaders(sub, from, to, except);
            }
        }
    }

    private static QuantizationResult Result(string inputPath, string outputPath, ActivationRule rule, InferableQuantizer quantizer, OutputFormat format,
                                             OnnxDataType? storage, OnnxDataType type, TimeSpan elapsed)
    {
        var spec = quantizer.Spec;
        var grid = (quantizer as GridQuantizer)?.Parameters;
        float lutScale = quantizer is LutQuantizer lut ? (float)(spec.Threshold![0] / lut.Table.Scale) : 0;
        return new QuantizationResult
        {
            InputPath = inputPath,
            OutputPath = outputPath,
            TensorName = rule.Tensor,
            Activation = true,
            Shape = [],
            DType = type is OnnxDataType.Float16 or OnnxDataType.BFloat16 ? OnnxDataTypes.Name(type) : "float32",
            OutputDType = storage is { } codes ? OnnxDataTypes.Name(codes) : "float32",
            FortranOrder = false,
            Target = spec.Target,
            Method = spec.Method,
            NumBits = spec.NumBits,
            PerChannel = false,
            Threshold = spec.Method == QuantizationMethod.Uniform ? null : spec.Threshold,
            MinRange = spec.Method == QuantizationMethod.Uniform ? spec.MinRange : null,
            MaxRange = spec.Method == QuantizationMethod.Uniform ? spec.MaxRange : null,
            LutValues = spec.IsLut ? spec.LutValues : null,
            Signed = spec.Method == QuantizationMethod.Uniform ? null : spec.IsSigned,
            Scale = grid is null ? [lutScale] : [grid.Scales[0]],
            ZeroPoint = grid is null ? [0] : [grid.ZeroPoints[0]],
            QuantMin = grid?.QuantMin,
            QuantMax = grid?.QuantMax,
            ElementCount = 0,
            NonFiniteCount = 0,
            Quantizer = spec,
            Format = format,
            ElapsedMs = elapsed.TotalMilliseconds,
        };
    }
}
