using System.Text;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Formats.Onnx.Mct;

/// <summary>
/// A node of MCT's <c>mct_quantizers</c> domain read into a <see cref="QuantizerSpec"/>: weight ops take the float weight as
/// input 0 and their values as constant inputs (threshold; min, max; LUT: table, threshold), with attributes
/// <c>num_bits</c>, <c>per_channel</c>, <c>channel_axis</c>, <c>signed</c> (LUT: <c>input_rank</c>,
/// <c>lut_values_bitwidth</c>, <c>eps</c>); activation ops carry <c>threshold</c> or <c>min_range</c>/<c>max_range</c>,
/// <c>num_bits</c> and <c>signed</c> as attributes.
/// </summary>
internal sealed class MctQuantizerNode
{
    public const string Domain = "mct_quantizers";

    private MctQuantizerNode(OnnxGraph graph, NodeProto node, QuantizerSpec spec, string where)
    {
        Graph = graph;
        Node = node;
        Spec = spec;
        Where = where;
    }

    public OnnxGraph Graph { get; }
    public NodeProto Node { get; }
    public QuantizerSpec Spec { get; }

    /// <summary>The model and node, for messages.</summary>
    public string Where { get; }

    public bool IsWeights => Spec.Target == QuantizationTarget.Weights;

    /// <summary>The quantized value: the weight (input 0) or the activation.</summary>
    public string Input => Node.Input[0];

    public string Output => Node.Output[0];

    /// <summary>The inputs that carry the quantizer's values (weights only).</summary>
    public IEnumerable<string> ValueInputs => Node.Input.Skip(1).Where(name => name.Length > 0);

    /// <summary>The op types MCT exports, with the target and method of each.</summary>
    public static readonly IReadOnlyDictionary<string, (QuantizationTarget Target, QuantizationMethod Method)> OpTypes =
        new Dictionary<string, (QuantizationTarget, QuantizationMethod)>(StringComparer.Ordinal)
        {
            ["WeightsPOTQuantizer"] = (QuantizationTarget.Weights, QuantizationMethod.Pot),
            ["WeightsSymmetricQuantizer"] = (QuantizationTarget.Weights, QuantizationMethod.Symmetric),
            ["WeightsUniformQuantizer"] = (QuantizationTarget.Weights, QuantizationMethod.Uniform),
            ["WeightsLUTSymmetricQuantizer"] = (QuantizationTarget.Weights, QuantizationMethod.LutSymmetric),
            ["WeightsLUTPOTQuantizer"] = (QuantizationTarget.Weights, QuantizationMethod.LutPot),
            ["ActivationPOTQuantizer"] = (QuantizationTarget.Activation, QuantizationMethod.Pot),
            ["ActivationSymmetricQuantizer"] = (QuantizationTarget.Activation, QuantizationMethod.Symmetric),
            ["ActivationUniformQuantizer"] = (QuantizationTarget.Activation, QuantizationMethod.Uniform),
        };

    public static bool IsMctNode(NodeProto node) => node.Domain == Domain;

