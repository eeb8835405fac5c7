using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Tests;

public sealed class NewAndInspectCommandTests : IDisposable
{
    private static readonly string SeedInput = Conformance.PyTorch.File("e_seed_example.input.npy");
    private static readonly string SeedExpected = Conformance.PyTorch.File("e_seed_example.expected.npy");

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void New_ThenQuantizeWithQuantizerFile_RoundTrips()
    {
        string quantizer = _temp.File("seed.json");
        var created = CliRunner.Run("new", "--target", "weights", "--method", "symmetric", "--bits", "8", "--threshold", "2,4,1", "--per-channel", "--channel-axis", "-1", "--output", quantizer);
        Assert.True(created.Code == ExitCode.Success, created.ToString());
        // A line saying what the file holds (it printed nothing).
        Assert.Equal($"{Path.GetFullPath(quantizer)}: weights symmetric 8-bit per-channel (axis -1), threshold [2, 4, 1], signed", Assert.Single(created.StdoutLines));
        var spec = QuantizerFile.Read(quantizer);
        Assert.Equal([2.0, 4.0, 1.0], spec.Threshold);
        Assert.True(spec.PerChannel);

        string output = _temp.File("out.npy");
        var run = CliRunner.Run("quantize", SeedInput, "--quantizer", quantizer, "--output", output);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        NpyAssert.BitIdentical(SeedExpected, output);
    }

    [Fact]
    public void New_WithoutOutput_PrintsJsonToStdout()
    {
        var run = CliRunner.Run("new", "--target", "activation", "--method", "uniform", "--bits", "8", "--min", "-1.5", "--max", "2.5");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var spec = QuantizerFile.Parse(run.Stdout, "stdout");
        Assert.Equal(QuantizationTarget.Activation, spec.Target);
        Assert.Equal(QuantizationMethod.Uniform, spec.Method);
        Assert.Equal([-1.5], spec.MinRange);
        Assert.Equal([2.5], spec.MaxRange);

        var dash = CliRunner.Run("new", "--target", "activation", "--method", "uniform", "--bits", "8", "--min", "-1.5", "--max", "2.5", "-o", "-");
        Assert.Equal(run.Stdout, dash.Stdout);
    }

    [Fact]
    public void New_ExistingFileWithoutForce_IsIOErrorAndKeepsFile()
    {
        string quantizer = _temp.File("q.json");
        File.WriteAllText(quantizer, "keep me");
        var run = CliRunner.Run("new", "--target", "weights", "--method", "pot", "--bits", "8", "--threshold", "2", "--output", quantizer);
        Assert.Equal(ExitCode.IOError, run.Code);
        Assert.Contains("[OutputExists]", Assert.Single(run.StderrLines));
        Assert.Equal("keep me", File.ReadAllText(quantizer));

        var forced = CliRunner.Run("new", "--target", "weights", "--method", "pot", "--bits", "8", "--threshold", "2", "--output", quantizer, "--force");
        Assert.True(forced.Code == ExitCode.Success, forced.ToString());
        Assert.Equal(QuantizationMethod.Pot, QuantizerFile.Read(quantizer).Method);
    }

