using System.Text;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>
/// Mutation fuzzing of the .npy reader and the streaming quantizer: bit flips, byte edits, truncations, header
/// text edits and splices of valid files. Only documented exceptions (<see cref="QuantShellException"/>) may come out.
/// Every run does a few thousand cases; set QUANTSHELL_FUZZ_ITERATIONS (and QUANTSHELL_FUZZ_SEED) for deeper searches.
/// </summary>
public sealed class NpyFuzzTests
{
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("QUANTSHELL_FUZZ_ITERATIONS"), out int n) ? n : 3000;
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("QUANTSHELL_FUZZ_SEED"), out int s) ? s : 20261128;

    private static readonly string[] HeaderFragments =
    {
        "'descr'", "'<f4'", "'>f8'", "'|O'", "'<c16'", "'fortran_order'", "True", "False", "'shape'", "(", ")", ",", ":", "{", "}",
        "-1", "0", "99999999999999999999", "4294967296", "__import__('os').system('true')", "[('a','<f4')]", "\\x00", "'", "\"",
        "1L", "(3,)", "()", "\n", " ", "'extra': 1",
    };

    private static List<byte[]> Seeds()
    {
        var seeds = Conformance.PyTorch.Cases.Take(20).Select(c => File.ReadAllBytes(c.InputPath)).ToList();
        seeds.Add(NpyBuilder.Build(NpyBuilder.Dict("<f4", "(2, 3)", fortran: true), new byte[24]));
        seeds.Add(NpyBuilder.Build(NpyBuilder.Dict(">i2", "(5,)"), new byte[10], major: 2));
        seeds.Add(NpyBuilder.Build(NpyBuilder.Dict("|b1", "()"), new byte[1], major: 3));
        seeds.Add(NpyBuilder.Build(NpyBuilder.Dict("<f2", "(0, 4)"), Array.Empty<byte>()));
        return seeds;
    }

    private static byte[] Mutate(Random random, List<byte[]> seeds)
    {
        var bytes = (byte[])seeds[random.Next(seeds.Count)].Clone();
        int edits = 1 + random.Next(4);
        for (int e = 0; e < edits; e++)
        {
            switch (random.Next(7))
            {
                case 0 when bytes.Length > 0: // bit flip, biased towards the header
                    int at = random.Next(Math.Min(bytes.Length, random.Next(2) == 0 ? 128 : bytes.Length));
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when bytes.Length > 0: // random byte
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    break;
                case 2: // truncate
                    Array.Resize(ref bytes, random.Next(bytes.Length + 1));
                    break;
                case 3: // trailing garbage
                    bytes = bytes.Concat(Enumerable.Range(0, 1 + random.Next(16)).Select(_ => (byte)random.Next(256))).ToArray();
                    break;
                case 4: // splice with another file
                    var other = seeds[random.Next(seeds.Count)];
                    int cut = random.Next(bytes.Length + 1), from = random.Next(other.Length + 1);
                    bytes = bytes.Take(cut).Concat(other.Skip(from)).ToArray();
                    break;
                case 5 when bytes.Length > 10: // header length field
                    bytes[8 + random.Next(2)] = (byte)random.Next(256);
                    break;
                default: // edit the header text with a fragment of Python-ish syntax
                    bytes = EditHeaderText(random, bytes);
                    break;
            }
        }
        return bytes;
    }

    private static byte[] EditHeaderText(Random random, byte[] bytes)
    {
        if (bytes.Length < 12) return bytes;
        int headerStart = bytes[6] == 1 ? 10 : 12;
        int headerLength = bytes[6] == 1 ? BitConverter.ToUInt16(bytes, 8) : (int)Math.Min(BitConverter.ToUInt32(bytes, 8), 4096);
        if (headerStart + headerLength > bytes.Length) return bytes;
        string text = Encoding.Latin1.GetString(bytes, headerStart, headerLength);
        int position = random.Next(text.Length + 1);
        int remove = random.Next(Math.Min(8, text.Length - position) + 1);
        text = text.Remove(position, remove).Insert(position, HeaderFragments[random.Next(HeaderFragments.Length)]);
        byte[] header = Encoding.Latin1.GetBytes(text);
        var result = new List<byte>(bytes.Take(8));
        if (bytes[6] == 1) result.AddRange(BitConverter.GetBytes((ushort)header.Length));
        else result.AddRange(BitConverter.GetBytes((uint)header.Length));
        result.AddRange(header);
        result.AddRange(bytes.Skip(headerStart + headerLength));
        return result.ToArray();
    }

    [Fact]
    public void MutatedFiles_OnlyDocumentedErrors()
    {
        var random = new Random(Seed);
        var seeds = Seeds();
        var quantizer = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 4.0);
        var errorIds = new HashSet<string>();
        int accepted = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] bytes = Mutate(random, seeds);
            foreach (bool seekable in new[] { true, false })
            {
                try
                {
                    using Stream input = seekable ? new MemoryStream(bytes, writable: false) : new NonSeekableStream(bytes);
                    NpyArray.Read(input, "fuzz.npy");
                    using Stream again = seekable ? new MemoryStream(bytes, writable: false) : new NonSeekableStream(bytes);
                    NpyQuantizer.QuantizeStream(again, "fuzz.npy", Stream.Null, "out.npy", quantizer, new FileQuantizeOptions { AllowNonFinite = true, ChunkBytes = 64 });
                    accepted++;
                }
                catch (QuantShellException ex)
                {
                    Assert.False(string.IsNullOrEmpty(ex.ErrorId));
                    Assert.StartsWith("fuzz.npy", ex.Message);
                    errorIds.Add(ex.ErrorId);
                }
                catch (Exception ex)
                {
                    Assert.Fail($"iteration {i} (seed {Seed}, seekable {seekable}): undocumented {ex.GetType().Name}: {ex.Message}\n{Convert.ToBase64String(bytes)}");
                }
            }
        }
        // The mutations reach many distinct checks, and some mutated files are still valid.
        Assert.True(errorIds.Count >= 6, "error ids seen: " + string.Join(", ", errorIds));
        Assert.True(accepted > 0);
    }
}
