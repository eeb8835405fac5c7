using System.Text.Json;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Tests.Formats;

/// <summary>
/// The committed model-file fixtures (tests/fixtures/models, written once by make_fixtures.py with torch 1.13 and
/// numpy): each file, what torch/numpy said it holds (manifest.json), and the .npy twin of every tensor.
/// </summary>
public static class ModelFixtures
{
    public static string Folder { get; } = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models");

    public static readonly string[] Files = ["state_dict.pt", "checkpoint.pt", "weights.npz", "weights_compressed.npz", "model.safetensors"];

    public static string PathOf(string file) => Path.Combine(Folder, file);

    public sealed record Expected(string Name, string DType, long[] Shape, bool FortranOrder);

    /// <summary>The tensors the generator saved into <paramref name="file"/>, in its order.</summary>
    public static IReadOnlyList<Expected> Manifest(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "manifest.json")));
        return document.RootElement.GetProperty(file).EnumerateArray().Select(e => new Expected(
            e.GetProperty("name").GetString()!,
            e.GetProperty("dtype").GetString()!,
            e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
            e.TryGetProperty("fortranOrder", out var fortran) && fortran.GetBoolean())).ToList();
    }

    /// <summary>The twin's element bytes (as numpy stored them: C order, or Fortran order for a Fortran array).</summary>
    public static byte[] TwinBytes(string file, string tensor)
    {
        using var stream = File.OpenRead(Path.Combine(Folder, "twins", file, tensor + ".npy"));
        NpyHeader.Read(stream, tensor);
        var bytes = new byte[stream.Length - stream.Position];
        stream.ReadExactly(bytes);
        return bytes;
    }

    public static byte[] ReadAll(TensorFile file, StoredTensor tensor)
    {
        using var stream = file.OpenTensor(tensor);
        var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    /// <summary>A rewriter that writes each byte's complement: every value changes, and the size stays.</summary>
    public static void Complement(StoredTensor tensor, Stream source, Stream destination)
    {
        var buffer = new byte[7];
        int got;
        while ((got = source.Read(buffer)) > 0)
        {
            for (int i = 0; i < got; i++) buffer[i] = (byte)~buffer[i];
            destination.Write(buffer, 0, got);
        }
    }

    public static byte[] Complemented(byte[] bytes) => bytes.Select(b => (byte)~b).ToArray();
}
