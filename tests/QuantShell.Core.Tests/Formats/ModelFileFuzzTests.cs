using System.Text;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using static QuantShell.Core.Tests.Formats.ModelFileBuilder;

namespace QuantShell.Core.Tests.Formats;

/// <summary>
/// Mutation fuzzing of the model-file readers and writers (safetensors, .npz, PyTorch): byte edits of whole files, and
/// edits that keep the container valid so the inner formats are reached — a checkpoint's pickle and an .npz entry's .npy
/// header re-zipped with correct CRCs, a safetensors header's JSON with its length fixed. Each mutant is opened, every
/// tensor read, and a copy written with a rewriter; only <see cref="QuantShellException"/>s may come out. Every run does a
/// few thousand cases; QUANTSHELL_FUZZ_ITERATIONS and QUANTSHELL_FUZZ_SEED search deeper.
/// </summary>
public sealed class ModelFileFuzzTests
{
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("QUANTSHELL_FUZZ_ITERATIONS"), out int n) ? n : 2000;
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("QUANTSHELL_FUZZ_SEED"), out int s) ? s : 20261128;

    private static readonly string[] JsonFragments =
    [
        "\"dtype\"", "\"F32\"", "\"BF16\"", "\"F8_E4M3\"", "\"X9\"", "\"shape\"", "\"data_offsets\"", "[", "]", "{", "}", ",", ":", "0", "-1",
        "18446744073709551615", "9223372036854775807", "4294967296", "1e3", "null", "true", "\"__metadata__\"", "\"a\"", "\\u0000", "\\ud800", "\"", " ",
    ];

    // Opcodes a pickle may hold, valid or not, and globals on and off the allowlist.
    private static readonly byte[][] PickleFragments =
    [
        "("u8.ToArray(), "t"u8.ToArray(), ")"u8.ToArray(), "]"u8.ToArray(), "}"u8.ToArray(), "a"u8.ToArray(), "e"u8.ToArray(), "s"u8.ToArray(),
        "u"u8.ToArray(), "R"u8.ToArray(), "b"u8.ToArray(), "N"u8.ToArray(), "Q"u8.ToArray(), "."u8.ToArray(), [0x85], [0x86], [0x87], [0x88],
        [0x89], [0x81], [0x8f], [(byte)'K', 255], [(byte)'M', 255, 255], [(byte)'J', 255, 255, 255, 255], [0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 0x80],
        [(byte)'h', 0], [(byte)'h', 200], [(byte)'q', 3], [(byte)'r', 255, 255, 255, 255], [(byte)'X', 255, 255, 255, 255], [(byte)'U', 3, 97, 98, 99],
        [(byte)'G', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0], "cos\nsystem\n"u8.ToArray(), "ctorch._utils\n_rebuild_tensor_v2\n"u8.ToArray(),
        "ctorch\nFloatStorage\n"u8.ToArray(), "ctorch\nBFloat16Storage\n"u8.ToArray(), "ccollections\nOrderedDict\n"u8.ToArray(),
        "ctorch._utils\n_rebuild_parameter\n"u8.ToArray(), "ctorch\nSize\n"u8.ToArray(), "X\u0007\0\0\0storage"u8.ToArray(), [0x93], "i"u8.ToArray(),
    ];

    private sealed record Seeded(string Extension, byte[] Bytes);

    private static List<Seeded> Seeds() =>
        ModelFixtures.Files.Select(f => new Seeded(Path.GetExtension(f), File.ReadAllBytes(ModelFixtures.PathOf(f)))).ToList();

    [Fact]
    public void MutatedModelFiles_OnlyDocumentedErrors()
    {
        var random = new Random(Seed);
        var seeds = Seeds();
        var errorIds = new HashSet<string>();
        var accepted = new Dictionary<string, int>();
        using var temp = new TempDirectory();
        for (int i = 0; i < Iterations; i++)
        {
            var seed = seeds[random.Next(seeds.Count)];
            byte[] bytes = random.Next(3) == 0 ? MutateBytes(random, seed.Bytes, seeds) : MutateInside(random, seed);
            string name = "fuzz" + seed.Extension;
            string path = temp.File(name);
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = TensorFiles.Open(path, name);
                foreach (var tensor in file.Tensors)
                {
                    using var stream = file.OpenTensor(tensor);
                    stream.CopyTo(Stream.Null);
                }
                var firstFloat = file.Tensors.FirstOrDefault(t => t.DType.IsFloating);
                file.WriteCopy(Stream.Null, t => t == firstFloat ? ModelFixtures.Complement : null, CancellationToken.None);
                accepted[seed.Extension] = accepted.GetValueOrDefault(seed.Extension) + 1;
            }
            catch (QuantShellException ex)
            {
                Assert.False(string.IsNullOrEmpty(ex.ErrorId));
                Assert.StartsWith(name, ex.Message);
                errorIds.Add(ex.ErrorId);
            }
            catch (Exception ex)
            {
                Assert.Fail($"iteration {i} (seed {Seed}, {seed.Extension}): undocumented {ex.GetType().Name}: {ex.Message}\n{ex.StackTrace}\n{Convert.ToBase64String(bytes)}");
            }
        }
        // The mutations reach the checks of every layer, and some mutants are still valid files of each kind.
        Assert.True(errorIds.Count >= 12, "error ids seen: " + string.Join(", ", errorIds.Order()));
        foreach (string extension in new[] { ".pt", ".npz", ".safetensors" })
            Assert.True(accepted.GetValueOrDefault(extension) > 0, $"no valid {extension} mutant; accepted: {string.Join(", ", accepted)}");
    }

    private static byte[] MutateBytes(Random random, byte[] original, List<Seeded> seeds)
    {
        var bytes = (byte[])original.Clone();
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits; e++)
        {
            switch (random.Next(5))
            {
                case 0 when bytes.Length > 0:
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Length > 0:
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    break;
                case 2:
                    Array.Resize(ref bytes, random.Next(bytes.Length + 1));
                    break;
                case 3 when bytes.Length > 22: // the end of a zip: its directory and end record
                    bytes[bytes.Length - 1 - random.Next(Math.Min(bytes.Length, 200))] = (byte)random.Next(256);
                    break;
                default:
                    var other = seeds[random.Next(seeds.Count)].Bytes;
                    int cut = random.Next(bytes.Length + 1), from = random.Next(other.Length + 1);
                    bytes = bytes.Take(cut).Concat(other.Skip(from)).ToArray();
                    break;
            }
        }
        return bytes;
    }

    /// <summary>Edits the inner format and rebuilds a valid container around it.</summary>
    private static byte[] MutateInside(Random random, Seeded seed) => seed.Extension switch
    {
        ".safetensors" => MutateSafetensorsHeader(random, seed.Bytes),
        _ => MutateZipEntries(random, seed),
    };

    private static byte[] MutateSafetensorsHeader(Random random, byte[] bytes)
    {
        int length = (int)BitConverter.ToUInt64(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, length);
        byte[] data = bytes[(8 + length)..];
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits; e++)
        {
            int position = random.Next(header.Length + 1);
            int remove = random.Next(Math.Min(6, header.Length - position) + 1);
            header = header.Remove(position, remove).Insert(position, JsonFragments[random.Next(JsonFragments.Length)]);
        }
        if (random.Next(4) == 0) data = data[..random.Next(data.Length + 1)];
        return Safetensors(header, data);
    }

    private static byte[] MutateZipEntries(Random random, Seeded seed)
    {
        var entries = ReadEntries(seed.Bytes);
        bool checkpoint = seed.Extension == ".pt";
        int target = checkpoint
            ? entries.FindIndex(e => e.Name.EndsWith("/data.pkl", StringComparison.Ordinal))
            : random.Next(entries.Count);
        if (checkpoint && random.Next(5) == 0) target = random.Next(entries.Count); // a storage or the version
        var (name, content) = entries[target];
        entries[target] = (name, checkpoint && name.EndsWith("data.pkl", StringComparison.Ordinal) ? MutatePickle(random, content) : MutateHeaderBytes(random, content));
        if (random.Next(10) == 0 && entries.Count > 1) entries.RemoveAt(random.Next(entries.Count));
        bool deflate = seed.Bytes.Length < 1600 && !checkpoint; // the compressed .npz fixture is the small one
        return Zip(entries.Select(e => new ZipItem(e.Name, e.Content, deflate)).ToArray());
    }

    private static byte[] MutatePickle(Random random, byte[] pickle)
    {
        var bytes = new List<byte>(pickle);
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits; e++)
        {
            int at = random.Next(bytes.Count + 1);
            switch (random.Next(4))
            {
                case 0 when at < bytes.Count: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1 when at < bytes.Count: bytes.RemoveRange(at, random.Next(Math.Min(8, bytes.Count - at) + 1)); break;
                case 2 when at < bytes.Count: bytes[at] = (byte)random.Next(256); break;
                default: bytes.InsertRange(at, PickleFragments[random.Next(PickleFragments.Length)]); break;
            }
        }
        return bytes.ToArray();
    }

    private static byte[] MutateHeaderBytes(Random random, byte[] content)
    {
        var bytes = (byte[])content.Clone();
        if (bytes.Length == 0) return [(byte)random.Next(256)];
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits; e++)
        {
            int at = random.Next(Math.Min(bytes.Length, 128));
            bytes[at] = random.Next(2) == 0 ? (byte)(bytes[at] ^ (1 << random.Next(8))) : (byte)"0123456789(),:'<>fiub "[random.Next(22)];
        }
        if (random.Next(4) == 0) bytes = bytes[..random.Next(bytes.Length + 1)];
        return bytes;
    }

    /// <summary>The entries of one of the (valid) fixture zips, read with System.IO.Compression as an independent reader.</summary>
    private static List<(string Name, byte[] Content)> ReadEntries(byte[] zip)
    {
        using var archive = new System.IO.Compression.ZipArchive(new MemoryStream(zip), System.IO.Compression.ZipArchiveMode.Read);
        return archive.Entries.Select(e =>
        {
            using var stream = e.Open();
            var memory = new MemoryStream();
            stream.CopyTo(memory);
            return (e.FullName, memory.ToArray());
        }).ToList();
    }
}
