using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantShell.Core.Errors;

namespace QuantShell.Core.Formats;

/// <summary>
/// A Hugging Face model folder: <c>model.safetensors.index.json</c> naming each tensor's shard (or one
/// <c>model.safetensors</c>), <c>config.json</c>, and other files (tokenizer, generation config, README, licence). Opening
/// one reads the index and every shard's header, never a tensor's data, and checks that they agree before anything is
/// written: every shard the index names exists and is a plain file name in the folder, every tensor of the index is in the
/// shard it names and in no other, every tensor of a shard is in the index, and the shapes of the embeddings and the layer
/// numbers agree with <c>config.json</c> where it says them.
/// </summary>
public sealed class ModelFolder
{
    public const string IndexFileName = "model.safetensors.index.json";
    public const string SingleFileName = "model.safetensors";
    public const string ConfigFileName = "config.json";

    // An index maps names to file names; real ones are a few MB even for the largest models.
    private const long MaxJsonBytes = 64 << 20;

    private static readonly string[] EmbeddingSuffixes = ["embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embeddings.word_embeddings.weight"];

    private ModelFolder(string fullPath, string name, JsonObject? index, JsonObject? config, IReadOnlyList<Shard> shards)
    {
        FullPath = fullPath;
        Name = name;
        Index = index;
        Config = config;
        Shards = shards;
    }

    /// <summary>One shard: its file name in the folder and the tensors its header lists.</summary>
    public sealed record Shard(string FileName, IReadOnlyList<StoredTensor> Tensors, long DataBytes);

    public string FullPath { get; }

    /// <summary>The folder as the user named it (errors start with it).</summary>
    public string Name { get; }

    /// <summary>The index as read; null for a folder of one <c>model.safetensors</c>.</summary>
    public JsonObject? Index { get; }

    /// <summary><c>config.json</c> as read; null when the folder has none.</summary>
    public JsonObject? Config { get; }

    /// <summary>The shards in file-name order (ordinal): the order every part of a split run agrees on.</summary>
    public IReadOnlyList<Shard> Shards { get; }

    public bool Sharded => Index is not null;

    /// <summary>Total bytes of tensor data over all shards.</summary>
    public long DataBytes => Shards.Sum(s => s.DataBytes);

    /// <summary>True when <paramref name="fullPath"/> is a folder holding an index or a <c>model.safetensors</c>.</summary>
    public static bool IsModelFolder(string fullPath) =>
        Directory.Exists(fullPath) && (File.Exists(Path.Combine(fullPath, IndexFileName)) || File.Exists(Path.Combine(fullPath, SingleFileName)));

    /// <summary>One of the folder's shards, opened (named in errors as <see cref="Show"/> names it).</summary>
    public SafetensorsTensorFile OpenShard(Shard shard) => SafetensorsTensorFile.Open(Path.Combine(FullPath, shard.FileName), Show(shard.FileName));

    /// <summary>The path of a file of the folder as errors name it.</summary>
    public string Show(string fileName) => Path.Combine(Name, fileName);

