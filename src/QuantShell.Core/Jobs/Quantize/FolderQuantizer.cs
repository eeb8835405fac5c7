using System.Text.Json;
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
    private readonly string _output, _outputName;

    public FolderQuantizer(ModelFolder folder, TensorPolicy policy, OutputFormat form, FileQuantizeOptions options, int parallelism, string outputPath, string outputName)
    {
        _folder = folder;
        _policy = policy;
        _form = form;
        _options = options;
        _parallelism = Math.Max(1, parallelism);
        _output = Path.GetFullPath(outputPath);
        _outputName = outputName;
    }

    /// <summary>The default output of a folder: beside it, <c>NAME.TAG</c> (<c>Llama.q</c>, <c>Llama.int</c>, <c>Llama.compressed-tensors</c>).</summary>
    public static string DefaultOutput(string folder, OutputFormat form) =>
        Path.TrimEndingDirectorySeparator(folder) + "." + (form == OutputFormat.CompressedTensors ? Quantization.EnumNames.Kebab(form) : QuantizeJob.Tag(form));

    /// <summary>
    /// Checks the output before anything is read: not the input, not inside it nor around it, nothing there unless
    /// <paramref name="force"/>, its parent folder existing.
    /// </summary>
    public static void CheckOutput(string inputFolder, string outputFolder, bool force, string outputName)
    {
        string input = Path.TrimEndingDirectorySeparator(Path.GetFullPath(inputFolder));
        string output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputFolder));
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        bool same = string.Equals(input, output, comparison)
            || (FileIdentity.Of(output) is { } o && FileIdentity.Of(input) == o);
        if (same || output.StartsWith(input + Path.DirectorySeparatorChar, comparison) || input.StartsWith(output + Path.DirectorySeparatorChar, comparison))
            throw new QuantShellException($"{outputName}: the output folder would be {(same ? "the input folder" : "inside the input folder, or hold it")}; choose a folder beside it.",
                ErrorIds.OutputIsInput, QuantShellErrorKind.InvalidArgument, outputName);
        string? parent = Path.GetDirectoryName(output);
        if (parent is null || !Directory.Exists(parent))
            throw new QuantShellException($"{outputName}: the folder '{parent}' that would hold the output does not exist.", ErrorIds.OutputDirectoryNotFound, QuantShellErrorKind.NotFound, outputName);
        if (File.Exists(output))
            throw new QuantShellException($"{outputName}: is a file; the output of a model folder is a folder.", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, outputName);
        if (!force && Directory.Exists(output))
            throw new QuantShellException($"{outputName}: the output folder exists; nothing was written (use -Force (--force) to replace it).", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, outputName);
    }

    /// <summary>The input folder's size on disk (every file, symbolic links followed, as a Hugging Face cache snapshot holds them).</summary>
    public long InputBytes => FolderBytes(_folder.FullPath);

    /// <summary>The output folder's size once it is in place; null before.</summary>
    public long? OutputBytes() => Directory.Exists(_output) ? FolderBytes(_output) : null;

    private static long FolderBytes(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => FileLength.Of(new FileInfo(f)));

    /// <summary>The staging folder the parts of a split run share: hidden, beside the output.</summary>
    private string PartsFolder => Path.Combine(Path.GetDirectoryName(_output)!, "." + Path.GetFileName(_output) + ".quantshell-parts");

    /// <summary>Writes the whole folder in this process.</summary>
    public IReadOnlyList<QuantizationResult> Run(Action<long, long, int, int>? progress, CancellationToken token)
    {
        CheckOutput(_folder.FullPath, _output, _options.Force, _outputName);
        string staging = Path.Combine(Path.GetDirectoryName(_output)!, $".{Path.GetFileName(_output)}.quantshell-{Environment.ProcessId}-{Guid.NewGuid():N}");
        CreateFolder(staging);
        bool committed = false;
        try
        {
            var (results, shards) = WriteShards(staging, null, progress, token);
            Finish(staging, shards, token);
            committed = true;
            return results;
        }
        finally
        {
            if (!committed) TryDeleteFolder(staging);
        }
    }

    /// <summary>Writes one part's shards and its record into the shared staging folder.</summary>
    public IReadOnlyList<QuantizationResult> RunPart(SplitPart part, Action<long, long, int, int>? progress, CancellationToken token)
    {
        CheckOutput(_folder.FullPath, _output, _options.Force, _outputName);
        string staging = PartsFolder;
        CreateFolder(staging);
        var (results, shards) = WriteShards(staging, part, progress, token);
        var manifest = new FolderManifest(_form, part.Number, part.Count, FolderManifest.SourceOf(_folder), shards);
        AtomicFile.Write(Path.Combine(staging, FolderManifest.FileName(part.Number, part.Count)), new WriteOptions { Force = true, Fsync = _options.Fsync }, s => s.Write(manifest.ToJson()));
        return results;
    }

    /// <summary>The final step of a split run: every part's record checked, then the index, config and other files, then the rename.</summary>
    public void FinishParts(CancellationToken token)
    {
        CheckOutput(_folder.FullPath, _output, _options.Force, _outputName);
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
        Finish(staging, _folder.Shards.Select(s => shards.First(m => m.FileName == s.FileName)).ToList(), token);
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
            string finalPath = Path.Combine(_output, shard.FileName);
            string stagedPath = Path.Combine(staging, shard.FileName);
            using var file = SafetensorsTensorFile.Open(Path.Combine(_folder.FullPath, shard.FileName), _folder.Show(shard.FileName));
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
            using var written = SafetensorsTensorFile.Open(stagedPath, stagedPath);
            manifests[i] = new ShardManifest(shard.FileName, written.Tensors.Select(t => (t.Name, t.ByteCount)).ToList(), modules, ignored);
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

    /// <summary>Everything but the shards: other files, index, config; then the staging folder becomes the output.</summary>
    private void Finish(string staging, IReadOnlyList<ShardManifest> shards, CancellationToken token)
    {
        foreach (string relative in _folder.OtherFiles())
        {
            token.ThrowIfCancellationRequested();
            string target = Path.Combine(staging, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(_folder.FullPath, relative), target, overwrite: true);
        }
        var write = new WriteOptions { Force = true, Fsync = _options.Fsync };
        if (_folder.Index is { } index)
        {
            var rewritten = RewriteIndex(index, shards);
            AtomicFile.Write(Path.Combine(staging, ModelFolder.IndexFileName), write, s => s.Write(Serialize(rewritten)));
        }
        string configSource = Path.Combine(_folder.FullPath, ModelFolder.ConfigFileName);
        if (_form == OutputFormat.CompressedTensors)
        {
            var config = _folder.Config?.DeepClone().AsObject() ?? new JsonObject();
            config["quantization_config"] = CompressedTensorsConfig.Build(shards.SelectMany(s => s.Modules).ToList(), shards.SelectMany(s => s.Ignored).ToList());
            AtomicFile.Write(Path.Combine(staging, ModelFolder.ConfigFileName), write, s => s.Write(Serialize(config)));
        }
        else if (File.Exists(configSource))
        {
            File.Copy(configSource, Path.Combine(staging, ModelFolder.ConfigFileName), overwrite: true);
        }
        token.ThrowIfCancellationRequested();
        Commit(staging);
    }

    /// <summary>The index with each tensor as written: weight_map (sorted by name, as transformers writes it) and metadata.total_size.</summary>
    private static JsonObject RewriteIndex(JsonObject original, IReadOnlyList<ShardManifest> shards)
    {
        var index = new JsonObject();
        foreach (var (key, value) in original)
        {
            if (key is "weight_map" or "metadata") continue;
            index[key] = value?.DeepClone();
        }
        var metadata = original["metadata"] is JsonObject m ? m.DeepClone().AsObject() : new JsonObject();
        metadata["total_size"] = shards.Sum(s => s.Tensors.Sum(t => t.Bytes));
        var map = new JsonObject();
        foreach (var (name, file) in shards.SelectMany(s => s.Tensors.Select(t => (t.Name, s.FileName))).OrderBy(p => p.Name, StringComparer.Ordinal))
            map[name] = file;
        var result = new JsonObject { ["metadata"] = metadata, ["weight_map"] = map };
        foreach (var (key, value) in index) result[key] = value?.DeepClone();
        return result;
    }

    private static byte[] Serialize(JsonNode node)
    {
        var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            node.WriteTo(writer);
        stream.WriteByte((byte)'\n');
        return stream.ToArray();
    }

    /// <summary>
    /// Renames the staging folder to the output. An existing output (only with Force) is first renamed aside, then removed
    /// once the new one is in place.
    /// </summary>
    private void Commit(string staging)
    {
        if (_options.Fsync) RenameIntoPlace.FlushDirectory(staging);
        string? aside = null;
        try
        {
            if (Directory.Exists(_output))
            {
                if (!_options.Force)
                    throw new QuantShellException($"{_outputName}: the output folder was created by another process meanwhile; nothing was written (use -Force (--force) to replace it).", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, _outputName);
                aside = Path.Combine(Path.GetDirectoryName(_output)!, $".{Path.GetFileName(_output)}.quantshell-old-{Guid.NewGuid():N}");
                Directory.Move(_output, aside);
            }
            Directory.Move(staging, _output);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (aside is not null && !Directory.Exists(_output)) Directory.Move(aside, _output);
            throw new QuantShellException($"{_outputName}: the output folder cannot be put in place ({ex.Message}); nothing was written.", ErrorIds.OutputWriteFailed, QuantShellErrorKind.WriteFailed, _outputName, ex);
        }
        if (_options.Fsync) RenameIntoPlace.FlushDirectory(Path.GetDirectoryName(_output)!);
        if (aside is not null) TryDeleteFolder(aside);
    }

    private void CreateFolder(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{_outputName}: the staging folder '{path}' cannot be created ({ex.Message}).", ErrorIds.OutputDirectoryUnwritable, QuantShellErrorKind.WriteFailed, _outputName, ex);
        }
    }

    private static void TryDeleteFolder(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }
}
