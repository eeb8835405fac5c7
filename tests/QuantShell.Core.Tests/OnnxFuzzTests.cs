using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// Mutation fuzzing of the ONNX reader and the lowering: bit flips, byte edits, truncations, varint edits and splices of
/// the shared MCT models. Only documented exceptions (<see cref="QuantShellException"/>) may come out. A few hundred
/// cases per run; QUANTSHELL_FUZZ_ITERATIONS (and QUANTSHELL_FUZZ_SEED) go deeper.
/// </summary>
public sealed class OnnxFuzzTests
{
    private static readonly int Iterations = int.TryParse(Environment.GetEnvironmentVariable("QUANTSHELL_FUZZ_ITERATIONS"), out int n) ? n / 4 : 600;
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("QUANTSHELL_FUZZ_SEED"), out int s) ? s : 20261128;

    private static byte[] Mutate(Random random, IReadOnlyList<byte[]> seeds)
    {
        var bytes = (byte[])seeds[random.Next(seeds.Count)].Clone();
        int edits = 1 + random.Next(3);
        for (int e = 0; e < edits && bytes.Length > 0; e++)
        {
            switch (random.Next(6))
            {
                case 0: bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[random.Next(bytes.Length)] = (byte)random.Next(256); break;
                case 2: Array.Resize(ref bytes, random.Next(bytes.Length + 1)); break;
                case 3: // a varint-looking byte becomes a long or negative length
                    int at = random.Next(bytes.Length);
                    bytes[at] = (byte)(0x80 | random.Next(128));
                    break;
                case 4: // splice with another model
                    var other = seeds[random.Next(seeds.Count)];
                    int cut = random.Next(bytes.Length + 1), from = random.Next(other.Length + 1);
                    bytes = [.. bytes.Take(cut), .. other.Skip(from)];
                    break;
                default: // duplicate a run of bytes (repeated fields, nested messages)
                    int start = random.Next(bytes.Length), length = Math.Min(bytes.Length - start, 1 + random.Next(64));
                    bytes = [.. bytes.Take(start + length), .. bytes.Skip(start)];
                    break;
            }
        }
        return bytes;
    }

    [Fact]
    public void MutatedModels_OnlyDocumentedErrors()
    {
        var seeds = MctqModels.All.Select(m => File.ReadAllBytes(m.ModelPath)).ToList();
        Assert.Equal(MctqModels.ExpectedCount, seeds.Count);
        var random = new Random(Seed);
        var errorIds = new HashSet<string>();
        int lowered = 0;
        for (int i = 0; i < Iterations; i++)
        {
            byte[] bytes = Mutate(random, seeds);
            try
            {
                var model = OnnxModel.Parse(bytes, "fuzz.onnx");
                foreach (var initializer in model.Initializers()) initializer.ReadValues();
                OnnxWeights.Survey(model);
                MctLowering.Lower(model, (WeightsForm)(i % 2), (ActivationsForm)(i / 2 % 2));
                OnnxModel.Parse(model.ToByteArray(), "fuzz.onnx");
                lowered++;
            }
            catch (QuantShellException ex)
            {
                Assert.False(string.IsNullOrEmpty(ex.ErrorId));
                Assert.StartsWith("fuzz.onnx", ex.Message);
                errorIds.Add(ex.ErrorId);
            }
            catch (Exception ex)
            {
                Assert.Fail($"iteration {i} (seed {Seed}): undocumented {ex.GetType().Name}: {ex.Message}\n{Convert.ToBase64String(bytes)}");
            }
        }
        Assert.True(errorIds.Count >= 4, "error ids seen: " + string.Join(", ", errorIds));
        Assert.True(lowered > 0, "no mutated model was still valid");
    }

    /// <summary>The weight survey (chains, Constant nodes, subgraphs, recurrent ops) on mutations of the weight fixtures.</summary>
    [Fact]
    public void MutatedWeightModels_AreSurveyed_WithOnlyDocumentedErrors()
    {
        string[] names = ["constant_cnn", "weight_chains", "if_recurrent", "float_types", "half_model"];
        var seeds = names.Select(n => File.ReadAllBytes(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", n + ".onnx"))).ToList();
        var random = new Random(Seed + 1);
        int surveyed = 0, weights = 0;
        for (int i = 0; i < Iterations / 2; i++)
        {
            byte[] bytes = Mutate(random, seeds);
            try
            {
                var file = new OnnxTensorFile(OnnxModel.Parse(bytes, "fuzz.onnx"));
                foreach (var tensor in file.Tensors.Where(t => t.GraphRole?.ChannelAxis is not null)) file.Holder(tensor).ReadValues();
                weights += file.Survey.Weights.Count();
                surveyed++;
            }
            catch (QuantShellException ex)
            {
                Assert.False(string.IsNullOrEmpty(ex.ErrorId));
                Assert.StartsWith("fuzz.onnx", ex.Message);
            }
            catch (Exception ex)
            {
                Assert.Fail($"iteration {i} (seed {Seed + 1}): undocumented {ex.GetType().Name}: {ex.Message}\n{Convert.ToBase64String(bytes)}");
            }
        }
        Assert.True(surveyed > 0 && weights > 0, $"{surveyed} mutated models surveyed, {weights} weights found");
    }
}
