using QuantShell.Core.Formats;
using QuantShell.Core.Processing;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Jobs.Inspect;

/// <summary>
/// Describes the tensors of inputs: format, dtype, shape, order, size and, when asked, value statistics; warns about a
/// model file in which quantize would find nothing to quantize by default, saying why.
/// </summary>
public sealed class InspectJob : InputJob<TensorInfo>
{
    private readonly InspectRequest _request;
    private readonly TensorPolicy _defaults = TensorPolicy.Create(new QuantizerArguments(), null, null);

    public InspectJob(InspectRequest request, JobHost<TensorInfo> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
    }

    protected override string Activity => "Inspect";

    protected override bool CollectsInputs => false;

    public static InspectJob Run(InspectRequest request, IEnumerable<JobInput> inputs, JobHost<TensorInfo> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new InspectJob(request, host, cancellationToken), inputs);

    protected override void Start(JobInput input)
    {
        // A Hugging Face model folder is one input, as quantize takes it: its shards' tensors, in shard order.
        if (input.IsFolder) Enqueue(input, _ => InspectFolder(input));
        else Enqueue(input, _ => input.Kind() == TensorFileKind.Npy ? [InspectNpy(input)] : InspectModel(input));
    }

    private TensorInfo InspectNpy(JobInput input)
    {
        // One read: the header, then (when asked) the values from the same stream.
        using var stream = input.Open();
        var header = NpyHeader.Read(stream, input.Name);
        NpyArray? values = _request.Statistics != false ? NpyArray.ReadData(stream, header, input.Name) : null;
        return TensorInfo.FromNpy(input.ResultPath, header, values);
    }

    private IReadOnlyList<TensorInfo> InspectModel(JobInput input)
    {
        using var file = input.OpenTensorFile();
        var infos = new List<TensorInfo>(file.Tensors.Count);
        Describe(file, input.ResultPath, file.FormatName, infos);
        if (NothingToQuantize.WhyAny(file, _defaults) is { } why) Warn(input, $"{input.Name}: nothing to quantize by default: {why}");
        return infos;
    }

    private IReadOnlyList<TensorInfo> InspectFolder(JobInput input)
    {
        var folder = ModelFolder.Open(input.FullPath!, input.Name);
        string format = $"model folder of {folder.Shards.Count} safetensors shard{(folder.Shards.Count == 1 ? "" : "s")}";
        var infos = new List<TensorInfo>();
        foreach (var shard in folder.Shards)
        {
            using var file = folder.OpenShard(shard);
            Describe(file, input.ResultPath, format, infos);
        }
        return infos;
    }

    /// <summary>Each tensor of <paramref name="file"/> (its values read only when statistics are asked for), into <paramref name="infos"/>.</summary>
    private void Describe(TensorFile file, string path, string format, List<TensorInfo> infos)
    {
        foreach (var tensor in file.Tensors)
        {
            Cancellation.ThrowIfCancellationRequested();
            NpyArray? values = null;
            if (_request.Statistics == true && tensor.DType.Kind != DTypeKind.Opaque)
            {
                using var source = file.OpenTensor(tensor);
                values = TensorValues.Read(source, tensor, ModelQuantizer.Source(file, tensor));
            }
            infos.Add(TensorInfo.FromStored(path, format, tensor, values));
        }
    }
}
