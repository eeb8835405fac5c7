using System.Text.Json.Nodes;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Processing;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// Quantizes a Hugging Face model folder into a folder of the same shape (docs/model-folders.md). The shards are written
/// one at a time (or <c>parallelism</c> at once) into a staging folder beside the output, each through the same per-file
/// writers as a single safetensors file, so memory holds only the tensors in flight. The final step copies every other
/// file unchanged, rewrites the index (weight_map, metadata.total_size) and config.json (compressed-tensors), and renames
/// the staging folder to the output: the output appears complete or not at all. A split run (<see cref="SplitPart"/>)
/// writes its share of the shards and a part record into a staging folder the parts share; the final step
/// (<c>Finish</c>) checks every part's record and does the rest.
/// </summary>
internal sealed class FolderQuantizer
{
    private readonly ModelFolder _folder;
    private readonly TensorPolicy _policy;
    private readonly OutputFormat _form;
    private readonly FileQuantizeOptions _options;
    private readonly int _parallelism;
    private readonly string _outputName;
    private readonly FolderOutput _target;

    public FolderQuantizer(ModelFolder folder, TensorPolicy policy, OutputFormat form, FileQuantizeOptions options, int parallelism, string outputPath, string outputName)
    {
        _folder = folder;
        _policy = policy;
        _form = form;
        _options = options;
        _parallelism = Math.Max(1, parallelism);
        _outputName = outputName;
        _target = new FolderOutput(folder, outputPath, outputName, options.Force, options.Fsync);
    }

    /// <summary>The default output of a folder: beside it, <c>NAME.TAG</c> (<c>Llama.q</c>, <c>Llama.int</c>, <c>Llama.compressed-tensors</c>).</summary>
    public static string DefaultOutput(string folder, OutputFormat form) => Path.TrimEndingDirectorySeparator(folder) + "." + Tag(form);

    /// <summary>The tag a folder's default output name ends with for <paramref name="form"/> (<c>q</c>, <c>int</c>, <c>compressed-tensors</c>).</summary>
    public static string Tag(OutputFormat form) => form == OutputFormat.CompressedTensors ? Quantization.EnumNames.Kebab(form) : QuantizeJob.Tag(form);

    /// <summary>The input folder's size on disk (every file, symbolic links followed, as a Hugging Face cache snapshot holds them).</summary>
    public long InputBytes => FolderOutput.FolderBytes(_folder.FullPath);

    /// <summary>The output folder's size once it is in place; null before.</summary>
    public long? OutputBytes() => Directory.Exists(_target.FullPath) ? FolderOutput.FolderBytes(_target.FullPath) : null;

    /// <summary>The staging folder the parts of a split run share: hidden, beside the output.</summary>
    private string PartsFolder => Path.Combine(Path.GetDirectoryName(_target.FullPath)!, "." + Path.GetFileName(_target.FullPath) + ".quantshell-parts");

    /// <summary>Writes the whole folder in this process.</summary>
    public IReadOnlyList<QuantizationResult> Run(Action<long, long, int, int>? progress, CancellationToken token)
    {
        _target.Check();
        string staging = _target.CreateStaging();
        bool committed = false;
        try
        {
            var (results, shards) = WriteShards(staging, null, progress, token);
            _target.Finish(staging, shards, Config(shards), token);
            committed = true;
            return results;
        }
        finally
        {
            if (!committed) FolderOutput.TryDeleteFolder(staging);
        }
    }

    /// <summary>Writes one part's shards and its record into the shared staging folder.</summary>
    public IReadOnlyList<QuantizationResult> RunPart(SplitPart part, Action<long, long, int, int>? progress, CancellationToken token)
    {
        _target.Check();
        string staging = PartsFolder;
        _target.CreateFolder(staging);
        var (results, shards) = WriteShards(staging, part, progress, token);
        var manifest = new FolderManifest(_form, part.Number, part.Count, FolderManifest.SourceOf(_folder), shards);
        AtomicFile.Write(Path.Combine(staging, FolderManifest.FileName(part.Number, part.Count)), new WriteOptions { Force = true, Fsync = _options.Fsync }, s => s.Write(manifest.ToJson()));
        return results;
    }

