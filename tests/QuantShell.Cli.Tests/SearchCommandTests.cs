using System.Runtime.InteropServices;
using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Tests;

/// <summary>
/// <c>--search mct|optimal</c> through dotnet-quant: the default and <c>--search mct</c> give MCT's values on cases of the
/// committed fixtures (tests/fixtures/selection, made by MCT's own code), <c>--search optimal</c> a mean squared error no
/// larger, and every result says which search chose its values.
/// </summary>
public sealed class SearchCommandTests : IDisposable
{
    private static readonly string Fixtures = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "selection");
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static readonly Lazy<JsonElement[]> Cases = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures, "manifest.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.Clone()).ToArray();
    });

    /// <summary>The first fixture case with these properties (the manifest's order is fixed).</summary>
    private static JsonElement Case(string target, string method, string errorMethod, bool perChannel, string input)
    {
        var found = Cases.Value.Where(c => c.GetProperty("target").GetString() == target && c.GetProperty("method").GetString() == method
            && c.GetProperty("errorMethod").GetString() == errorMethod && c.GetProperty("perChannel").GetBoolean() == perChannel
            && !c.TryGetProperty("zThreshold", out _) && c.GetProperty("inputs")[0].GetString()!.Contains(input, StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(found);
        return found[0];
    }

    /// <summary>The command-line options that ask for a fixture case, and its input files copied to the test's folder.</summary>
    private (string[] Inputs, string[] Options) Arguments(JsonElement c)
    {
        var inputs = c.GetProperty("inputs").EnumerateArray().Select(i =>
        {
            string copy = _temp.File(Path.GetFileName(i.GetString()!));
            File.Copy(Path.Combine(Fixtures, i.GetString()!), copy, overwrite: true);
            return copy;
        }).ToArray();
        var options = new List<string>
        {
            "--target", c.GetProperty("target").GetString()!, "--method", c.GetProperty("method").GetString()!,
            "--num-bits", c.GetProperty("numBits").GetInt32().ToString(), "--error-method", c.GetProperty("errorMethod").GetString()!,
        };
        if (c.GetProperty("perChannel").GetBoolean()) options.AddRange(["--per-channel", "--channel-axis", c.GetProperty("channelAxis").GetInt32().ToString()]);
        if (c.TryGetProperty("p", out var p)) options.AddRange(["--p", p.GetDouble().ToString("R")]);
        if (inputs.Length > 1) options.AddRange(["--calibrate", "--output-dir", _temp.File("out")]);
        return (inputs, options.ToArray());
    }

    private static JsonElement[] JsonLines(CliRun run)
    {
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        return run.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToArray();
    }

    private static double[] Numbers(JsonElement element) => element.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public static TheoryData<string, string, string, bool, string> MctCases() => new()
    {
        { "weights", "symmetric", "mse", false, "w_normal" },
        { "weights", "pot", "kl", false, "w_outliers" },
        { "weights", "uniform", "mae", true, "w_heavy" },
        { "activation", "symmetric", "kl", false, "a_relu_0" },
        { "activation", "uniform", "mse", false, "a_relu_batches" },
    };

    [Theory]
    [MemberData(nameof(MctCases))]
    public void Quantize_DefaultAndSearchMct_GiveMctsValues(string target, string method, string errorMethod, bool perChannel, string input)
    {
        var c = Case(target, method, errorMethod, perChannel, input);
        var (inputs, options) = Arguments(c);
        var expected = c.GetProperty("expected");
        foreach (var search in new[] { Array.Empty<string>(), ["--search", "mct"] })
        {
            var results = JsonLines(CliRunner.Run(["quantize", .. inputs, .. options, .. search, "--json", "--force"]));
            Assert.Equal(inputs.Length, results.Length);
            foreach (var result in results)
            {
                Assert.Equal("mct", result.GetProperty("selection").GetProperty("search").GetString());
                if (method == "uniform")
                {
                    Assert.Equal(Numbers(expected.GetProperty("minRange")), Numbers(result.GetProperty("minRange")));
                    Assert.Equal(Numbers(expected.GetProperty("maxRange")), Numbers(result.GetProperty("maxRange")));
                }
                else
                {
                    Assert.Equal(Numbers(expected.GetProperty("threshold")), Numbers(result.GetProperty("threshold")));
                    if (expected.TryGetProperty("signed", out var signed)) Assert.Equal(signed.GetBoolean(), result.GetProperty("signed").GetBoolean());
                }
            }
        }
    }

    [Fact]
    public void Quantize_SearchOptimal_IsNoWorseInMse_AndSaysSo()
    {
        var (inputs, options) = Arguments(Case("weights", "symmetric", "mse", false, "w_heavy"));
        var mct = Assert.Single(JsonLines(CliRunner.Run(["quantize", .. inputs, .. options, "--json"])));
        var optimal = Assert.Single(JsonLines(CliRunner.Run(["quantize", .. inputs, .. options, "--search", "optimal", "--json", "--force"])));
        Assert.Equal("optimal", optimal.GetProperty("selection").GetProperty("search").GetString());
        Assert.True(optimal.GetProperty("mse").GetDouble() <= mct.GetProperty("mse").GetDouble(),
            $"optimal {optimal.GetProperty("mse")} (t {optimal.GetProperty("threshold")[0]}), mct {mct.GetProperty("mse")} (t {mct.GetProperty("threshold")[0]})");

        var text = CliRunner.Run(["quantize", .. inputs, .. options, "--search", "optimal", "--force"]);
        Assert.True(text.Code == ExitCode.Success, text.ToString());
        Assert.Contains("(chosen from the data, mse, search optimal)", Assert.Single(text.StdoutLines), StringComparison.Ordinal);
    }

    [Fact]
    public void MeasureAndNew_TakeSearch()
    {
        var c = Case("weights", "pot", "mse", true, "w_normal");
        var (inputs, options) = Arguments(c);
        var measured = Assert.Single(JsonLines(CliRunner.Run(["measure", .. inputs, .. options, "--json"])));
        Assert.Equal("mct", measured.GetProperty("selection").GetProperty("search").GetString());
        Assert.Equal(Numbers(c.GetProperty("expected").GetProperty("threshold")), Numbers(measured.GetProperty("threshold")));
        var optimal = Assert.Single(JsonLines(CliRunner.Run(["measure", .. inputs, .. options, "--search", "optimal", "--json"])));
        Assert.Equal("optimal", optimal.GetProperty("selection").GetProperty("search").GetString());

        string file = _temp.File("q.json");
        var created = CliRunner.Run(["new", .. options, "--from-path", inputs[0], "--search", "mct", "--output-path", file]);
        Assert.True(created.Code == ExitCode.Success, created.ToString());
        Assert.Equal(Numbers(c.GetProperty("expected").GetProperty("threshold")), QuantizerFile.Read(file).Threshold!.ToArray());
    }

    [Fact]
    public void Search_BadValue_IsAParseErrorNamingTheChoices()
    {
        var (inputs, options) = Arguments(Case("weights", "pot", "mse", false, "w_normal"));
        var run = CliRunner.Run(["quantize", .. inputs, .. options, "--search", "best"]);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: --search must be one of mct, optimal but is 'best'. [OptionValueInvalid]", run.StderrLines[0]);
    }

    [Fact]
    public void Search_WithACompleteQuantizer_IsNotApplicable()
    {
        var (inputs, _) = Arguments(Case("weights", "pot", "mse", false, "w_normal"));
        var run = CliRunner.Run("quantize", inputs[0], "--method", "pot", "--threshold", "1", "--search", "optimal");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.EndsWith("[SelectionOptionNotApplicable]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Rules_CarryTheSearch()
    {
        var random = new Random(43);
        byte[] Floats(int count) => MemoryMarshal.AsBytes(Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray().AsSpan()).ToArray();
        string model = _temp.File("model.npz");
        using (var stream = File.Create(model))
            TensorFiles.Write(TensorFileKind.Npz, stream, [new OutputTensor("a.weight", DType.Float32, [8, 16], s => s.Write(Floats(128))),
                                                          new OutputTensor("b.weight", DType.Float32, [8, 16], s => s.Write(Floats(128)))],
                              new Dictionary<string, string>(), CancellationToken.None);
        string rules = _temp.File("rules.json");
        File.WriteAllText(rules, """
            {"rules": [{"match": "a.*", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 4}, "search": "optimal"},
                       {"match": "b.*", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 4}}]}
            """);
        // One line per tensor, then the model's summary line (kind "model"), which carries no selection.
        var lines = JsonLines(CliRunner.Run("quantize", model, "--rules", rules, "--json")).Where(l => l.GetProperty("kind").GetString() == "tensor").ToList();
        Assert.Equal(["optimal", "mct"], lines.Select(l => l.GetProperty("selection").GetProperty("search").GetString()));

        File.WriteAllText(rules, """{"rules": [{"match": "*", "quantizer": {"target": "weights", "method": "pot", "numBits": 4}, "search": "best"}]}""");
        var bad = CliRunner.Run("quantize", model, "--rules", rules, "--force");
        Assert.Equal(ExitCode.InvalidArguments, bad.Code);
        Assert.Contains("\"search\" must be one of mct, optimal but is \"best\"", Assert.Single(bad.StderrLines));
    }
}
