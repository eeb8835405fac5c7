using System.Text.Json.Nodes;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Processing;

namespace QuantShell.Core.Jobs.Dequantize;

/// <summary>
/// Turns <c>int</c> outputs (integer codes and their record) back into <c>fake</c> ones, bit for bit what quantizing with
/// the fake format writes: one output per input, one result per tensor.
/// </summary>
public sealed class DequantizeJob : InputJob<DequantizationResult>
{
    private readonly DequantizeRequest _request;
    private readonly OutputPlanner _outputs;

    public DequantizeJob(DequantizeRequest request, JobHost<DequantizationResult> host, CancellationToken cancellationToken = default)
        : base(host, cancellationToken, request.MaxParallelism)
    {
        _request = request;
        _outputs = new OutputPlanner(request.OutputPath, request.OutputDirectory, null, request.Force, DefaultOutputPath);
    }

    protected override string Activity => "Dequantize";

    protected override bool CollectsInputs => _outputs.SingleOutput;

    public static DequantizeJob Run(DequantizeRequest request, IEnumerable<JobInput> inputs, JobHost<DequantizationResult> host, CancellationToken cancellationToken = default) =>
        RunToCompletion(new DequantizeJob(request, host, cancellationToken), inputs);

    /// <summary><c>m.int.pt</c> (or <c>m.qdq.onnx</c>) → <c>m.q.pt</c> (the name the fake format gets), anything else → <c>NAME.q.EXT</c>.</summary>
    public static string DefaultOutputPath(string inputPath) =>
        OutputPlanner.Beside(inputPath, QuantizeJob.Tag(OutputFormat.Fake), replacing: [QuantizeJob.Tag(OutputFormat.Int), QuantizeJob.Tag(OutputFormat.Qdq)]);

    protected override void StartCollected(IReadOnlyList<JobInput> inputs)
    {
        _outputs.CheckCount(inputs.Count);
        base.StartCollected(inputs);
    }

    protected override void Start(JobInput input)
    {
        if (input.IsStream)
        {
            Fail(input, new QuantShellException($"{input.Name}: dequantizing reads model files, not streams.", ErrorIds.StreamInputNotSupported, QuantShellErrorKind.InvalidArgument, input.Name));
            return;
        }
        if (input.IsFolder)
        {
            StartFolder(input);
            return;
        }
        StartWithOutput(input, _outputs, "Dequantize", (output, token) =>
        {
            using var file = input.OpenTensorFile();
            string outputPath = Path.GetFullPath(output.Path!);
            var write = new WriteOptions { Force = _request.Force, Fsync = _request.Fsync };
            if (file is Formats.Onnx.OnnxTensorFile onnx)
                return OnnxModelDequantizer.Write(onnx, outputPath, output.Name, write, token);
            if (CompressedTensorsReader.Recognize(file, input.FullPath!) is { } schemes)
                return AtomicFile.Write(output.Path!, write, stream => CompressedTensorsReader.Write(file, schemes, stream, outputPath, token), output.Name);
            return AtomicFile.Write(output.Path!, write, stream => ModelDequantizer.Write(file, stream, outputPath, token), output.Name);
        });
    }

    /// <summary>
    /// A model folder (<c>quantize DIR --format int</c> or <c>compressed-tensors</c>): a folder of the same shape, each shard
    /// dequantized as the file alone is, the index rewritten for the tensors as written, config.json without its
    /// <c>quantization_config</c>, every other file copied; built beside the output and renamed into place. Default
    /// output: <c>DIR.int</c> or <c>DIR.compressed-tensors</c> -> <c>DIR.q</c>, anything else <c>DIR.q</c>.
    /// </summary>
    private void StartFolder(JobInput input)
    {
        ModelFolder folder;
        FolderOutput target;
        string outputName;
        try
        {
            outputName = FolderOutput.NameFor(input, _request.OutputPath, _request.OutputDirectory, DefaultFolderOutput);
            _outputs.EnsureDirectory();
            FolderOutput.Check(input.FullPath!, outputName, _request.Force, outputName);
            folder = ModelFolder.Open(input.FullPath!, input.Name);
            target = new FolderOutput(folder, outputName, outputName, _request.Force, _request.Fsync);
        }
        catch (QuantShellException ex)
        {
            Fail(input, ex);
            return;
        }
        if (!Host.ShouldProcess(input.Name, $"Dequantize into '{target.FullPath}'")) return;
        Enqueue(input, token => DequantizeFolder(folder, target, outputName, token));
    }

    /// <summary><c>DIR.int</c> / <c>DIR.compressed-tensors</c> -> <c>DIR.q</c>; anything else <c>DIR.q</c>.</summary>
    internal static string DefaultFolderOutput(string folder)
    {
        folder = Path.TrimEndingDirectorySeparator(folder);
        foreach (var form in new[] { OutputFormat.Int, OutputFormat.CompressedTensors })
        {
            string tag = "." + FolderQuantizer.Tag(form);
            if (folder.EndsWith(tag, StringComparison.Ordinal) && folder.Length > tag.Length) return FolderQuantizer.DefaultOutput(folder[..^tag.Length], OutputFormat.Fake);
        }
        return FolderQuantizer.DefaultOutput(folder, OutputFormat.Fake);
    }

    private IReadOnlyList<DequantizationResult> DequantizeFolder(ModelFolder folder, FolderOutput target, string outputName, CancellationToken token)
    {
        target.Check();
        string staging = target.CreateStaging();
        bool committed = false;
        try
        {
            var results = new List<DequantizationResult>();
            var shards = new List<ShardManifest>();
            var write = new WriteOptions { Force = true, Fsync = _request.Fsync };
            bool compressed = false;
            foreach (var shard in folder.Shards)
            {
                token.ThrowIfCancellationRequested();
                string staged = Path.Combine(staging, shard.FileName);
                string final = Path.Combine(target.FullPath, shard.FileName);
                using (var file = folder.OpenShard(shard))
                {
                    var schemes = CompressedTensorsReader.Recognize(file, Path.Combine(folder.FullPath, shard.FileName));
                    compressed |= schemes is not null;
                    results.AddRange(AtomicFile.Write(staged, write, stream => schemes is not null
                        ? CompressedTensorsReader.Write(file, schemes, stream, final, token)
                        : ModelDequantizer.Write(file, stream, final, token), Path.Combine(outputName, shard.FileName)));
                }
                shards.Add(ShardManifest.Written(shard.FileName, staged, [], []));
            }
            // The weights are plain again: the config no longer says they are compressed.
            JsonObject? config = null;
            if (compressed && folder.Config is { } original)
            {
                config = original.DeepClone().AsObject();
                config.Remove("quantization_config");
            }
            target.Finish(staging, shards, config, token);
            committed = true;
            return results;
        }
        finally
        {
            if (!committed) FolderOutput.TryDeleteFolder(staging);
        }
    }
}
