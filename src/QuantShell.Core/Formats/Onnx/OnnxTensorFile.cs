using QuantShell.Core.Formats.Onnx.Protobuf;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// An ONNX model as a file of named tensors: its initializers, in every graph (the main one first, then If/Loop/Scan
/// subgraphs), each with the <see cref="GraphRole"/> its readers give it. The model is read and checked whole
/// (<see cref="OnnxModel.Load"/>); values are read on demand, external data from its file.
/// </summary>
/// <remarks>
/// Names are the initializers' own; where two graphs hold initializers of one name, those of subgraphs are named
/// <c>GRAPH-PATH:NAME</c> so that each tensor has one name. A model whose tensors keep their data in external files is
/// written with <see cref="OnnxModel.Save"/>, which writes the data file beside the output; <see cref="WriteCopy"/>
/// (a stream) refuses it.
/// </remarks>
public sealed class OnnxTensorFile : TensorFile
{
    private readonly List<(OnnxGraph Graph, TensorProto Proto)> _sources = [];
    private readonly List<StoredTensor> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    public OnnxTensorFile(OnnxModel model) : base(model.Name, TensorFileKind.Onnx)
    {
        Model = model;
        var initializers = model.Initializers().ToList();
        var repeated = initializers.GroupBy(i => i.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var initializer in initializers)
        {
            var type = initializer.DataType;
            string name = repeated.Contains(initializer.Name) && !initializer.Graph.IsMain ? $"{initializer.Graph.Path}:{initializer.Name}" : initializer.Name;
            _tensors.Add(new StoredTensor
            {
                Name = name,
                DType = OnnxDataTypes.ToDType(type),
                Shape = initializer.Dims,
                StoredDType = OnnxDataTypes.Name(type),
                GraphRole = RoleOf(initializer),
                Index = _tensors.Count,
            });
            _sources.Add((initializer.Graph, initializer.Tensor));
        }
        foreach (var entry in model.Proto.MetadataProps) _metadata.TryAdd(entry.Key, entry.Value);
    }

    /// <summary>The model itself, to change and save.</summary>
    public OnnxModel Model { get; }

    public override IReadOnlyList<StoredTensor> Tensors => _tensors;

    /// <summary>The model's <c>metadata_props</c> (the first value of a key given twice).</summary>
    public override IReadOnlyDictionary<string, string> Metadata => _metadata;

    public override string FormatName => $"ONNX (IR {Model.Proto.IrVersion}, opset {Model.DefaultOpset})";

    /// <summary>Reads and checks a model file.</summary>
    public static OnnxTensorFile Open(string path, string name) => new(OnnxModel.Load(path, name));

    /// <summary>The graph and initializer a tensor of this file stands for.</summary>
    public (OnnxGraph Graph, TensorProto Proto) Source(StoredTensor tensor) => _sources[tensor.Index];

    public override Stream OpenTensor(StoredTensor tensor)
    {
        var (graph, proto) = Source(tensor);
        return new MemoryStream(Model.ReadElementBytes(proto, graph), writable: false);
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
            Model.SetRawData(Source(tensor).Proto, Rewrite(tensor, rewriter));
        }
        Model.WriteTo(output);
    }

    /// <summary>Runs a rewriter over a tensor's bytes and returns the bytes it wrote (exactly the tensor's byte count).</summary>
    internal byte[] Rewrite(StoredTensor tensor, TensorRewriter rewriter)
    {
        using var source = OpenTensor(tensor);
        using var destination = new MemoryStream((int)tensor.ByteCount);
        rewriter(tensor, source, destination);
        if (destination.Length != tensor.ByteCount)
            throw new InvalidOperationException($"The rewriter of '{tensor.Name}' wrote {destination.Length} bytes, not {tensor.ByteCount}.");
        return destination.GetBuffer().Length == destination.Length ? destination.GetBuffer() : destination.ToArray();
    }

    /// <summary>
    /// The operators that read an initializer, looking through standard <c>Identity</c> nodes: exporters put one between a
    /// parameter and its readers when two names share it (PyTorch for tied weights), and the weight is still a weight.
    /// </summary>
    private List<OnnxConsumer> ReadersThroughIdentity(OnnxInitializer initializer)
    {
        var readers = new List<OnnxConsumer>();
        var seen = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var pending = new Queue<OnnxConsumer>(initializer.Consumers());
        while (pending.TryDequeue(out var reader))
        {
            if (reader.IsStandard && reader.OpType == "Identity" && reader.Node.Output.Count == 1)
            {
                if (seen.Add(reader.Node))
                    foreach (var next in Model.ConsumersOf(reader.Graph, reader.Node.Output[0])) pending.Enqueue(next);
            }
            else readers.Add(reader);
        }
        return readers;
    }

    /// <summary>Which operators read the initializer, and whether they agree on it being a weight with one channel axis.</summary>
    private GraphRole RoleOf(OnnxInitializer initializer)
    {
        var readers = ReadersThroughIdentity(initializer);
        if (readers.Count == 0)
            return new GraphRole(null, "no operator reads it");
        int rank = initializer.Dims.Length;
        var asWeight = readers.Select(r => (Reader: r, Axis: r.WeightChannelAxis(rank))).Where(r => r.Axis is not null).ToList();
        string Describe(OnnxConsumer r) => $"{r.OpType} '{(r.Node.Name.Length > 0 ? r.Node.Name : r.Node.Output.FirstOrDefault() ?? "")}'";
        if (asWeight.Count == 0)
        {
            var names = readers.Take(3).Select(Describe);
            return new GraphRole(null, $"it is not the weight of a Conv, ConvTranspose, Gemm or MatMul (read by {string.Join(", ", names)}{(readers.Count > 3 ? ", ..." : "")})");
        }
        var axes = asWeight.Select(r => r.Axis!.Value).Distinct().ToList();
        if (axes.Count > 1)
            return new GraphRole(null, $"its readers want different channel axes ({string.Join(", ", asWeight.Select(r => $"{Describe(r.Reader)}: {r.Axis}"))})");
        string who = string.Join(", ", asWeight.Take(3).Select(r => Describe(r.Reader))) + (asWeight.Count > 3 ? ", ..." : "");
        return new GraphRole(axes[0], $"the weight of {who}");
    }
}
