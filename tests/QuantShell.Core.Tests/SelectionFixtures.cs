using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Tests;

/// <summary>
/// The expected values of MCT's own selection code (tests/fixtures/selection: manifest.json and inputs/*.npy, written once
/// by make_selection_fixtures.py from MCT's source; see its docstring for the commit and how it ran).
/// </summary>
internal static class SelectionFixtures
{
    public static string Folder { get; } = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "selection");

    private static readonly Lazy<JsonDocument> Manifest = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "manifest.json"))));

    public static JsonElement Root => Manifest.Value.RootElement;

    private static readonly Lazy<Dictionary<string, Case>> AllCases = new(() =>
        Root.GetProperty("cases").EnumerateArray().Concat(Root.GetProperty("lutCases").EnumerateArray())
            .Select(Parse).ToDictionary(c => c.Id));

    public static IReadOnlyCollection<Case> Cases => AllCases.Value.Values;

    public static Case Get(string id) => AllCases.Value[id];

    public static NpyArray Read(string relative) => NpyArray.Read(Path.Combine(Folder, relative));

    public sealed record Case
    {
        public required string Id { get; init; }
        public required QuantizerSpec Request { get; init; }
        public required SelectionOptions Options { get; init; }
        public required string[] Inputs { get; init; }
        public required JsonElement Expected { get; init; }
        public bool IsLut => Request.IsLut;

        public IReadOnlyList<NpyArray> ReadInputs() => Inputs.Select(Read).ToArray();

        public double[] Doubles(string name) => Expected.GetProperty(name).EnumerateArray().Select(e => e.GetDouble()).ToArray();

        public bool? Signed => Expected.TryGetProperty("signed", out var s) ? s.GetBoolean() : null;
    }

    private static Case Parse(JsonElement e)
    {
        var method = e.GetProperty("method").GetString() switch
        {
            "pot" => QuantizationMethod.Pot,
            "symmetric" => QuantizationMethod.Symmetric,
            "uniform" => QuantizationMethod.Uniform,
            "lutPot" => QuantizationMethod.LutPot,
            "lutSymmetric" => QuantizationMethod.LutSymmetric,
            var m => throw new InvalidDataException(m),
        };
        var errorMethod = e.GetProperty("errorMethod").GetString() switch
        {
            "noClipping" => ErrorMethod.NoClipping,
            "mse" => ErrorMethod.Mse,
            "mae" => ErrorMethod.Mae,
            "lp" => ErrorMethod.Lp,
            "kl" => ErrorMethod.Kl,
            var m => throw new InvalidDataException(m),
        };
        bool perChannel = e.GetProperty("perChannel").GetBoolean();
        return new Case
        {
            Id = e.GetProperty("id").GetString()!,
            Request = new QuantizerSpec
            {
                Target = e.GetProperty("target").GetString() == "weights" ? QuantizationTarget.Weights : QuantizationTarget.Activation,
                Method = method,
                NumBits = e.GetProperty("numBits").GetInt32(),
                PerChannel = perChannel,
                ChannelAxis = perChannel ? e.GetProperty("channelAxis").GetInt32() : null,
            },
            Options = new SelectionOptions
            {
                Search = SelectionSearch.Mct,
                ErrorMethod = errorMethod,
                P = e.TryGetProperty("p", out var p) ? p.GetDouble() : SelectionOptions.DefaultP,
                ZThreshold = e.TryGetProperty("zThreshold", out var z) ? z.GetDouble() : double.PositiveInfinity,
            },
            Inputs = e.GetProperty("inputs").EnumerateArray().Select(i => i.GetString()!).ToArray(),
            Expected = e.GetProperty("expected"),
        };
    }
}

/// <summary>How many cases of each kind the committed fixtures hold (a test fails when the manifest has fewer).</summary>
internal static class SelectionFixtureCounts
{
    public const int WeightsCases = 720;
    public const int ActivationCases = 450;
    public const int LutCases = 102;
    public const int MseCases = 210;
}
