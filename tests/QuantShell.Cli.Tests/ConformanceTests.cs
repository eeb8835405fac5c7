using System.Text.Json;

namespace QuantShell.Cli.Tests;

/// <summary>Every shared conformance case through <c>quantize IN --quantizer Q.json --output OUT</c>, compared bit for bit.</summary>
public sealed class ConformanceTests
{
    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in LoadCases().Keys) data.Add(name);
        return data;
    }

    [Fact]
    public void Conformance_CasesFile_ListsCases()
    {
        Assert.True(LoadCases().Count >= 20, $"expected the shared conformance cases in {TestPaths.Conformance}");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Quantize_ConformanceCase_MatchesPyTorchBitForBit(string name)
    {
        var testCase = LoadCases()[name];
        using var temp = new TempDirectory();
        string quantizerPath = temp.File("q.json");
        File.WriteAllText(quantizerPath, testCase.QuantizerJson);
        string output = temp.File("out.npy");

        var run = CliRunner.Run("quantize", TestPaths.ConformanceFile(testCase.Input), "--quantizer", quantizerPath, "--output", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);
        NpyAssert.BitIdentical(TestPaths.ConformanceFile(testCase.Expected), output);
    }

    internal sealed record ConformanceCase(string Name, string QuantizerJson, string Input, string Expected);

    internal static Dictionary<string, ConformanceCase> LoadCases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(TestPaths.ConformanceFile("cases.json")));
        var cases = new Dictionary<string, ConformanceCase>(StringComparer.Ordinal);
        foreach (var element in document.RootElement.EnumerateArray())
        {
            string name = element.GetProperty("name").GetString()!;
            cases[name] = new ConformanceCase(name, element.GetProperty("quantizer").GetRawText(),
                element.GetProperty("input").GetString()!, element.GetProperty("expected").GetString()!);
        }
        return cases;
    }
}
