using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>How one Linear weight was written in the compressed-tensors layout (one entry of a config group).</summary>
internal sealed record CompressedModule(string Module, int NumBits, bool Symmetric, int? GroupSize);

/// <summary>What writing one shard produced: its tensors as written (for the index) and, for compressed-tensors, its modules.</summary>
internal sealed record ShardManifest(string FileName, IReadOnlyList<(string Name, long Bytes)> Tensors, IReadOnlyList<CompressedModule> Modules, IReadOnlyList<string> Ignored)
{
    /// <summary>The manifest of the shard written at <paramref name="path"/> (its header read back: the tensors as written).</summary>
    public static ShardManifest Written(string fileName, string path, IReadOnlyList<CompressedModule> modules, IReadOnlyList<string> ignored)
    {
        using var written = SafetensorsTensorFile.Open(path, path);
        return new ShardManifest(fileName, written.Tensors.Select(t => (t.Name, t.ByteCount)).ToList(), modules, ignored);
    }
}

/// <summary>
/// The record a part of a split run leaves beside the shards it wrote (<c>part-K-of-N.json</c> in the staging folder), and
/// that the final step reads back: which run it belongs to (the format, the count of parts, a digest of the input's index),
/// and each shard's tensors and modules. Written and read with explicit JSON (no reflection).
/// </summary>
internal sealed record FolderManifest(OutputFormat Form, int Part, int Parts, string Source, IReadOnlyList<ShardManifest> Shards)
{
    private const long MaxBytes = 256 << 20;

    public static string FileName(int part, int parts) => $"part-{part}-of-{parts}.json";

    /// <summary>A digest of what the parts must agree on: the index (or single shard's header) and the data size.</summary>
    public static string SourceOf(ModelFolder folder)
    {
        using var sha = SHA256.Create();
        string described = string.Join("\n", folder.Shards.Select(s => $"{s.FileName}\t{s.DataBytes}\t{string.Join(",", s.Tensors.Select(t => $"{t.Name}:{t.DType.Name}:{t.ShapeText}"))}"));
        return Convert.ToHexString(sha.ComputeHash(Encoding.UTF8.GetBytes(described))).ToLowerInvariant();
    }

    public byte[] ToJson()
    {
        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", Quantization.EnumNames.Json(Form));
            w.WriteNumber("part", Part);
            w.WriteNumber("parts", Parts);
            w.WriteString("source", Source);
            w.WriteStartArray("shards");
            foreach (var shard in Shards)
            {
                w.WriteStartObject();
                w.WriteString("file", shard.FileName);
                w.WriteStartObject("tensors");
                foreach (var (name, bytes) in shard.Tensors) w.WriteNumber(name, bytes);
                w.WriteEndObject();
                w.WriteStartArray("modules");
                foreach (var m in shard.Modules)
                {
                    w.WriteStartObject();
                    w.WriteString("module", m.Module);
                    w.WriteNumber("numBits", m.NumBits);
                    w.WriteBoolean("symmetric", m.Symmetric);
                    if (m.GroupSize is int g) w.WriteNumber("groupSize", g);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteStartArray("ignored");
                foreach (string name in shard.Ignored) w.WriteStringValue(name);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    public static FolderManifest Read(string path, string name)
    {
        if (!File.Exists(path))
            throw Incomplete(name, "is missing: that part has not finished (run it, then the final step again).");
        if (IO.FileLength.Of(new FileInfo(path)) > MaxBytes) throw Incomplete(name, "is too large to be a part record.");
        try
        {
            var root = JsonNode.Parse(File.ReadAllBytes(path)) as JsonObject ?? throw Incomplete(name, "is not a JSON object.");
            var form = Quantization.EnumNames.TryParse<OutputFormat>((string?)root["format"]) ?? throw Incomplete(name, "names no known format.");
            var shards = new List<ShardManifest>();
            foreach (var node in root["shards"]?.AsArray() ?? throw Incomplete(name, "has no shards list."))
            {
                var shard = node!.AsObject();
                var tensors = shard["tensors"]!.AsObject().Select(p => (p.Key, (long)p.Value!)).ToList();
                var modules = shard["modules"]!.AsArray().Select(m => new CompressedModule((string)m!["module"]!, (int)m["numBits"]!, (bool)m["symmetric"]!, (int?)m["groupSize"])).ToList();
                var ignored = shard["ignored"]!.AsArray().Select(n => (string)n!).ToList();
                shards.Add(new ShardManifest((string)shard["file"]!, tensors, modules, ignored));
            }
            return new FolderManifest(form, (int)root["part"]!, (int)root["parts"]!, (string)root["source"]!, shards);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or NullReferenceException or IOException)
        {
            throw Incomplete(name, $"cannot be read as a part record ({ex.Message}).");
        }
    }

    public static QuantShellException Incomplete(string name, string problem) =>
        new($"{name}: {problem}", ErrorIds.PartsIncomplete, QuantShellErrorKind.InvalidData, name);
}
