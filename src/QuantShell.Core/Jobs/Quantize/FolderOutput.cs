using System.Text.Json;
using System.Text.Json.Nodes;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// The output folder of a job that writes a Hugging Face model folder (quantize, dequantize): checked before anything is
/// read, built in a staging folder beside it (the shards by the job; then every other file copied unchanged, the index
/// rewritten for the tensors as written, config.json written or copied), and renamed into place: complete or not at all.
/// </summary>
internal sealed class FolderOutput
{
    private readonly ModelFolder _folder;
    private readonly string _output, _outputName;
    private readonly bool _force, _fsync;

    public FolderOutput(ModelFolder folder, string outputPath, string outputName, bool force, bool fsync)
    {
        _folder = folder;
        _output = Path.GetFullPath(outputPath);
        _outputName = outputName;
        _force = force;
        _fsync = fsync;
    }

    /// <summary>
    /// The output folder of <paramref name="input"/> as named: <paramref name="outputPath"/>, else the input's folder name
    /// in <paramref name="outputDirectory"/>, else <paramref name="beside"/> (the job's default beside the input).
    /// </summary>
    public static string NameFor(JobInput input, string? outputPath, string? outputDirectory, Func<string, string> beside) =>
        outputPath ?? (outputDirectory is { } directory
            ? Path.Combine(directory, Path.GetFileName(Path.TrimEndingDirectorySeparator(input.FullPath!)))
            : beside(input.Name));

    /// <summary>The output folder's full path.</summary>
    public string FullPath => _output;

    /// <summary>
    /// Checks the output before anything is read: not the input, not inside it nor around it, nothing there unless
    /// <paramref name="force"/>, its parent folder existing.
    /// </summary>
    public static void Check(string inputFolder, string outputFolder, bool force, string outputName)
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
            throw new QuantShellException($"{outputName}: the output folder exists; nothing was written (use {Parameter.Force} to replace it).", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, outputName);
    }


    /// <summary><see cref="Check(string, string, bool, string)"/> of this output.</summary>
    public void Check() => Check(_folder.FullPath, _output, _force, _outputName);

    /// <summary>A staging folder of this process beside the output, created (the caller removes it with <see cref="TryDeleteFolder"/> on failure).</summary>
    public string CreateStaging()
    {
        string staging = Path.Combine(Path.GetDirectoryName(_output)!, $".{Path.GetFileName(_output)}.quantshell-{Environment.ProcessId}-{Guid.NewGuid():N}");
        CreateFolder(staging);
        return staging;
    }

    /// <summary>The size on disk of a folder's files (symbolic links followed, as a Hugging Face cache snapshot holds them).</summary>
    public static long FolderBytes(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => FileLength.Of(new FileInfo(f)));

    /// <summary>
    /// Everything but the shards: other files, index, config (<paramref name="config"/>; null: the input's copied, if it
    /// has one); then the staging folder becomes the output.
    /// </summary>
    public void Finish(string staging, IReadOnlyList<ShardManifest> shards, JsonObject? config, CancellationToken token)
    {
        foreach (string relative in _folder.OtherFiles())
        {
            token.ThrowIfCancellationRequested();
            string target = Path.Combine(staging, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(_folder.FullPath, relative), target, overwrite: true);
        }
        var write = new WriteOptions { Force = true, Fsync = _fsync };
        if (_folder.Index is { } index)
        {
            var rewritten = RewriteIndex(index, shards);
            AtomicFile.Write(Path.Combine(staging, ModelFolder.IndexFileName), write, s => s.Write(Serialize(rewritten)));
        }
        string configSource = Path.Combine(_folder.FullPath, ModelFolder.ConfigFileName);
        if (config is not null)
            AtomicFile.Write(Path.Combine(staging, ModelFolder.ConfigFileName), write, s => s.Write(Serialize(config)));
        else if (File.Exists(configSource))
            File.Copy(configSource, Path.Combine(staging, ModelFolder.ConfigFileName), overwrite: true);
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
        if (_fsync) RenameIntoPlace.FlushDirectory(staging);
        string? aside = null;
        try
        {
            if (Directory.Exists(_output))
            {
                if (!_force)
                    throw new QuantShellException($"{_outputName}: the output folder was created by another process meanwhile; nothing was written (use {Parameter.Force} to replace it).", ErrorIds.OutputExists, QuantShellErrorKind.AlreadyExists, _outputName);
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
        if (_fsync) RenameIntoPlace.FlushDirectory(Path.GetDirectoryName(_output)!);
        if (aside is not null) TryDeleteFolder(aside);
    }

    public void CreateFolder(string path)
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

    public static void TryDeleteFolder(string path)
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
