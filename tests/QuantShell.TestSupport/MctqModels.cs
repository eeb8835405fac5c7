using System.Text.Json;
using QuantShell.Core.Formats;

namespace QuantShell.TestSupport;

/// <summary>
/// The MCT-exported ONNX models of <c>shared/onnx-mctq</c> (<c>models.json</c>): each model's input and the PyTorch
/// network's expected output, and MCT's quantized weights by initializer name. A missing or short folder fails loudly.
/// </summary>
public static class MctqModels
{
    /// <summary>The number of models the folder must hold.</summary>
    public const int ExpectedCount = 4;

    public sealed record Model(string Name, string ModelPath, string InputName, string InputPath, string ExpectedPath,
                               IReadOnlyDictionary<string, string> Weights, IReadOnlyList<string> WeightsQuantizers, IReadOnlyList<string> ActivationQuantizers)
    {
        /// <summary>True when a weight quantizer of the model is a LUT one.</summary>
        public bool HasLut => WeightsQuantizers.Any(q => q.StartsWith("lut", StringComparison.Ordinal));

        public NpyArray Input => NpyArray.Read(InputPath);
        public NpyArray Expected => NpyArray.Read(ExpectedPath);

        public override string ToString() => Name;
    }

    public static string Directory => Path.Combine(Conformance.SharedDirectory, "onnx-mctq");

    public static IReadOnlyList<Model> All { get; } = Load();

    public static Model Get(string name) => All.Single(m => m.Name == name);

    private static List<Model> Load()
    {
        string file = Path.Combine(Directory, "models.json");
        if (!File.Exists(file))
            throw new InvalidOperationException($"{file} is missing: the shared MCTQ models are needed (set {Conformance.SharedVariable} to the shared folder).");
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        string At(JsonElement e, string name) => Path.Combine(Directory, e.GetProperty(name).GetString()!);
        var models = document.RootElement.EnumerateArray().Select(e => new Model(
            e.GetProperty("name").GetString()!,
            At(e, "model"),
            e.GetProperty("inputName").GetString()!,
            At(e, "input"),
            At(e, "expected"),
            e.GetProperty("weights").EnumerateObject().ToDictionary(p => p.Name, p => Path.Combine(Directory, p.Value.GetString()!)),
            e.GetProperty("weightsQuantizers").EnumerateArray().Select(q => q.GetString()!).ToList(),
            e.GetProperty("activationQuantizers").EnumerateArray().Select(q => q.GetString()!).ToList())).ToList();
        if (models.Count != ExpectedCount)
            throw new InvalidOperationException($"{file} lists {models.Count} models; {ExpectedCount} are expected.");
        foreach (var m in models)
            foreach (string path in m.Weights.Values.Append(m.ModelPath).Append(m.InputPath).Append(m.ExpectedPath))
                if (!File.Exists(path)) throw new InvalidOperationException($"{file}: model {m.Name} names a missing file {path}.");
        return models;
    }
}
