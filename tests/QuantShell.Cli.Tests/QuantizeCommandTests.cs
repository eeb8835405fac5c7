using System.Text.Json;

namespace QuantShell.Cli.Tests;

public sealed class QuantizeCommandTests : IDisposable
{
    private static readonly string SeedInput = Conformance.PyTorch.File("e_seed_example.input.npy");
    private static readonly string SeedExpected = Conformance.PyTorch.File("e_seed_example.expected.npy");
    // The seed's quantizer as the conformance case gives it (channelAxis -1); without an axis it applies along axis 1.
    private static readonly string[] SeedQuantizer =
        ["--target", "weights", "--method", "symmetric", "--bits", "8", "--threshold", "2,4,1", "--per-channel", "--channel-axis", "-1"];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string CopyOfSeed(string name)
    {
        string path = _temp.File(name);
        File.Copy(SeedInput, path);
        return path;
    }

    /// <summary>
    /// A named pipe given as a path (<c>quantize &lt;(cat x.npy)</c>) with values chosen from the data: read once, in order
    /// (it reports no size and cannot seek), with the same output as the file itself. Was an internal error (exit 70,
    /// "Stream does not support seeking") from the per-channel reader, which the per-tensor default reached too.
    /// </summary>
    [SkippableTheory]
    [InlineData("--method", "symmetric")]
    [InlineData("--method", "uniform", "--per-channel", "--channel-axis", "0")]
    [InlineData("--method", "pot", "--per-channel", "--channel-axis", "0", "--search", "optimal")]
    public void Quantize_NamedPipeInput_ValuesChosen_SameAsTheFile(params string[] quantizer)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "named pipes are made with mkfifo on Linux");
        var random = new Random(97);
        const int rows = 8, columns = 40_000;
        var data = new byte[rows * columns * 4];
        for (int i = 0; i < rows * columns; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), (float)((random.NextDouble() - 0.5) * (1 + i % 7)));
        using var header = new MemoryStream();
        QuantShell.Core.Formats.NpyHeader.Write(header, QuantShell.Core.Formats.DType.Float32, [rows, columns]);
        byte[] bytes = [.. header.ToArray(), .. data];
        string file = _temp.File("x.npy");
        File.WriteAllBytes(file, bytes);
        var fromFile = CliRunner.Run(["quantize", file, .. quantizer, "--output", _temp.File("from-file.npy")]);
        Assert.True(fromFile.ExitCode == 0, fromFile.Stderr);

        string pipePath = _temp.File("pipe.npy");
        var fifo = new NpyFifo(pipePath);
        var feeding = fifo.Feed(async pipe => await pipe.WriteAsync(bytes));
        var fromPipe = CliRunner.Run(["quantize", pipePath, .. quantizer, "--output", _temp.File("from-pipe.npy")]);
        Assert.True(feeding.Wait(TimeSpan.FromSeconds(60)), "the pipe's writer never finished");
        Assert.True(fromPipe.ExitCode == 0, fromPipe.Stderr);
        Assert.Equal(File.ReadAllBytes(_temp.File("from-file.npy")), File.ReadAllBytes(_temp.File("from-pipe.npy")));
    }

    [Fact]
    public void Quantize_SeedExampleFromOptions_MatchesExpected()
    {
        string output = _temp.File("seed.q.npy");
        var run = CliRunner.Run(["quantize", SeedInput, .. SeedQuantizer, "--output", output]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        NpyAssert.BitIdentical(SeedExpected, output);
        string line = Assert.Single(run.StdoutLines);
        Assert.Contains("->", line);
        Assert.Contains("weights symmetric 8-bit per-channel", line);
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void Quantize_CaseInsensitiveEnumsAndDefaultOutput_WritesBesideInput()
    {
        string input = CopyOfSeed("x.npy");
        var run = CliRunner.Run("quantize", input, "--target", "WEIGHTS", "--method", "Symmetric", "-b", "8", "--threshold", "2, 4, 1", "--per-channel", "--axis", "-1");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        NpyAssert.BitIdentical(SeedExpected, _temp.File("x.q.npy"));
    }

    [Fact]
    public void Quantize_UniformWithNegativeMin_ParsesNegativeNumbers()
    {
        string output = _temp.File("u.npy");
        var run = CliRunner.Run("quantize", SeedInput, "--target", "activation", "--method", "uniform", "--bits", "8",
                                "--min", "-1.5", "--max", "2.5", "--output", output, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal(-1.5, json.RootElement.GetProperty("quantizer").GetProperty("minRange")[0].GetDouble());
        Assert.Equal(0, json.RootElement.GetProperty("quantMin").GetInt32());
        Assert.Equal(255, json.RootElement.GetProperty("quantMax").GetInt32());
    }

    [Fact]
    public void Quantize_Json_PrintsOneObjectWithAllFields()
    {
        string output = _temp.File("j.npy");
        var run = CliRunner.Run(["quantize", SeedInput, .. SeedQuantizer, "--output", output, "--json"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        string line = Assert.Single(run.StdoutLines);
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        foreach (string field in new[] { "inputPath", "outputPath", "tensorName", "shape", "dtype", "outputDtype", "target", "method", "numBits", "perChannel",
                                         "channelAxis", "scale", "zeroPoint", "quantMin", "quantMax", "elementCount", "nonFiniteCount",
                                         "mse", "sqnrDb", "quantizer" })
            Assert.True(root.TryGetProperty(field, out _), $"missing field {field} in {line}");
        Assert.Equal(Path.GetFullPath(SeedInput), root.GetProperty("inputPath").GetString());
        Assert.Equal(Path.GetFullPath(output), root.GetProperty("outputPath").GetString());
        Assert.Equal([1L, 3, 3, 3], root.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal("float32", root.GetProperty("dtype").GetString());
        Assert.Equal("weights", root.GetProperty("target").GetString());
        Assert.Equal("symmetric", root.GetProperty("method").GetString());
        Assert.Equal(8, root.GetProperty("numBits").GetInt32());
        Assert.True(root.GetProperty("perChannel").GetBoolean());
        Assert.Equal(3, root.GetProperty("channelAxis").GetInt32());
        Assert.Equal([0.015625f, 0.03125f, 0.0078125f], root.GetProperty("scale").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        Assert.Equal([0, 0, 0], root.GetProperty("zeroPoint").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal(-128, root.GetProperty("quantMin").GetInt32());
        Assert.Equal(127, root.GetProperty("quantMax").GetInt32());
        Assert.Equal(27, root.GetProperty("elementCount").GetInt64());
        Assert.Equal(0, root.GetProperty("nonFiniteCount").GetInt64());
        Assert.Equal([2.0, 4.0, 1.0], root.GetProperty("quantizer").GetProperty("threshold").EnumerateArray().Select(e => e.GetDouble()).ToArray());
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void Quantize_SeedWithoutAxis_UsesTheFirstAxisOfTheirCount_AndSaysWhich()
    {
        string[] noAxis = SeedQuantizer[..^2];
        var text = CliRunner.Run(["quantize", SeedInput, .. noAxis, "--output", _temp.File("t.npy")]);
        Assert.True(text.Code == ExitCode.Success, text.ToString());
        Assert.Contains("per-channel (axis 1)", Assert.Single(text.StdoutLines));
        var json = CliRunner.Run(["quantize", SeedInput, .. noAxis, "--output", _temp.File("j.npy"), "--json"]);
        Assert.True(json.Code == ExitCode.Success, json.ToString());
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal(1, document.RootElement.GetProperty("channelAxis").GetInt32());
        Assert.Equal(1, document.RootElement.GetProperty("quantizer").GetProperty("channelAxis").GetInt32());
        // Not the case's axis (-1): the output differs from its expected file.
        Assert.NotEqual(File.ReadAllBytes(SeedExpected), File.ReadAllBytes(_temp.File("j.npy")));
    }

    [Fact]
    public void Quantize_ValuesChosenPerChannelWithoutAxis_AlongAxis0()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--per-channel", "--output", _temp.File("c.npy"), "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Equal(0, document.RootElement.GetProperty("channelAxis").GetInt32());
        Assert.Equal(0, document.RootElement.GetProperty("quantizer").GetProperty("channelAxis").GetInt32());
        Assert.Equal(1, document.RootElement.GetProperty("threshold").GetArrayLength());
    }

    [Fact]
    public void Quantize_OwnOutputsAmongTheInputs_AreSkippedWithAWarning()
    {
        // What a shell's x*.npy expands to after a first run: x.npy and x.q.npy.
        string input = CopyOfSeed("x.npy");
        var first = CliRunner.Run(["quantize", input, .. SeedQuantizer]);
        Assert.True(first.Code == ExitCode.Success, first.ToString());
        string own = _temp.File("x.q.npy");
        var second = CliRunner.Run(["quantize", input, own, .. SeedQuantizer, "--force"]);
        Assert.True(second.Code == ExitCode.Success, second.ToString());
        Assert.Single(second.StdoutLines);
        Assert.Equal($"dotnet-quant: warning: {own}: skipped: it is named as the default output of {input}, which is also an input; name it without {input} to quantize it anyway.",
                     second.Stderr.TrimEnd());
        Assert.False(File.Exists(_temp.File("x.q.q.npy")));
    }

    [Fact]
    public void Quantize_LosslessInput_JsonWritesInfinityAsString()
    {
        // Quantizing an already quantized tensor with the same grid is lossless: SQNR is +infinity.
        string output = _temp.File("again.npy");
        var run = CliRunner.Run(["quantize", SeedExpected, .. SeedQuantizer, "--output", output, "--json"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal("Infinity", json.RootElement.GetProperty("sqnrDb").GetString());
        Assert.Equal(0.0, json.RootElement.GetProperty("mse").GetDouble());
    }

    [Fact]
    public void Quantize_StdinToStdout_WritesOnlyNpyBytes()
    {
        var run = CliRunner.RunWith(File.ReadAllBytes(SeedInput), default, ["quantize", "-", .. SeedQuantizer, "--output", "-"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        // stdout carries the .npy bytes only; the result line goes to stderr.
        Assert.Equal("", run.Stdout);
        Assert.StartsWith("<stdin> -> <stdout>: float32 (1, 3, 3, 3)", Assert.Single(run.StderrLines));
        string written = _temp.File("stdout.npy");
        File.WriteAllBytes(written, run.StdoutBytes);
        NpyAssert.BitIdentical(SeedExpected, written);
    }

    [Fact]
    public void Quantize_StdinToFile_WritesFile()
    {
        string output = _temp.File("from-stdin.npy");
        var run = CliRunner.RunWith(File.ReadAllBytes(SeedInput), default, ["quantize", "-", .. SeedQuantizer, "-o", output, "--json"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        NpyAssert.BitIdentical(SeedExpected, output);
        using var json = JsonDocument.Parse(run.Stdout);
        Assert.Equal("<stdin>", json.RootElement.GetProperty("inputPath").GetString());
        Assert.Equal(Path.GetFullPath(output), json.RootElement.GetProperty("outputPath").GetString());
    }

    [Fact]
    public void Quantize_FileToStdout_WritesNpyBytes()
    {
        var run = CliRunner.Run(["quantize", SeedInput, .. SeedQuantizer, "-o", "-"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Equal(File.ReadAllBytes(SeedExpected), run.StdoutBytes);
    }

    [Fact]
    public void Quantize_StdinWithoutOutput_IsInvalidArguments()
    {
        var run = CliRunner.RunWith(File.ReadAllBytes(SeedInput), default, ["quantize", "-", .. SeedQuantizer]);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains("[StdinNeedsOutput]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Quantize_JsonWithStdoutOutput_WritesTheResultToStderr()
    {
        var run = CliRunner.Run(["quantize", SeedInput, .. SeedQuantizer, "-o", "-", "--json"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(Assert.Single(run.StderrLines));
        Assert.Equal("<stdout>", json.RootElement.GetProperty("outputPath").GetString());
        string written = _temp.File("stdout.npy");
        File.WriteAllBytes(written, run.StdoutBytes);
        NpyAssert.BitIdentical(SeedExpected, written);
    }

    [Fact]
    public void Quantize_BitsZero_IsInvalidArgumentsNamingTheOption()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--target", "weights", "--method", "symmetric", "--bits", "0", "--threshold", "1", "-o", _temp.File("o.npy"));
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: --num-bits must be between 1 and 16 but is 0. [NumBitsOutOfRange]", Assert.Single(run.StderrLines));
        Assert.Equal("", run.Stdout);
        Assert.False(File.Exists(_temp.File("o.npy")));
    }

    [Fact]
    public void Quantize_PotWithNonPowerOfTwoThreshold_IsInvalidArguments()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--target", "weights", "--method", "pot", "--bits", "8", "--threshold", "3", "-o", _temp.File("o.npy"));
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Equal("dotnet-quant: error: --threshold must be a power of two for a POT quantizer but is 3. [ThresholdNotPowerOfTwo]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Quantize_OutputWithTwoInputs_IsInvalidArguments()
    {
        string a = CopyOfSeed("a.npy"), b = CopyOfSeed("b.npy");
        var run = CliRunner.Run(["quantize", a, b, .. SeedQuantizer, "--output", _temp.File("o.npy")]);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains("[OutputPathWithSeveralInputs]", Assert.Single(run.StderrLines));
        Assert.False(File.Exists(_temp.File("o.npy")));
    }

    [Fact]
    public void Quantize_MissingFile_IsIOErrorNamingTheFile()
    {
        string missing = _temp.File("missing.npy");
        var run = CliRunner.Run(["quantize", missing, .. SeedQuantizer]);
        Assert.Equal(ExitCode.IOError, run.Code);
        Assert.Equal($"dotnet-quant: error: {missing}: file not found. [InputFileNotFound]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Quantize_MalformedNpy_IsInvalidInput()
    {
        string bad = _temp.File("bad.npy");
        File.WriteAllText(bad, "this is not numpy");
        var run = CliRunner.Run(["quantize", bad, .. SeedQuantizer]);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith($"dotnet-quant: error: {bad}: not an .npy file", line);
        Assert.EndsWith("[NpyMagicInvalid]", line);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(File.Exists(_temp.File("bad.q.npy")));
    }

    [Fact]
    public void Quantize_ExistingOutputWithoutForce_LeavesItByteIdentical()
    {
        string output = _temp.File("existing.npy");
        byte[] original = [1, 2, 3, 4, 5];
        File.WriteAllBytes(output, original);
        var run = CliRunner.Run(["quantize", SeedInput, .. SeedQuantizer, "--output", output]);
        Assert.Equal(ExitCode.IOError, run.Code);
        // The option as this face spells it (PowerShell's record says -Force).
        Assert.EndsWith(": the output file already exists; use --force to replace it. [OutputExists]", Assert.Single(run.StderrLines));
        Assert.Equal(original, File.ReadAllBytes(output));

        var forced = CliRunner.Run(["quantize", SeedInput, .. SeedQuantizer, "--output", output, "--force"]);
        Assert.True(forced.Code == ExitCode.Success, forced.ToString());
        NpyAssert.BitIdentical(SeedExpected, output);
    }

    [Fact]
    public void Quantize_QuantizerFileWithBuildingOptions_IsInvalidArguments()
    {
        string quantizer = _temp.File("q.json");
        File.WriteAllText(quantizer, """{"target": "weights", "method": "pot", "numBits": 8, "threshold": [2]}""");
        var run = CliRunner.Run("quantize", SeedInput, "--quantizer", quantizer, "--bits", "4");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains("[OptionConflict]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Quantize_NoQuantizerOptions_AppliesTheDefaults()
    {
        // Weights, symmetric, 8 bits, per tensor, threshold chosen by MSE.
        string output = _temp.File("defaults.npy");
        var run = CliRunner.Run("quantize", SeedInput, "-o", output, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(Assert.Single(run.StdoutLines));
        var quantizer = json.RootElement.GetProperty("quantizer");
        Assert.Equal("weights", quantizer.GetProperty("target").GetString());
        Assert.Equal("symmetric", quantizer.GetProperty("method").GetString());
        Assert.Equal(8, quantizer.GetProperty("numBits").GetInt32());
        Assert.False(quantizer.GetProperty("perChannel").GetBoolean());
        Assert.True(File.Exists(output));
    }

    [Fact]
    public void Quantize_UnknownEnumName_IsParseError()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--target", "1", "--method", "pot", "--bits", "8", "--threshold", "2");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains("--target must be one of weights, activation but is '1'.", run.Stderr);
    }

    [Fact]
    public void Quantize_UnknownOption_IsInvalidArguments()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--no-such-option");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.StartsWith("dotnet-quant: error: ", run.StderrLines[0]);
    }

    [Fact]
    public void Quantize_ChannelCountMismatch_NamesFileAndShape()
    {
        var run = CliRunner.Run("quantize", SeedInput, "--target", "weights", "--method", "pot", "--bits", "8", "--threshold", "2,4", "--per-channel", "-o", _temp.File("o.npy"));
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        string line = Assert.Single(run.StderrLines);
        Assert.Contains(SeedInput, line);
        Assert.Contains("(1, 3, 3, 3)", line);
        Assert.False(File.Exists(_temp.File("o.npy")));
    }

    [Fact]
    public void Quantize_SeveralInputsOneBad_ReportsItAndQuantizesTheRest()
    {
        string a = CopyOfSeed("a.npy"), b = CopyOfSeed("b.npy");
        string bad = _temp.File("bad.npy");
        File.WriteAllText(bad, "garbage");
        string outputDirectory = _temp.File("out/nested");
        var run = CliRunner.Run(["quantize", a, bad, b, .. SeedQuantizer, "--output-dir", outputDirectory, "--json"]);
        Assert.Equal(ExitCode.Failure, run.Code);
        Assert.Contains("[NpyMagicInvalid]", Assert.Single(run.StderrLines));
        Assert.Equal(2, run.StdoutLines.Length);
        foreach (string line in run.StdoutLines) JsonDocument.Parse(line).Dispose();
        NpyAssert.BitIdentical(SeedExpected, Path.Combine(outputDirectory, "a.npy"));
        NpyAssert.BitIdentical(SeedExpected, Path.Combine(outputDirectory, "b.npy"));
        Assert.False(File.Exists(Path.Combine(outputDirectory, "bad.npy")));
    }

    [Fact]
    public void Quantize_SeveralInputsDefaultOutputs_WritesEachBesideItsInput()
    {
        string a = CopyOfSeed("a.npy"), b = CopyOfSeed("b.npy");
        var run = CliRunner.Run(["quantize", a, b, .. SeedQuantizer]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Equal(2, run.StdoutLines.Length);
        NpyAssert.BitIdentical(SeedExpected, _temp.File("a.q.npy"));
        NpyAssert.BitIdentical(SeedExpected, _temp.File("b.q.npy"));
    }

    [Fact]
    public void Quantize_NonFiniteInput_FailsUnlessAllowed()
    {
        string input = _temp.File("nan.npy");
        new QuantShell.Core.Formats.NpyArray([4], new float[] { 1f, float.NaN, float.PositiveInfinity, -0.5f }).Write(input);
        var run = CliRunner.Run("quantize", input, "--target", "activation", "--method", "symmetric", "--bits", "8", "--threshold", "1");
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.EndsWith(" Pass --allow-non-finite to keep NaN and saturate ±infinity. [NonFiniteInput]", Assert.Single(run.StderrLines));
        Assert.False(File.Exists(_temp.File("nan.q.npy")));

        var allowed = CliRunner.Run("quantize", input, "--target", "activation", "--method", "symmetric", "--bits", "8", "--threshold", "1", "--allow-non-finite", "--json");
        Assert.True(allowed.Code == ExitCode.Success, allowed.ToString());
        using var json = JsonDocument.Parse(allowed.Stdout);
        Assert.Equal(2, json.RootElement.GetProperty("nonFiniteCount").GetInt64());
        var output = QuantShell.Core.Formats.NpyArray.Read(_temp.File("nan.q.npy"));
        var values = (float[])output.Data;
        Assert.True(float.IsNaN(values[1]));
        Assert.Equal(127f / 128f, values[2]);
    }

    [Fact]
    public void Quantize_Canceled_ExitsWith130AndLeavesNoFile()
    {
        string output = _temp.File("canceled.npy");
        using var canceled = new CancellationTokenSource();
        canceled.Cancel();
        var run = CliRunner.RunWith(null, canceled.Token, ["quantize", SeedInput, .. SeedQuantizer, "--output", output]);
        Assert.Equal(ExitCode.Canceled, run.Code);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(_temp.Path));
    }
}