    [Theory]
    [InlineData(new[] { "--target", "activation", "--method", "symmetric", "--bits", "8", "--threshold", "1", "--per-channel" }, "PerChannelActivationNotSupported")]
    [InlineData(new[] { "--target", "weights", "--method", "uniform", "--bits", "8", "--min", "2", "--max", "1" }, "RangeMinNotBelowMax")]
    [InlineData(new[] { "--target", "weights", "--method", "symmetric", "--bits", "8", "--threshold", "1", "--signed", "--unsigned" }, "OptionConflict")]
    [InlineData(new[] { "--target", "weights", "--method", "symmetric", "--bits", "8", "--threshold", "1", "--axis", "0" }, "ParameterNotApplicable")]
    [InlineData(new[] { "--target", "weights", "--method", "symmetric", "--bits", "8", "--threshold", "-1" }, "ThresholdNotPositive")]
    [InlineData(new[] { "--target", "weights", "--method", "symmetric", "--bits", "17", "--threshold", "1" }, "NumBitsOutOfRange")]
    public void New_InvalidParameters_IsInvalidArgumentsWithErrorId(string[] options, string errorId)
    {
        var run = CliRunner.Run(["new", .. options]);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith("dotnet-quant: error: ", line);
        Assert.EndsWith($"[{errorId}]", line);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void New_ThresholdNotANumber_IsParseError()
    {
        var run = CliRunner.Run("new", "--target", "weights", "--method", "pot", "--bits", "8", "--threshold", "2,x");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains("'x'", run.Stderr);
    }

    [Fact]
    public void Inspect_Text_ShowsHeaderAndStatistics()
    {
        var run = CliRunner.Run("inspect", SeedExpected);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Contains("float32 (<f4)", run.Stdout);
        Assert.Contains("(1, 3, 3, 3)", run.Stdout);
        Assert.Contains("NPY 1.0", run.Stdout);
        Assert.Matches(@"Order:\s+C", run.Stdout);
        Assert.Matches(@"Elements:\s+27", run.Stdout);
        Assert.Matches(@"Min:\s+-4\b", run.Stdout);
        Assert.Matches(@"Max:\s+3\.96875", run.Stdout);
        Assert.Contains("Non-finite: 0 (NaN 0, +inf 0, -inf 0)", run.Stdout);
    }

    [Fact]
    public void Inspect_Json_MatchesComputedStatistics()
    {
        string path = _temp.File("stats.npy");
        new NpyArray([2, 3], new double[] { 1, 2, 3, double.NaN, double.PositiveInfinity, double.NegativeInfinity }).Write(path);
        var run = CliRunner.Run("inspect", path, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        var root = json.RootElement;
        Assert.Equal(Path.GetFullPath(path), root.GetProperty("path").GetString());
        Assert.Equal("float64", root.GetProperty("dtype").GetString());
        Assert.Equal("C", root.GetProperty("order").GetString());
        Assert.Equal([2L, 3], root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal(6, root.GetProperty("elementCount").GetInt64());
        Assert.Equal(1.0, root.GetProperty("min").GetDouble());
        Assert.Equal(3.0, root.GetProperty("max").GetDouble());
        Assert.Equal(2.0, root.GetProperty("mean").GetDouble());
        Assert.Equal(Math.Sqrt(2.0 / 3.0), root.GetProperty("std").GetDouble(), 12);
        Assert.Equal(3, root.GetProperty("nonFiniteCount").GetInt64());
        Assert.Equal(1, root.GetProperty("nanCount").GetInt64());
        Assert.Equal(1, root.GetProperty("positiveInfinityCount").GetInt64());
        Assert.Equal(1, root.GetProperty("negativeInfinityCount").GetInt64());
    }

    [Fact]
    public void Inspect_FortranOrderFromStdin_ReportsFortran()
    {
        var run = CliRunner.RunWith(File.ReadAllBytes(Conformance.PyTorch.File("e_fortran_order.input.npy")), default, "inspect", "-", "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal("<stdin>", json.RootElement.GetProperty("path").GetString());
        Assert.Equal("Fortran", json.RootElement.GetProperty("order").GetString());
    }

    [Fact]
    public void Inspect_MalformedFile_IsInvalidInput()
    {
        string bad = _temp.File("bad.npy");
        File.WriteAllBytes(bad, [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 9, 0, 0, 0]);
        var run = CliRunner.Run("inspect", bad);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.EndsWith("[NpyVersionNotSupported]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Inspect_MissingFile_IsIOError()
    {
        var run = CliRunner.Run("inspect", _temp.File("nope.npy"));
        Assert.Equal(ExitCode.IOError, run.Code);
        Assert.EndsWith("[InputFileNotFound]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Help_ListsCommandsAndExitCodes()
    {
        var run = CliRunner.Run("--help");
        Assert.Equal(ExitCode.Success, run.Code);
        Assert.Contains("Usage:", run.Stdout);
        Assert.Contains("quantize", run.Stdout);
        Assert.Contains("inspect", run.Stdout);
        Assert.Contains("Exit codes:", run.Stdout);

        var quantizeHelp = CliRunner.Run("quantize", "--help");
        Assert.Equal(ExitCode.Success, quantizeHelp.Code);
        Assert.Contains("--output-dir", quantizeHelp.Stdout);
    }

    [Fact]
    public void Version_PrintsExactlyTheVersionOfDirectoryBuildProps()
    {
        // The one place the version is kept; printed without a "+commit" suffix.
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(TestPaths.RepositoryRoot, "Directory.Build.props"));
        string version = Assert.Single(props.Descendants("Version")).Value;
        Assert.Matches(@"^\d+\.\d+\.\d+", version);

        var run = CliRunner.Run("--version");
        Assert.Equal(ExitCode.Success, run.Code);
        Assert.Equal(version + Environment.NewLine, run.Stdout);
    }

    [Fact]
    public void NoCommand_IsInvalidArguments()
    {
        var run = CliRunner.Run();
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
    }
}