    /// <summary>Reads and checks the folder (see the class summary).</summary>
    public static ModelFolder Open(string fullPath, string name)
    {
        if (!Directory.Exists(fullPath))
            throw new QuantShellException($"{name}: folder not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, name);
        string indexPath = Path.Combine(fullPath, IndexFileName);
        var config = File.Exists(Path.Combine(fullPath, ConfigFileName)) ? ReadObject(Path.Combine(fullPath, ConfigFileName), Path.Combine(name, ConfigFileName)) : null;
        if (!File.Exists(indexPath))
        {
            if (!File.Exists(Path.Combine(fullPath, SingleFileName)))
                throw new QuantShellException($"{name}: is a folder without {IndexFileName} or {SingleFileName}; QuantShell reads Hugging Face model folders of safetensors shards.{IO.PathChecks.FilesInFolder(fullPath, name)}",
                    ErrorIds.ModelFolderInvalid, QuantShellErrorKind.InvalidArgument, name);
            var single = ReadShard(fullPath, name, SingleFileName);
            var folder = new ModelFolder(fullPath, name, null, config, [single]);
            folder.CheckConfig();
            return folder;
        }
        string indexName = Path.Combine(name, IndexFileName);
        var index = ReadObject(indexPath, indexName);
        if (index["weight_map"] is not JsonObject weightMap)
            throw Invalid(indexName, "has no \"weight_map\" object (tensor name to shard file name).");
        var byShard = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (tensor, value) in weightMap)
        {
            if (value is not JsonValue v || !v.TryGetValue(out string? shard))
                throw Invalid(indexName, $"tensor '{Shorten(tensor)}': its shard is not a file name.");
            if (shard.Length == 0 || shard.Contains('/') || shard.Contains('\\') || shard is "." or ".." || Path.IsPathRooted(shard) || shard == IndexFileName || shard == ConfigFileName)
                throw Invalid(indexName, $"tensor '{Shorten(tensor)}': shard '{Shorten(shard)}' is not a file name in the folder (shards lie beside the index).");
            if (!byShard.TryGetValue(shard, out var names)) byShard[shard] = names = [];
            names.Add(tensor);
        }
        if (byShard.Count == 0) throw Invalid(indexName, "names no tensor.");
        var shards = new List<Shard>(byShard.Count);
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (shardName, names) in byShard)
        {
            if (!File.Exists(Path.Combine(fullPath, shardName)))
                throw new QuantShellException($"{indexName}: tensor '{Shorten(names[0])}' is in shard '{shardName}', which is missing from the folder.",
                    ErrorIds.ModelFolderShardMissing, QuantShellErrorKind.NotFound, Path.Combine(name, shardName));
            var shard = ReadShard(fullPath, name, shardName);
            foreach (var tensor in shard.Tensors)
            {
                if (owner.TryGetValue(tensor.Name, out string? first))
                    throw new QuantShellException($"{Path.Combine(name, shardName)}: tensor '{tensor.Name}' is also in shard '{first}'; a tensor must be in exactly one shard.",
                        ErrorIds.ModelFolderTensorInTwoShards, QuantShellErrorKind.InvalidData, Path.Combine(name, shardName));
                owner[tensor.Name] = shardName;
            }
            shards.Add(shard);
        }
        // Shards the index names may also hold tensors it does not (in two shards, or in none of the index).
        foreach (var (tensor, value) in weightMap)
        {
            string shard = value!.GetValue<string>();
            if (!owner.TryGetValue(tensor, out string? holder))
                throw new QuantShellException($"{indexName}: tensor '{Shorten(tensor)}' is in shard '{shard}' by the index, but no shard holds it.",
                    ErrorIds.ModelFolderTensorMissing, QuantShellErrorKind.InvalidData, indexName);
            if (holder != shard)
                throw new QuantShellException($"{indexName}: tensor '{Shorten(tensor)}' is in shard '{shard}' by the index, but shard '{holder}' holds it.",
                    ErrorIds.ModelFolderTensorMissing, QuantShellErrorKind.InvalidData, indexName);
        }
        foreach (var (tensor, holder) in owner)
        {
            if (!weightMap.ContainsKey(tensor))
                throw new QuantShellException($"{Path.Combine(name, holder)}: tensor '{tensor}' is not in the index's weight_map; the index and the shards disagree.",
                    ErrorIds.ModelFolderTensorUnindexed, QuantShellErrorKind.InvalidData, Path.Combine(name, holder));
        }
        var result = new ModelFolder(fullPath, name, index, config, shards);
        result.CheckConfig();
        return result;
    }

    /// <summary>The files of the folder other than the shards, the index and <c>config.json</c>, as paths relative to it.</summary>
    public IReadOnlyList<string> OtherFiles()
    {
        var own = new HashSet<string>(Shards.Select(s => s.FileName), StringComparer.Ordinal) { IndexFileName, ConfigFileName };
        return Directory.EnumerateFiles(FullPath, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false })
            .Select(f => Path.GetRelativePath(FullPath, f))
            .Where(f => !own.Contains(f))
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
    }

    private static Shard ReadShard(string folder, string name, string fileName)
    {
        using var file = SafetensorsTensorFile.Open(Path.Combine(folder, fileName), Path.Combine(name, fileName));
        return new Shard(fileName, file.Tensors, file.Tensors.Sum(t => t.ByteCount));
    }

    /// <summary>
    /// The shapes <c>config.json</c> states: the embedding's [vocab_size, hidden_size] and, for names with a layer number
    /// (<c>layers.N.</c>, <c>h.N.</c>), N below num_hidden_layers. Keys a config lacks are not checked.
    /// </summary>
    private void CheckConfig()
    {
        if (Config is null) return;
        long? vocab = Integer(Config, "vocab_size"), hidden = Integer(Config, "hidden_size") ?? Integer(Config, "n_embd");
        long? layers = Integer(Config, "num_hidden_layers") ?? Integer(Config, "n_layer");
        string configName = Show(ConfigFileName);
        foreach (var shard in Shards)
        {
            foreach (var tensor in shard.Tensors)
            {
                if (EmbeddingSuffixes.Any(s => tensor.Name == s || tensor.Name.EndsWith("." + s, StringComparison.Ordinal)) && tensor.Rank == 2)
                {
                    if (vocab is long v && tensor.Shape[0] != v)
                        throw ConfigMismatch(configName, shard, tensor, $"has {tensor.Shape[0]} rows but vocab_size is {v}");
                    if (hidden is long h && tensor.Shape[1] != h)
                        throw ConfigMismatch(configName, shard, tensor, $"has {tensor.Shape[1]} columns but hidden_size is {h}");
                }
                if (layers is long n && LayerNumber(tensor.Name) is long layer && layer >= n)
                    throw ConfigMismatch(configName, shard, tensor, $"belongs to layer {layer} but num_hidden_layers is {n}");
            }
        }
    }

    private QuantShellException ConfigMismatch(string configName, Shard shard, StoredTensor tensor, string problem) =>
        new($"{Show(shard.FileName)}: tensor '{tensor.Name}' (shape {tensor.ShapeText}) {problem} in {configName}.",
            ErrorIds.ModelFolderConfigMismatch, QuantShellErrorKind.InvalidData, Show(shard.FileName));

    private static long? LayerNumber(string name)
    {
        var parts = name.Split('.');
        for (int i = 0; i + 1 < parts.Length; i++)
        {
            if (parts[i] is "layers" or "h" or "layer" or "blocks" && long.TryParse(parts[i + 1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n))
                return n;
        }
        return null;
    }

    private static long? Integer(JsonObject json, string key) =>
        json[key] is JsonValue value && value.TryGetValue(out long n) ? n : null;

    /// <summary>Reads a JSON object file of at most 64 MiB (an index, a config).</summary>
    internal static JsonObject ReadObject(string path, string name)
    {
        byte[] bytes;
        try
        {
            // Through symbolic links: the Hugging Face cache links every file of a snapshot to a blob.
            long length = IO.FileLength.Of(new FileInfo(path));
            if (length > MaxJsonBytes) throw Invalid(name, $"is {length} bytes; the limit is {MaxJsonBytes}.");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new QuantShellException($"{name}: cannot be read ({ex.Message}).", ErrorIds.InputFileUnreadable, QuantShellErrorKind.ReadFailed, name, ex);
        }
        try
        {
            new UTF8Encoding(false, true).GetCharCount(bytes);
            return JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) as JsonObject
                ?? throw Invalid(name, "is not a JSON object.");
        }
        catch (DecoderFallbackException)
        {
            throw Invalid(name, "is not valid UTF-8.");
        }
        catch (JsonException ex)
        {
            throw Invalid(name, $"is not valid JSON ({ex.Message}).");
        }
    }

    private static QuantShellException Invalid(string name, string problem) =>
        new($"{name}: {problem}", ErrorIds.ModelFolderInvalid, QuantShellErrorKind.InvalidData, name);

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