    /// <summary>The final step of a split run: every part's record checked, then the index, config and other files, then the rename.</summary>
    public void FinishParts(CancellationToken token)
    {
        _target.Check();
        string staging = PartsFolder;
        if (!Directory.Exists(staging))
            throw FolderManifest.Incomplete(_outputName, $"no part of a split run has written here yet (expected the staging folder '{staging}').");
        var records = Directory.EnumerateFiles(staging, "part-*-of-*.json").Select(Path.GetFileName).ToList();
        var counts = records.Select(r => r!.Split('-', '.')).Where(p => p.Length == 5 && int.TryParse(p[3], out _)).Select(p => int.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture)).Distinct().ToList();
        if (counts.Count != 1)
            throw FolderManifest.Incomplete(_outputName, counts.Count == 0 ? "no part has finished yet." : $"the staging folder holds parts of runs split {string.Join(" and ", counts)} ways; remove '{staging}' and run the parts again.");
        int parts = counts[0];
        string source = FolderManifest.SourceOf(_folder);
        var shards = new List<ShardManifest>();
        for (int k = 1; k <= parts; k++)
        {
            string path = Path.Combine(staging, FolderManifest.FileName(k, parts));
            var manifest = FolderManifest.Read(path, path);
            if (manifest.Form != _form)
                throw FolderManifest.Incomplete(path, $"part {k} wrote the {Quantization.EnumNames.Kebab(manifest.Form)} format but the final step was asked for {Quantization.EnumNames.Kebab(_form)}.");
            if (manifest.Source != source)
                throw FolderManifest.Incomplete(path, $"part {k} was run on another input than {_folder.Name} (its shards differ).");
            shards.AddRange(manifest.Shards);
        }
        var written = shards.Select(s => s.FileName).ToHashSet(StringComparer.Ordinal);
        var missing = _folder.Shards.Where(s => !written.Contains(s.FileName) || !File.Exists(Path.Combine(staging, s.FileName))).Select(s => s.FileName).ToList();
        if (missing.Count > 0)
            throw FolderManifest.Incomplete(_outputName, $"shard '{missing[0]}'{(missing.Count > 1 ? $" and {missing.Count - 1} more" : "")} of {_folder.Name} has not been written by any part.");
        foreach (var record in records) File.Delete(Path.Combine(staging, record!));
        var ordered = _folder.Shards.Select(s => shards.First(m => m.FileName == s.FileName)).ToList();
        _target.Finish(staging, ordered, Config(ordered), token);
    }

    private (IReadOnlyList<QuantizationResult>, IReadOnlyList<ShardManifest>) WriteShards(string staging, SplitPart? part, Action<long, long, int, int>? progress, CancellationToken token)
    {
        var mine = _folder.Shards.Select((s, i) => (s, i)).Where(p => part is null || part.Takes(p.i)).Select(p => p.s).ToList();
        long total = mine.Sum(s => s.DataBytes), done = 0;
        int tensorsTotal = mine.Sum(s => s.Tensors.Count), tensorsDone = 0;
        void BytesDone(long bytes) => progress?.Invoke(Interlocked.Add(ref done, bytes), total, Interlocked.Increment(ref tensorsDone), tensorsTotal);
        var results = new IReadOnlyList<QuantizationResult>[mine.Count];
        var manifests = new ShardManifest[mine.Count];
        var writeOptions = new WriteOptions { Force = true, Fsync = _options.Fsync };
        void One(int i)
        {
            var shard = mine[i];
            string finalPath = Path.Combine(_target.FullPath, shard.FileName);
            string stagedPath = Path.Combine(staging, shard.FileName);
            using var file = _folder.OpenShard(shard);
            var modules = new List<CompressedModule>();
            var ignored = new List<string>();
            results[i] = AtomicFile.Write(stagedPath, writeOptions, stream => _form switch
            {
                OutputFormat.Fake => ModelQuantizer.WriteFake(file, stream, finalPath, _policy.LinearWeightDeciderFor(file.Name), _options, BytesDone, token),
                OutputFormat.Int => ModelQuantizer.WriteInt(file, TensorFileKind.Safetensors, stream, finalPath, _policy.LinearWeightDeciderFor(file.Name), _options, BytesDone, token),
                OutputFormat.CompressedTensors => CompressedTensorsWriter.Write(file, stream, finalPath, _policy.LinearWeightDeciderFor(file.Name), _options, modules, ignored, BytesDone, token),
                _ => throw new QuantShellException($"{_folder.Name}: the {Quantization.EnumNames.Kebab(_form)} format is for ONNX models; a model folder takes fake, int or compressed-tensors.",
                    ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, "Format"),
            }, Path.Combine(_outputName, shard.FileName));
            manifests[i] = ShardManifest.Written(shard.FileName, stagedPath, modules, ignored);
        }
        if (_parallelism == 1 || mine.Count < 2)
        {
            for (int i = 0; i < mine.Count; i++)
            {
                token.ThrowIfCancellationRequested();
                One(i);
            }
        }
        else
        {
            try
            {
                Parallel.For(0, mine.Count, new ParallelOptions { MaxDegreeOfParallelism = _parallelism, CancellationToken = token }, One);
            }
            catch (AggregateException ex) when (ex.InnerExceptions.Count > 0)
            {
                // The first shard's error (in file order is not known here; the first thrown is as good) is the input's one error.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerExceptions[0]).Throw();
            }
        }
        return (results.SelectMany(r => r).ToList(), manifests);
    }

    /// <summary>The output's config.json: the input's with <c>quantization_config</c> for compressed-tensors; null (copied as it is) otherwise.</summary>
    private JsonObject? Config(IReadOnlyList<ShardManifest> shards)
    {
        if (_form != OutputFormat.CompressedTensors) return null;
        var config = _folder.Config?.DeepClone().AsObject() ?? new JsonObject();
        config["quantization_config"] = CompressedTensorsConfig.Build(shards.SelectMany(s => s.Modules).ToList(), shards.SelectMany(s => s.Ignored).ToList());
        return config;
    }
}
