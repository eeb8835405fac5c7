namespace QuantShell.Cli.Tests;

/// <summary>Every shared case through <c>quantize IN --quantizer Q.json --output-path OUT</c>, compared bit for bit.</summary>
public sealed class ConformanceTests
{
    public static TheoryData<string> PyTorchCases() => Conformance.PyTorch.Names();

    public static TheoryData<string> MctCases() => Conformance.Mct.Names();

    [Fact]
    public void Suites_HoldEveryCase()
    {
        Assert.True(PyTorchCases().Count >= Conformance.PyTorch.MinimumCases, $"{PyTorchCases().Count} PyTorch cases");
        Assert.Equal(96, MctCases().Count);
        Assert.Equal(36, Conformance.Mct.Cases.Count(c => c.Quantizer.IsLut));
    }

    [Theory]
    [MemberData(nameof(PyTorchCases))]
    public void PyTorchCase_QuantizerFile_IsBitIdentical(string name) => Check(Conformance.PyTorch.Get(name));

    [Theory]
    [MemberData(nameof(MctCases))]
    public void MctCase_QuantizerFile_IsBitIdentical(string name) => Check(Conformance.Mct.Get(name));

    private static void Check(Conformance.Case testCase)
    {
        using var temp = new TempDirectory();
        string quantizerPath = temp.File("q.json");
        File.WriteAllText(quantizerPath, testCase.QuantizerJson);
        string output = temp.File("out.npy");

        var run = CliRunner.Run("quantize", testCase.InputPath, "--quantizer", quantizerPath, "--output-path", output);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);
        NpyAssert.BitIdentical(testCase.ExpectedPath, output);
    }
}
