using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.Win32.SafeHandles;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx.Protobuf;
using QuantShell.Core.IO;

namespace QuantShell.Core.Formats.Onnx;

/// <summary>
/// An ONNX model read whole into memory, checked, changed in place and written back. Reading checks what a hostile file
/// could get wrong before anything else sees it: the protobuf (size limit, Google.Protobuf's recursion limit of 100
/// nested messages, lengths checked against the bytes actually there), every tensor's data against its dims, external
/// data ranges and paths, and each graph's values (no cycles, nothing used that nothing produces). Fields QuantShell does
/// not model survive a read and write unchanged.
/// </summary>
/// <remarks>
/// Tensors kept in external data files are read from them when asked (<see cref="ReadValues"/>); on
/// <see cref="Save"/> all of them are written into one data file beside the output, <c>&lt;output&gt;.data</c>.
/// </remarks>
public sealed class OnnxModel
{
    /// <summary>The largest .onnx file read: protobuf messages are limited to 2 GiB.</summary>
    public const long MaxModelBytes = int.MaxValue;

    /// <summary>How deep messages may nest (Google.Protobuf's default, which the parser keeps): deeper is refused, not recursed into.</summary>
    public const int RecursionLimit = 100;

    /// <summary>The domains of the standard operators (the default one is also spelled "").</summary>
    public static readonly IReadOnlySet<string> StandardDomains = new HashSet<string>(StringComparer.Ordinal)
        { "", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training" };

    private readonly Dictionary<TensorProto, OnnxExternalData.Range> _externalSources = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<TensorProto, byte[]> _replacedExternal = new(ReferenceEqualityComparer.Instance);
    private HashSet<string>? _names;

    private OnnxModel(ModelProto proto, string name, string? directory)
    {
        Proto = proto;
        Name = name;
        Directory = directory;
    }

    /// <summary>The protobuf message itself, for what this class has no method for.</summary>
    public ModelProto Proto { get; }

    /// <summary>The model's name in messages: the path as given.</summary>
    public string Name { get; }

    /// <summary>The folder external data locations are relative to; null for a model parsed from bytes alone.</summary>
    public string? Directory { get; }

    public OnnxGraph MainGraph => new(Proto.Graph, Proto.Graph.Name.Length > 0 ? Proto.Graph.Name : "main", null, null);

    /// <summary>Reads and checks a model file (see the class remarks for what is checked).</summary>
    public static OnnxModel Load(string path, string? name = null)
    {
        name ??= path;
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        try
        {
            PathChecks.CheckInput(path, name);
            // The length of what was opened: a symbolic link's own FileInfo.Length is the length of its target's name.
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long length = RandomAccess.GetLength(handle);
            if (length > MaxModelBytes)
                throw new TensorFormatException(name, $"the file is {length} bytes; an ONNX protobuf is at most 2 GiB (larger models keep their weights in external data files).", ErrorIds.OnnxModelTooLarge);
            if (length == 0) return Parse([], name, directory);
            try
            {
                return ParseFile(handle, checked((int)length), name, directory);
            }
            catch (TensorFormatException ex) when (ex.ErrorId == ErrorIds.OnnxModelInvalid && TensorFiles.KindOf(path) is { } kind && kind != TensorFileKind.Onnx)
            {
                throw new TensorFormatException(name, $"not an ONNX model: it is {TensorFiles.Describe(kind)}.", ErrorIds.OnnxModelInvalid);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex);
        }
    }

    /// <summary>
    /// Parses the model straight from the file through a small buffer, so the parsed message (which holds its own copy of
    /// every tensor's bytes) is the only copy of the file in memory. Read rather than mapped: a mapped file that another
    /// process truncates faults (SIGBUS) when the parser reaches the lost pages, which ends the process; a read comes back
    /// short. A length field larger than what is left of the file is refused before anything is allocated for it (the
    /// parser checks it against the stream's length).
    /// </summary>
    private static OnnxModel ParseFile(SafeFileHandle handle, int length, string name, string? directory)
    {
        using var stream = new FileStream(handle, FileAccess.Read, bufferSize: 1 << 16);
        stream.Position = 0;
        return Parse(() => ModelProto.Parser.ParseFrom(stream), length, name, directory, () => RandomAccess.GetLength(handle));
    }

    /// <summary>Parses and checks a model from its bytes; <paramref name="directory"/> is where external data files are.</summary>
    public static OnnxModel Parse(byte[] bytes, string name, string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        // From bytes whose length is known, a length larger than what is left fails as truncated before anything is
        // allocated for it.
        return Parse(() => ModelProto.Parser.ParseFrom(bytes), bytes.Length, name, directory, null);
    }

    private static OnnxModel Parse(Func<ModelProto> parse, long length, string name, string? directory, Func<long>? lengthNow)
    {
        ModelProto proto;
        try
        {
            proto = parse();
        }
        catch (InvalidProtocolBufferException) when (lengthNow is not null && lengthNow() < length)
        {
            throw new TensorFormatException(name, $"the file shrank from {length} to {lengthNow()} bytes while it was being read.", ErrorIds.OnnxModelInvalid);
        }
        catch (InvalidProtocolBufferException ex) when (ex.Message.Contains("levels of nesting", StringComparison.Ordinal))
        {
            throw new TensorFormatException(name, $"not a valid ONNX model: its messages nest more than {RecursionLimit} deep (subgraphs within subgraphs), beyond what is read.", ErrorIds.OnnxModelInvalid);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new TensorFormatException(name, $"not a valid ONNX model: the protobuf is truncated or malformed ({ex.Message.TrimEnd('.')}).", ErrorIds.OnnxModelInvalid);
        }
        catch (OutOfMemoryException)
        {
            // A string field of a GiB or more is more than one .NET string holds (protobuf's own limit is 2 GiB), and
            // ONNX keeps no tensor data in strings: such a field is no model QuantShell can read.
            throw new TensorFormatException(name, $"cannot be parsed: a field of this {length}-byte protobuf is larger than one .NET string or array holds (about 1 GiB), or memory ran out while parsing it.", ErrorIds.OnnxModelInvalid);
        }
        if (proto.Graph is null || !proto.HasIrVersion)
            throw new TensorFormatException(name, $"not an ONNX model: {(proto.Graph is null ? "it has no graph" : "it has no ir_version")}.", ErrorIds.OnnxModelInvalid);
        var model = new OnnxModel(proto, name, directory);
        model.CheckTensors();
        model.CheckGraphs();
        return model;
    }

    /// <summary>Every graph: the main one first, then each subgraph (depth first, in node order).</summary>
    public IEnumerable<OnnxGraph> Graphs()
    {
        var stack = new Stack<OnnxGraph>();
        stack.Push(MainGraph);
        while (stack.Count > 0)
        {
            var graph = stack.Pop();
            yield return graph;
            var children = new List<OnnxGraph>();
            foreach (var node in graph.Proto.Node)
                children.AddRange(Subgraphs(graph, node));
            for (int i = children.Count - 1; i >= 0; i--) stack.Push(children[i]);
        }
    }

    /// <summary>The graphs held by a node's attributes (If: then_branch, else_branch; Loop and Scan: body).</summary>
    public static IEnumerable<OnnxGraph> Subgraphs(OnnxGraph graph, NodeProto node)
    {
        string? nodeName = null;
        foreach (var attribute in node.Attribute)
        {
            if (attribute.G is null && attribute.Graphs.Count == 0) continue;
            // Only nodes that hold graphs need a name for the path (an unnamed node's position costs a search).
            nodeName ??= node.Name.Length > 0 ? node.Name : $"{node.OpType}#{graph.Proto.Node.IndexOf(node)}";
            if (attribute.G is not null) yield return new OnnxGraph(attribute.G, $"{graph.Path}/{nodeName}.{attribute.Name}", graph, node);
            for (int i = 0; i < attribute.Graphs.Count; i++)
                yield return new OnnxGraph(attribute.Graphs[i], $"{graph.Path}/{nodeName}.{attribute.Name}[{i}]", graph, node);
        }
    }

    /// <summary>Every initializer of every graph, main graph first.</summary>
    public IEnumerable<OnnxConstantTensor> Initializers() =>
        Graphs().SelectMany(graph => graph.Proto.Initializer.Select(tensor => new OnnxConstantTensor(this, graph, tensor)));

    /// <summary>
    /// Every tensor the model holds as a value of its graphs: graph by graph (main first), the initializers, then the
    /// <c>value</c> tensors of <c>Constant</c> nodes in node order (named by the node's output). Constants given as
    /// <c>value_float(s)</c>/<c>value_int(s)</c>/<c>value_string(s)</c> or sparse tensors are not listed: they hold no weight.
    /// </summary>
    public IEnumerable<OnnxConstantTensor> ConstantTensors()
    {
        foreach (var graph in Graphs())
        {
            foreach (var tensor in graph.Proto.Initializer) yield return new OnnxConstantTensor(this, graph, tensor);
            foreach (var node in graph.Proto.Node)
                if (ConstantValue(node) is { } value) yield return new OnnxConstantTensor(this, graph, value, node);
        }
    }

    /// <summary>The tensor of a standard <c>Constant</c> node's <c>value</c> attribute (with one output), or null.</summary>
    public static TensorProto? ConstantValue(NodeProto node)
    {
        if (node.OpType != "Constant" || !(node.Domain is "" or "ai.onnx") || node.Output.Count != 1 || node.Output[0].Length == 0) return null;
        foreach (var attribute in node.Attribute)
            if (attribute.Name == "value" && attribute.T is not null) return attribute.T;
        return null;
    }

    /// <summary>
    /// The node inputs that read <paramref name="name"/> as defined in <paramref name="graph"/>: its nodes' inputs and those of
    /// nodes in its subgraphs (outer-scope references), unless a subgraph defines the name itself.
    /// </summary>
    public IReadOnlyList<OnnxConsumer> ConsumersOf(OnnxGraph graph, string name)
    {
        var consumers = new List<OnnxConsumer>();
        Collect(graph);
        return consumers;

        void Collect(OnnxGraph g)
        {
            foreach (var node in g.Proto.Node)
            {
                for (int i = 0; i < node.Input.Count; i++)
                    if (node.Input[i] == name) consumers.Add(new OnnxConsumer(g, node, i));
                foreach (var sub in Subgraphs(g, node))
                    if (!sub.Defines(name)) Collect(sub);
            }
        }
    }

    /// <summary>
    /// A tensor's values: float16 as <c>Half[]</c>, float64 as <c>double[]</c>, other numeric types (float32, bfloat16,
    /// integers, bool) as <c>float[]</c>. External data is read from its file.
    /// </summary>
    public NpyArray ReadValues(TensorProto tensor, OnnxGraph? graph = null)
    {
        string where = Where(tensor, graph);
        byte[]? external = null;
        if (IsExternal(tensor))
        {
            if (!_replacedExternal.TryGetValue(tensor, out external))
            {
                if (!_externalSources.TryGetValue(tensor, out var range))
                    range = _externalSources[tensor] = OnnxExternalData.Resolve(tensor, Directory, where);
                external = OnnxExternalData.Read(range, where);
            }
        }
        return OnnxTensorCodec.Decode(tensor, external, where);
    }

    /// <summary>
    /// A tensor's elements as little-endian bytes of its own type (see <see cref="OnnxTensorCodec.ElementBytes"/>); external
    /// data is read from its file, or is what <see cref="SetRawData"/> last gave.
    /// </summary>
    public ReadOnlyMemory<byte> ReadElementBytes(TensorProto tensor, OnnxGraph? graph = null)
    {
        string where = Where(tensor, graph);
        byte[]? external = null;
        if (IsExternal(tensor) && !_replacedExternal.TryGetValue(tensor, out external))
        {
            if (!_externalSources.TryGetValue(tensor, out var range))
                range = _externalSources[tensor] = OnnxExternalData.Resolve(tensor, Directory, where);
            external = OnnxExternalData.Read(range, where);
        }
        return OnnxTensorCodec.ElementBytes(tensor, external, where);
    }

    /// <summary>The external data files the model's tensors name (full paths, each once).</summary>
    public IReadOnlyList<string> ExternalDataFiles() =>
        AllTensors().Where(t => IsExternal(t.Tensor)).Select(t => _externalSources.TryGetValue(t.Tensor, out var range) ? range.FilePath : null)
            .OfType<string>().Distinct(StringComparer.Ordinal).ToList();

    /// <summary>True when some tensor keeps its data in an external file (such a model is written with <see cref="Save"/>).</summary>
    public bool HasExternalData => AllTensors().Any(t => IsExternal(t.Tensor));

    /// <summary>Replaces a float tensor's values (same element count), encoded in the tensor's own type.</summary>
    public void ReplaceValues(TensorProto tensor, NpyArray values, OnnxGraph? graph = null)
    {
        var type = (OnnxDataType)tensor.DataType;
        if (values.ElementCount != OnnxTensorCodec.ElementCount(tensor, Where(tensor, graph)))
            throw new ArgumentException($"{values.ElementCount} values for a tensor of {OnnxTensorCodec.ElementCount(tensor, tensor.Name)} elements.", nameof(values));
        byte[] raw = (type, values.Data) switch
        {
            (OnnxDataType.Double, double[]) or (OnnxDataType.Float16, Half[]) or (OnnxDataType.Float, float[]) => OnnxTensorCodec.Encode(values),
            (OnnxDataType.BFloat16, float[] f) => OnnxTensorCodec.EncodeFloats(f, OnnxDataType.BFloat16),
            _ => throw new ArgumentException($"{values.DType.Name} values cannot be stored in a {OnnxDataTypes.Name(type)} tensor.", nameof(values)),
        };
        SetRawData(tensor, raw);
    }

    /// <summary>Sets a tensor's data to <paramref name="raw"/> (little-endian, its own type); an external tensor stays external.</summary>
    public void SetRawData(TensorProto tensor, byte[] raw)
    {
        if (IsExternal(tensor))
        {
            _replacedExternal[tensor] = raw;
            return;
        }
        tensor.FloatData.Clear();
        tensor.DoubleData.Clear();
        tensor.Int32Data.Clear();
        tensor.Int64Data.Clear();
        tensor.Uint64Data.Clear();
        tensor.RawData = UnsafeByteOperations.UnsafeWrap(raw);
    }

    /// <summary>
    /// Sets a tensor's data to <paramref name="raw"/> (little-endian, its own type, as many bytes as it holds): written over
    /// the bytes the tensor holds in raw_data where they are an array of that length, which only this model references
    /// (parsed, or given by <see cref="SetRawData"/>), so no new array is made; else as <see cref="SetRawData"/> with a copy.
    /// </summary>
    public void OverwriteRawData(TensorProto tensor, ReadOnlySpan<byte> raw)
    {
        if (!IsExternal(tensor) && tensor.HasRawData && MemoryMarshal.TryGetArray(tensor.RawData.Memory, out var own) && own.Count == raw.Length)
        {
            raw.CopyTo(own.AsSpan());
            return;
        }
        SetRawData(tensor, raw.ToArray());
    }

    /// <summary>
    /// A tensor's elements (as <see cref="ReadElementBytes"/>) in an array that may be written over: raw_data's own bytes
    /// where they are an array only this model references (<paramref name="isRawData"/>; see <see cref="OverwriteRawData"/>),
    /// else a new array (external data read from its file or last given by <see cref="SetRawData"/>, or a typed field
    /// converted) that becomes the tensor's data only through <see cref="SetRawData"/>.
    /// </summary>
    internal ArraySegment<byte> RewritableElementBytes(TensorProto tensor, OnnxGraph? graph, out bool isRawData)
    {
        var bytes = ReadElementBytes(tensor, graph);
        isRawData = !IsExternal(tensor) && tensor.HasRawData;
        // Otherwise the bytes are a whole array of their own: external data read anew (or the array SetRawData was given),
        // or a typed field converted.
        if (MemoryMarshal.TryGetArray(bytes, out var segment) && (isRawData || segment.Offset == 0 && segment.Count == segment.Array!.Length))
            return segment;
        isRawData = false;
        return bytes.ToArray();
    }

    /// <summary>
    /// Lets go of the data of a tensor that is no longer in the model (its initializer or Constant node replaced, as the
    /// qdq format replaces a weight by its codes), so its bytes can be collected while the model is still held (the
    /// tensor file that listed it keeps the tensor itself): raw_data and the typed fields are emptied, and the bytes given
    /// for an external one are dropped. Reading it afterwards fails as truncated.
    /// </summary>
    internal void ReleaseData(TensorProto tensor)
    {
        _replacedExternal.Remove(tensor);
        if (IsExternal(tensor)) return;
        tensor.FloatData.Clear();
        tensor.DoubleData.Clear();
        tensor.Int32Data.Clear();
        tensor.Int64Data.Clear();
        tensor.Uint64Data.Clear();
        if (tensor.HasRawData) tensor.RawData = ByteString.Empty;
    }

    public static bool IsExternal(TensorProto tensor) => tensor.HasDataLocation && tensor.DataLocation == TensorProto.Types.DataLocation.External;

    /// <summary>The version of the default domain's opset (0 when the model imports none).</summary>
    public long DefaultOpset => Proto.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")?.Version ?? 0;

    /// <summary>Sets the default domain's opset version (adding the import if missing).</summary>
    public void SetDefaultOpset(long version)
    {
        var import = Proto.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx");
        if (import is null) Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = version });
        else import.Version = version;
    }

    /// <summary>Removes a domain's opset import; true when there was one.</summary>
    public bool RemoveOpsetImport(string domain)
    {
        var import = Proto.OpsetImport.FirstOrDefault(o => o.Domain == domain);
        return import is not null && Proto.OpsetImport.Remove(import);
    }

    /// <summary>
    /// Refuses nodes of domains that are neither standard, in <paramref name="allowedCustomDomains"/>, nor those of the
    /// model's own functions (in the graphs and in function bodies).
    /// </summary>
    public void CheckOperatorDomains(IEnumerable<string> allowedCustomDomains)
    {
        var allowed = new HashSet<string>(StandardDomains.Concat(allowedCustomDomains), StringComparer.Ordinal);
        var functions = Proto.Functions.Select(f => (f.Domain, f.Name)).ToHashSet();
        foreach (var graph in Graphs())
            foreach (var node in graph.Proto.Node)
                Check(node, graph.Describe(node));
        foreach (var function in Proto.Functions)
            foreach (var node in function.Node)
                Check(node, $"node '{node.Name}' ({node.Domain}.{node.OpType}) of function '{function.Domain}.{function.Name}'");

        void Check(NodeProto node, string where)
        {
            if (allowed.Contains(node.Domain) || functions.Contains((node.Domain, node.OpType))) return;
            throw new TensorFormatException(Name, $"{where} is of the custom domain '{node.Domain}', which QuantShell does not know " +
                $"(it knows the standard ONNX domains and {string.Join(", ", allowedCustomDomains.Select(d => $"'{d}'"))}).", ErrorIds.OnnxOperatorUnknown);
        }
    }

    /// <summary>A value name used nowhere in the model yet, made from <paramref name="stem"/>; it is reserved.</summary>
    public string NewName(string stem)
    {
        _names ??= CollectNames();
        string name = stem;
        for (int i = 1; !_names.Add(name); i++) name = $"{stem}_{i}";
        return name;
    }

    private HashSet<string> CollectNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var graph in Graphs())
        {
            foreach (var value in graph.Proto.Input.Concat(graph.Proto.Output).Concat(graph.Proto.ValueInfo)) names.Add(value.Name);
            foreach (var tensor in graph.Proto.Initializer) names.Add(tensor.Name);
            foreach (var node in graph.Proto.Node)
            {
                names.UnionWith(node.Input);
                names.UnionWith(node.Output);
                if (node.Name.Length > 0) names.Add(node.Name);
            }
        }
        return names;
    }

    /// <summary>Writes the model to <paramref name="path"/> atomically; external tensors go into <c>path.data</c> beside it.</summary>
    public void Save(string path, WriteOptions options, string? name = null)
    {
        name ??= path;
        var external = AllTensors().Where(t => IsExternal(t.Tensor)).Select(t => t.Tensor).Distinct(ReferenceEqualityComparer.Instance).Cast<TensorProto>().ToList();
        if (external.Count > 0)
        {
            string dataPath = Path.GetFullPath(path) + ".data";
            foreach (var (tensor, graph) in AllTensors().Where(t => IsExternal(t.Tensor) && !_replacedExternal.ContainsKey(t.Tensor) && !_externalSources.ContainsKey(t.Tensor)))
                _externalSources[tensor] = OnnxExternalData.Resolve(tensor, Directory, Where(tensor, graph));
            if (_externalSources.Values.Any(r => r.FilePath == dataPath))
                throw new QuantShellException($"{name}.data: the output's data file would replace the input's external data; choose another output path.", ErrorIds.OutputIsInput, QuantShellErrorKind.InvalidArgument, name);
            var written = new Dictionary<TensorProto, OnnxExternalData.Range>(ReferenceEqualityComparer.Instance);
            OnnxExternalData.WriteAll(dataPath, options, external, _externalSources, _replacedExternal, written);
            foreach (var (tensor, range) in written)
            {
                _externalSources[tensor] = range;
                _replacedExternal.Remove(tensor);
            }
        }
        AtomicFile.Write(path, options, stream => WriteTo(stream), name);
    }

    /// <summary>Serializes the protobuf (external tensors keep pointing at their current files).</summary>
    public void WriteTo(Stream stream)
    {
        var output = new CodedOutputStream(stream, leaveOpen: true);
        Proto.WriteTo(output);
        output.Flush();
    }

    public byte[] ToByteArray() => Proto.ToByteArray();

    /// <summary>Every tensor of the model: initializers and attribute tensors of every graph, and of function bodies.</summary>
    internal IEnumerable<(TensorProto Tensor, OnnxGraph? Graph)> AllTensors()
    {
        foreach (var graph in Graphs())
        {
            foreach (var tensor in graph.Proto.Initializer) yield return (tensor, graph);
            foreach (var node in graph.Proto.Node)
                foreach (var tensor in AttributeTensors(node.Attribute)) yield return (tensor, graph);
        }
        foreach (var function in Proto.Functions)
            foreach (var node in function.Node)
                foreach (var tensor in AttributeTensors(node.Attribute)) yield return (tensor, null);
    }

    private static IEnumerable<TensorProto> AttributeTensors(IEnumerable<AttributeProto> attributes)
    {
        foreach (var attribute in attributes)
        {
            if (attribute.T is not null) yield return attribute.T;
            foreach (var tensor in attribute.Tensors) yield return tensor;
        }
    }

    private string Where(TensorProto tensor, OnnxGraph? graph) =>
        $"{Name}: tensor '{tensor.Name}'{(graph is null || graph.IsMain ? "" : $" of graph '{graph.Path}'")}";

    // Every tensor's data length against its dims, and every external range, before anyone reads a value.
    private void CheckTensors()
    {
        foreach (var (tensor, graph) in AllTensors())
        {
            string where = Where(tensor, graph);
            if (IsExternal(tensor))
            {
                if ((OnnxDataType)tensor.DataType is OnnxDataType.String || OnnxDataTypes.BitsPerElement((OnnxDataType)tensor.DataType) == 0)
                    throw new TensorFormatException(where, $"{OnnxDataTypes.Name((OnnxDataType)tensor.DataType)} data cannot be kept in an external file.", ErrorIds.OnnxTensorDataMismatch);
                _externalSources[tensor] = OnnxExternalData.Resolve(tensor, Directory, where);
            }
            else
            {
                OnnxTensorCodec.CheckInlineData(tensor, where);
            }
        }
    }

    private void CheckGraphs() => CheckGraph(MainGraph, new HashSet<string>(StringComparer.Ordinal));

    // Each value is produced once; every input is produced by something in scope; the nodes form no cycle (a node also
    // depends on the producers of the outer-scope names its subgraphs read).
    private void CheckGraph(OnnxGraph graph, HashSet<string> outerScope)
    {
        var proto = graph.Proto;
        var defined = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in proto.Input) defined.Add(input.Name);
        foreach (var tensor in proto.Initializer) defined.Add(tensor.Name);
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < proto.Node.Count; i++)
        {
            foreach (string output in proto.Node[i].Output)
            {
                if (output.Length == 0) continue;
                if (!producer.TryAdd(output, i) || defined.Contains(output))
                    throw new TensorFormatException(Name, $"value '{output}' of graph '{graph.Path}' is produced more than once (by {graph.Describe(proto.Node[i])}).", ErrorIds.OnnxGraphInvalid);
            }
        }
        var scope = new HashSet<string>(outerScope, StringComparer.Ordinal);
        scope.UnionWith(defined);
        scope.UnionWith(producer.Keys);

        var dependents = new List<int>[proto.Node.Count];
        var pending = new int[proto.Node.Count];
        for (int i = 0; i < proto.Node.Count; i++)
        {
            var node = proto.Node[i];
            var used = new HashSet<string>(node.Input.Where(n => n.Length > 0), StringComparer.Ordinal);
            foreach (var sub in Subgraphs(graph, node)) used.UnionWith(FreeNames(sub));
            foreach (string name in used)
            {
                if (producer.TryGetValue(name, out int from))
                {
                    (dependents[from] ??= []).Add(i);
                    pending[i]++;
                }
                else if (!scope.Contains(name))
                    throw new TensorFormatException(Name, $"{graph.Describe(node)} reads '{name}', which nothing in the graph or its enclosing graphs produces.", ErrorIds.OnnxGraphInvalid);
            }
        }
        var ready = new Queue<int>(Enumerable.Range(0, proto.Node.Count).Where(i => pending[i] == 0));
        int visited = 0;
        while (ready.Count > 0)
        {
            int i = ready.Dequeue();
            visited++;
            foreach (int next in dependents[i] ?? [])
                if (--pending[next] == 0) ready.Enqueue(next);
        }
        if (visited < proto.Node.Count)
        {
            var inCycle = Enumerable.Range(0, proto.Node.Count).Where(i => pending[i] > 0).Take(4).Select(i => graph.Describe(proto.Node[i]));
            throw new TensorFormatException(Name, $"the nodes of graph '{graph.Path}' form a cycle ({proto.Node.Count - visited} nodes in or after it, e.g. {string.Join("; ", inCycle)}).", ErrorIds.OnnxGraphCycle);
        }
        foreach (var node in proto.Node)
            foreach (var sub in Subgraphs(graph, node))
                CheckGraph(sub, scope);
    }

    /// <summary>The names a graph (with its own subgraphs) reads but does not define: its outer-scope references.</summary>
    internal static HashSet<string> FreeNames(OnnxGraph graph)
    {
        var defined = new HashSet<string>(graph.Proto.Input.Select(i => i.Name).Concat(graph.Proto.Initializer.Select(t => t.Name)), StringComparer.Ordinal);
        foreach (var node in graph.Proto.Node) defined.UnionWith(node.Output);
        var free = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Proto.Node)
        {
            foreach (string input in node.Input)
                if (input.Length > 0 && !defined.Contains(input)) free.Add(input);
            foreach (var sub in Subgraphs(graph, node))
                foreach (string name in FreeNames(sub))
                    if (!defined.Contains(name)) free.Add(name);
        }
        foreach (var output in graph.Proto.Output)
            if (!defined.Contains(output.Name)) free.Add(output.Name);
        return free;
    }
}
