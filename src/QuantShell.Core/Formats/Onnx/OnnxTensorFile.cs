using System.Runtime.InteropServices;
using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// An ONNX model as a file of named tensors: the tensors it holds as values — initializers and the tensors of
/// <c>Constant</c> nodes (named by the node's output) — in every graph (the main one first, then If/Loop/Scan subgraphs),
/// each with the <see cref="GraphRole"/> its readers give it (<see cref="OnnxWeights"/>). The model is read and checked
/// whole (<see cref="OnnxModel.Load"/>); values are read on demand, external data from its file.
/// </summary>
/// <remarks>
/// Names are the graph's own; where two graphs hold tensors of one name, those of subgraphs are named
/// <c>GRAPH-PATH:NAME</c> so that each tensor has one name. A model whose tensors keep their data in external files is
/// written with <see cref="OnnxModel.Save"/>, which writes the data file beside the output; <see cref="WriteCopy"/>
/// (a stream) refuses it.
/// </remarks>
public sealed class OnnxTensorFile : TensorFile
{
    private readonly List<OnnxTensorRole> _sources = [];
    private readonly List<StoredTensor> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    public OnnxTensorFile(OnnxModel model) : base(model.Name, TensorFileKind.Onnx)
    {
        Model = model;
        Survey = OnnxWeights.Survey(model);
        var repeated = Survey.Tensors.GroupBy(t => t.Tensor.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var role in Survey.Tensors)
        {
            var held = role.Tensor;
            var type = held.DataType;
            string name = repeated.Contains(held.Name) && !held.Graph.IsMain ? $"{held.Graph.Path}:{held.Name}" : held.Name;
            _tensors.Add(new StoredTensor
            {
                Name = name,
                DType = OnnxDataTypes.ToDType(type),
                Shape = held.Dims,
                StoredDType = OnnxDataTypes.Name(type),
                GraphRole = new GraphRole(role.ChannelAxis, role.Description, role.SkipCategory),
                Index = _tensors.Count,
            });
            _sources.Add(role);
        }
        foreach (var entry in model.Proto.MetadataProps) _metadata.TryAdd(entry.Key, entry.Value);
    }

    /// <summary>Every tensor's role in the graph, and why nothing is a weight when nothing is.</summary>
    public OnnxWeightSurvey Survey { get; }

    /// <summary>The model itself, to change and save.</summary>
    public OnnxModel Model { get; }

    public override IReadOnlyList<StoredTensor> Tensors => _tensors;

    /// <summary>The model's <c>metadata_props</c> (the first value of a key given twice).</summary>
    public override IReadOnlyDictionary<string, string> Metadata => _metadata;

    public override string FormatName => $"ONNX (IR {Model.Proto.IrVersion}, opset {Model.DefaultOpset})";

    /// <summary>Reads and checks a model file.</summary>
    public static OnnxTensorFile Open(string path, string name) => new(OnnxModel.Load(path, name));

    /// <summary>The graph and tensor a tensor of this file stands for (an initializer, or a Constant node's value).</summary>
    public (OnnxGraph Graph, TensorProto Proto) Source(StoredTensor tensor) => (Holder(tensor).Graph, Holder(tensor).Tensor);

    /// <summary>The initializer or Constant node a tensor of this file stands for.</summary>
    public OnnxConstantTensor Holder(StoredTensor tensor) => _sources[tensor.Index].Tensor;

    /// <summary>What the graph does with a tensor of this file.</summary>
    public OnnxTensorRole Role(StoredTensor tensor) => _sources[tensor.Index];

    public override Stream OpenTensor(StoredTensor tensor)
    {
        var (graph, proto) = Source(tensor);
        // Over the parsed message's own bytes, not a copy of them: a tensor is read while the model holds it.
        var bytes = Model.ReadElementBytes(proto, graph);
        return MemoryMarshal.TryGetArray(bytes, out var segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(bytes.ToArray(), writable: false);
    }

    /// <summary>
    /// Writes the model with each rewritten initializer's new bytes (as raw_data). The model in memory is changed; a model
    /// with external data is written with <see cref="OnnxModel.Save"/> instead.
    /// </summary>
    public override void WriteCopy(Stream output, Func<StoredTensor, TensorRewriter?> rewrite, CancellationToken cancellationToken)
    {
        if (Model.HasExternalData)
            throw new InvalidOperationException($"{Name} keeps tensors in external data files; write it with OnnxModel.Save, which writes the data file too.");
        foreach (var tensor in _tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (rewrite(tensor) is not { } rewriter) continue;
            Rewrite(tensor, rewriter);
        }
        Model.WriteTo(output);
    }

    /// <summary>
    /// Runs a rewriter over a tensor's bytes and makes what it wrote (exactly the tensor's byte count) the tensor's data.
    /// It writes over the very bytes it reads (<see cref="OnnxModel.RewritableElementBytes"/>): the rewriters read every
    /// element before they write it, at the same offset (the fake format keeps each element's size), so no second buffer
    /// of the tensor's size is needed and rewriting a model's tensors one by one leaves no tensor-sized garbage behind;
    /// memory stays near the model's own size. A rewriter that fails leaves the tensor part rewritten (the model is then
    /// not written).
    /// </summary>
    internal void Rewrite(StoredTensor tensor, TensorRewriter rewriter)
    {
        int count = checked((int)tensor.ByteCount);
        var proto = Source(tensor).Proto;
        var bytes = Model.RewritableElementBytes(proto, Source(tensor).Graph, out bool isRawData);
        if (bytes.Count != count)
            throw new InvalidOperationException($"'{tensor.Name}' holds {bytes.Count} bytes, not {count}.");
        using (var source = new MemoryStream(bytes.Array!, bytes.Offset, count, writable: false))
        using (var destination = new MemoryStream(bytes.Array!, bytes.Offset, count, writable: true))
        {
            rewriter(tensor, source, destination);
            if (destination.Position != count)
                throw new InvalidOperationException($"The rewriter of '{tensor.Name}' wrote {destination.Position} bytes, not {count}.");
        }
        if (!isRawData) Model.SetRawData(proto, bytes.Array!);
    }
}