    /// <summary>Reads a node; an unknown op, a missing attribute or input, or invalid values are errors naming the node.</summary>
    public static MctQuantizerNode Read(OnnxModel model, OnnxGraph graph, NodeProto node)
    {
        string where = $"{model.Name}: {graph.Describe(node)}";
        if (!OpTypes.TryGetValue(node.OpType, out var kind))
            throw Invalid(where, $"is not one of the {OpTypes.Count} quantizers MCT exports ({string.Join(", ", OpTypes.Keys)}).");
        if (node.Input.Count < 1 || node.Input[0].Length == 0 || node.Output.Count != 1 || node.Output[0].Length == 0)
            throw Invalid(where, "must have the quantized value as its first input and exactly one output.");
        int numBits = (int)Int(node, "num_bits", where);
        bool signed = Int(node, "signed", where, 1) != 0;
        QuantizerSpec spec;
        if (kind.Target == QuantizationTarget.Activation)
        {
            spec = kind.Method == QuantizationMethod.Uniform
                ? new QuantizerSpec { Target = kind.Target, Method = kind.Method, NumBits = numBits, MinRange = [Float(node, "min_range", where)], MaxRange = [Float(node, "max_range", where)] }
                : new QuantizerSpec { Target = kind.Target, Method = kind.Method, NumBits = numBits, Threshold = [Float(node, "threshold", where)], Signed = signed };
        }
        else
        {
            bool perChannel = Int(node, "per_channel", where, 0) != 0;
            int? axis = perChannel ? (int)Int(node, "channel_axis", where) : null;
            var common = new QuantizerSpec { Target = kind.Target, Method = kind.Method, NumBits = numBits, PerChannel = perChannel, ChannelAxis = axis };
            spec = kind.Method switch
            {
                QuantizationMethod.Uniform => common with { MinRange = Constant(model, graph, node, 1, "min_range", where), MaxRange = Constant(model, graph, node, 2, "max_range", where) },
                QuantizationMethod.LutSymmetric or QuantizationMethod.LutPot => common with
                {
                    LutValues = Constant(model, graph, node, 1, "lut_values", where),
                    Threshold = Constant(model, graph, node, 2, "threshold", where),
                    // MCT's weights LUT quantizers are always signed; a node that says otherwise gets the spec's clear error.
                    Signed = signed ? null : false,
                    LutValuesBitwidth = (int)Int(node, "lut_values_bitwidth", where, QuantizerSpec.DefaultLutValuesBitwidth),
                    Eps = Attribute(node, "eps") is { } eps ? eps.F : null,
                    InputRank = Attribute(node, "input_rank") is { } rank ? (int)rank.I : null,
                },
                _ => common with { Threshold = Constant(model, graph, node, 1, "threshold", where), Signed = signed },
            };
        }
        try
        {
            spec.ValidateComplete();
        }
        catch (QuantizerValidationException ex)
        {
            throw ex.WithSource(where);
        }
        return new MctQuantizerNode(graph, node, spec, where);
    }

    /// <summary>The mctq_version attribute, when the node has one.</summary>
    public string? Version => Attribute(Node, "mctq_version") is { } version ? Encoding.UTF8.GetString(version.S.Span) : null;

    private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    private static long Int(NodeProto node, string name, string where, long? defaultValue = null)
    {
        var attribute = Attribute(node, name);
        if (attribute is null)
            return defaultValue ?? throw Invalid(where, $"has no '{name}' attribute.");
        if (!attribute.HasI)
            throw Invalid(where, $"attribute '{name}' is not an integer.");
        return attribute.I;
    }

    private static double Float(NodeProto node, string name, string where)
    {
        var attribute = Attribute(node, name) ?? throw Invalid(where, $"has no '{name}' attribute.");
        if (attribute.HasF) return attribute.F;
        if (attribute.Floats.Count == 1) return attribute.Floats[0];
        throw Invalid(where, $"attribute '{name}' is not a float.");
    }

    /// <summary>The values of a constant input: an initializer in scope or the output of a Constant node.</summary>
    private static double[] Constant(OnnxModel model, OnnxGraph graph, NodeProto node, int index, string what, string where)
    {
        if (node.Input.Count <= index || node.Input[index].Length == 0)
            throw Invalid(where, $"has no input {index} ({what}).");
        var tensor = ConstantTensor(graph, node.Input[index])
            ?? throw Invalid(where, $"input {index} ({what}) '{node.Input[index]}' is not a constant (an initializer or a Constant node's output).");
        var values = model.ReadValues(tensor, graph).Data;
        return values switch
        {
            float[] f => Array.ConvertAll(f, v => (double)v),
            double[] d => d,
            Half[] h => Array.ConvertAll(h, v => (double)v),
            _ => throw new InvalidOperationException(values.GetType().Name),
        };
    }

    /// <summary>The tensor behind a constant value name: an initializer in scope, or a Constant node's <c>value</c>.</summary>
    public static TensorProto? ConstantTensor(OnnxGraph graph, string name)
    {
        if (graph.ResolveInitializer(name) is { } initializer) return initializer.Tensor;
        for (var g = graph; g is not null; g = g.Parent)
        {
            var producer = g.Producer(name);
            if (producer is null) continue;
            if (producer.OpType != "Constant" || !(producer.Domain is "" or "ai.onnx")) return null;
            return producer.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
        }
        return null;
    }

    private static QuantShellException Invalid(string where, string problem) =>
        new($"{where} {problem}", ErrorIds.MctQuantizerNodeInvalid, QuantShellErrorKind.InvalidData, where);
}
