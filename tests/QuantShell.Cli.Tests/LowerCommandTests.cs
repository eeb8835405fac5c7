using System.Text.Json;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Formats.Onnx.Mct;

namespace QuantShell.Cli.Tests;

/// <summary><c>dotnet quant lower</c> in-process: outputs, JSON lines, exit codes and error lines.</summary>
public sealed class LowerCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Copy(string name)
    {
        string target = _temp.File(name + ".onnx");
        File.Copy(MctqModels.Get(name).ModelPath, target);
        return target;
    }

    [Fact]
    public void Lower_WritesBesideTheInput_WhatTheCoreWrites()
    {
        string input = Copy("mctq_0");
        var run = CliRunner.Run("lower", input);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        string output = _temp.File("mctq_0.lowered.onnx");
        Assert.Contains($"{input} -> {output}: 3 weight quantizers as fake, 3 activation quantizers as exact, 18 -> 26 nodes, opset 15", run.Stdout);

        var model = OnnxModel.Load(input);
        MctLowering.Lower(model, WeightsForm.Fake, ActivationsForm.Exact);
        Assert.Equal(model.ToByteArray(), File.ReadAllBytes(output));
    }

    [Fact]
    public void Lower_AModelWithoutMctNodes_WarnsWhy_AndWritesItUnchanged()
    {
        // A plain float model, then its qdq form (standard ONNX already): nothing to lower in either, and the warning says so.
        string plain = _temp.File("small_cnn.onnx");
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx"), plain);
        string qdq = _temp.File("small_cnn.qdq.onnx");
        Assert.Equal(ExitCode.Success, CliRunner.Run("quantize", plain, "--format", "qdq", "--output-path", qdq).Code);
        foreach (var (input, standard) in new[] { (plain, false), (qdq, true) })
        {
            string output = _temp.File("lowered.onnx");
            var run = CliRunner.Run("lower", input, "-o", output, "--force");
            Assert.True(run.Code == ExitCode.Success, run.ToString());
            string warning = Assert.Single(run.StderrLines);
            Assert.StartsWith($"dotnet-quant: warning: {input}: nothing lowered, the output is the same model: it has no node of the mct_quantizers domain", warning);
            Assert.Equal(standard, warning.Contains("QuantizeLinear/DequantizeLinear nodes are standard ONNX already", StringComparison.Ordinal));
            Assert.Contains(": 0 weight quantizers as fake, 0 activation quantizers as exact", Assert.Single(run.StdoutLines));
            Assert.Equal(OnnxModel.Load(input).ToByteArray(), File.ReadAllBytes(output));
        }
        // A model MCT exported has no warning.
        Assert.Empty(CliRunner.Run("lower", Copy("mctq_0"), "-o", _temp.File("m.onnx")).Stderr);
    }

    [Fact]
    public void Lower_AnotherKindOfTensorFile_SaysWhatItIs()
    {
        string npy = _temp.File("w.npy");
        new QuantShell.Core.Formats.NpyArray([2, 2], new float[] { 1, 2, 3, 4 }).Write(npy);
        string garbage = _temp.File("g.onnx");
        File.WriteAllBytes(garbage, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        foreach (var (input, expected) in new[] { (npy, $"{npy}: not an ONNX model: it is an .npy file. [OnnxModelInvalid]"), (garbage, $"{garbage}: not a valid ONNX model: the protobuf is truncated or malformed") })
        {
            var run = CliRunner.Run("lower", input, "-o", _temp.File("o.onnx"));
            Assert.Equal(ExitCode.InvalidInput, run.Code);
            Assert.StartsWith($"dotnet-quant: error: {expected}", Assert.Single(run.StderrLines));
        }
    }

    [Theory]
    [InlineData("qdq", "exact")]
    [InlineData("fake", "qdq")]
    [InlineData("QDQ", "Qdq")]
    public void Lower_Json_DescribesEveryNode(string weights, string activations)
    {
        string input = Copy("mctq_1");
        string output = _temp.File("out.onnx");
        var run = CliRunner.Run("lower", input, "-o", output, "--weights", weights, "--activations", activations, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var json = JsonDocument.Parse(Assert.Single(run.StdoutLines));
        var root = json.RootElement;
        Assert.Equal(output, root.GetProperty("outputPath").GetString());
        Assert.Equal(weights.ToLowerInvariant(), root.GetProperty("weights").GetString());
        Assert.Equal(activations.ToLowerInvariant(), root.GetProperty("activations").GetString());
        Assert.Equal(3, root.GetProperty("weightsQuantized").GetInt32());
        Assert.Equal(1, root.GetProperty("nodesLowered").GetProperty("WeightsUniformQuantizer").GetInt32());
        var nodes = root.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal(6, nodes.Count);
        var uniform = nodes.Single(n => n.GetProperty("opType").GetString() == "WeightsUniformQuantizer");
        Assert.Equal("uniform", uniform.GetProperty("quantizer").GetProperty("method").GetString());
        Assert.Equal(3, uniform.GetProperty("quantizer").GetProperty("numBits").GetInt32());
        Assert.Equal(weights.Equals("qdq", StringComparison.OrdinalIgnoreCase) ? "uint8" : null, uniform.GetProperty("storageType").GetString());
        Assert.DoesNotContain(OnnxModel.Load(output).Proto.Graph.Node, n => n.Domain == MctLowering.Domain);
    }

    [Fact]
    public void Lower_ExistingOutput_NeedsForce()
    {
        string input = Copy("mctq_0");
        Assert.Equal(ExitCode.Success, CliRunner.Run("lower", input).Code);
        var again = CliRunner.Run("lower", input);
        Assert.Equal(ExitCode.IOError, again.Code);
        Assert.EndsWith("[OutputExists]", again.StderrLines.Single());
        Assert.Contains("--force", again.Stderr);
        Assert.Equal(ExitCode.Success, CliRunner.Run("lower", input, "--force").Code);
    }

    [Fact]
    public void Lower_HostileModel_ExitsWithInvalidInput_AndWritesNothing()
    {
        string input = _temp.File("truncated.onnx");
        File.WriteAllBytes(input, File.ReadAllBytes(MctqModels.Get("mctq_0").ModelPath)[..3000]);
        var run = CliRunner.Run("lower", input);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.EndsWith("[OnnxModelInvalid]", run.StderrLines.Single());
        Assert.Equal(["truncated.onnx"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }

    /// <summary>Over the protobuf limit of 2 GiB (a hole of 2 GiB + 1 byte here): refused by its size, one line, nothing written.</summary>
    [Fact]
    public void Lower_ModelOver2GiB_IsOnnxModelTooLarge_AndWritesNothing()
    {
        string input = _temp.File("big.onnx");
        HostileOnnx.SparseFile(input, (2L << 30) + 1);
        var run = CliRunner.Run("lower", input);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.Equal($"dotnet-quant: error: {input}: the file is 2147483649 bytes; an ONNX protobuf is at most 2 GiB (larger models keep their weights in external data files). [OnnxModelTooLarge]",
                     Assert.Single(run.StderrLines));
        Assert.Equal(["big.onnx"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }

    /// <summary>Messages nested deeper than Google.Protobuf's limit of 100: one line, nothing written (100 deep: OnnxModelTests).</summary>
    [Fact]
    public void Lower_ModelNested101Deep_IsOnnxModelInvalid_AndWritesNothing()
    {
        string input = _temp.File("deep.onnx");
        File.WriteAllBytes(input, HostileOnnx.NestedMessages(101));
        var run = CliRunner.Run("lower", input);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        Assert.Equal($"dotnet-quant: error: {input}: not a valid ONNX model: its messages nest more than 100 deep (subgraphs within subgraphs), beyond what is read. [OnnxModelInvalid]",
                     Assert.Single(run.StderrLines));
        Assert.Equal(["deep.onnx"], Directory.GetFiles(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Lower_OneBadModelOfTwo_ExitsWithFailure_AndWritesTheOther()
    {
        string good = Copy("mctq_1");
        string bad = _temp.File("bad.onnx");
        File.WriteAllText(bad, "not a model");
        var run = CliRunner.Run("lower", bad, good);
        Assert.Equal(ExitCode.Failure, run.Code);
        Assert.True(File.Exists(_temp.File("mctq_1.lowered.onnx")));
        Assert.Single(run.StderrLines);
    }

    [Fact]
    public void Lower_OutputPathWithTwoInputs_IsRefusedBeforeAnything()
    {
        var run = CliRunner.Run("lower", Copy("mctq_0"), Copy("mctq_1"), "--output-path", _temp.File("one.onnx"));
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains("--output-path names one file", run.Stderr);
        Assert.EndsWith("[OutputPathWithSeveralInputs]", run.StderrLines.Single());
    }

    [Theory]
    [InlineData("--weight", "qdq", "did you mean '--weights'?")]
    [InlineData("--weights", "int8", "--weights must be one of fake, qdq but is 'int8'.")]
    [InlineData("--activations", "fast", "--activations must be one of exact, qdq but is 'fast'.")]
    public void Lower_BadOptions_AreNamed(string option, string value, string message)
    {
        var run = CliRunner.Run("lower", Copy("mctq_0"), option, value);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.Contains(message, run.Stderr);
    }

    [Fact]
    public void Schema_Lower_IsPublished()
    {
        var run = CliRunner.Run("schema", "lower");
        Assert.Equal(ExitCode.Success, run.Code);
        Assert.Equal(File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "docs", "schemas", "lower.schema.json")), run.Stdout);
    }
}
