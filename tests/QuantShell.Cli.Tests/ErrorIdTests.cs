using System.Text;
using QuantShell.Core.Formats;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Misuses the command line reaches and no other test does, each giving its one error id in one error line (the ids
/// every test produces are counted by the core's ErrorIdCoverageTests).
/// </summary>
public sealed class ErrorIdTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Seed()
    {
        string path = _temp.File("x.npy");
        if (!File.Exists(path)) File.Copy(Conformance.PyTorch.File("e_seed_example.input.npy"), path);
        return path;
    }

    /// <summary>An .npy file whose header says <paramref name="header"/> (a Python dict), followed by <paramref name="data"/> bytes.</summary>
    private string NpyWithHeader(string name, string header, int data)
    {
        string text = header.PadRight(117) + "\n";
        byte[] bytes = [0x93, .. "NUMPY"u8, 1, 0, (byte)text.Length, 0, .. Encoding.ASCII.GetBytes(text), .. new byte[data]];
        string path = _temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static void AssertOneError(CliRun run, string errorId, string? contains = null)
    {
        var lines = run.StderrLines.Where(line => line.StartsWith("dotnet-quant: error: ", StringComparison.Ordinal)).ToArray();
        Assert.True(lines.Length == 1, run.ToString());
        Assert.True(lines[0].EndsWith($"[{errorId}]", StringComparison.Ordinal), run.ToString());
        Assert.True(contains is null || lines[0].Contains(contains, StringComparison.Ordinal), run.ToString());
        Assert.NotEqual(ExitCode.Success, run.Code);
    }

    [Fact]
    public void UnknownOption_SuggestsTheClosest() =>
        AssertOneError(CliRunner.Run("quantize", Seed(), "--forse"), "UnknownOption", "unrecognized option '--forse' (did you mean '--force'?)");

    [Fact]
    public void StandardInput_WithAnotherInput_IsRefused()
    {
        var run = CliRunner.Run("quantize", "-", Seed(), "--output-directory", _temp.Path);
        AssertOneError(run, "StdinWithSeveralInputs", "('-') must be the only input");
    }

    [Fact]
    public void Dequantize_FromAStream_IsRefused() =>
        AssertOneError(CliRunner.RunWith([1, 2, 3], default, "dequantize", "-", "--output-path", _temp.File("o.npz")), "StreamInputNotSupported", "dequantizing reads model files, not streams");

    [Fact]
    public void ModelFile_ToAStream_IsRefused()
    {
        string model = _temp.File("small_cnn.onnx");
        File.Copy(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx"), model);
        AssertOneError(CliRunner.Run("quantize", model, "--output-path", "-"), "StreamOutputNotSupported", "give --output-path or --output-directory");
    }

    [Fact]
    public void InputFolder_IsRefused() =>
        AssertOneError(CliRunner.Run("lower", _temp.Path), "InputIsDirectory", "is a directory, not a file");

    [Fact]
    public void QuantizeOfAFolderThatIsNoModel_IsRefused() =>
        AssertOneError(CliRunner.Run("quantize", _temp.Path), "ModelFolderInvalid", "without model.safetensors.index.json or model.safetensors");

    [Fact]
    public void OutputFolder_IsRefused()
    {
        Directory.CreateDirectory(_temp.File("out"));
        AssertOneError(CliRunner.Run("quantize", Seed(), "--output-path", _temp.File("out"), "--force"), "OutputIsDirectory", "give a file name for the output");
    }

    [Fact]
    public void OutputInAMissingFolder_IsRefused() =>
        AssertOneError(CliRunner.Run("quantize", Seed(), "--output-path", _temp.File("missing/o.npy")), "OutputDirectoryNotFound", "does not exist");

    [Fact]
    public void MissingRulesFile_IsRefused() =>
        AssertOneError(CliRunner.Run("quantize", Seed(), "--rules", _temp.File("rules.json")), "RulesFileNotFound", "rules file not found");

    [Fact]
    public void NpyDtype_NotATypeString_IsRefused() =>
        AssertOneError(CliRunner.Run("quantize", NpyWithHeader("t.npy", "{'descr': 'f', 'fortran_order': False, 'shape': (3,), }", 12)),
            "NpyDTypeInvalid", "dtype 'f' is not a NumPy type string");

    [Fact]
    public void NpyStream_TooLargeToHold_IsRefusedBeforeReading()
    {
        // A pipe has no length to check the header against: the element count alone refuses it.
        string big = NpyWithHeader("big.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3000000000,), }", 16);
        var run = CliRunner.RunProcess("bash", ["-c", "cat \"$1\" | dotnet \"$2\" quantize - --output-path \"$3\"", "bash", big, ToolPaths.ToolAssembly, _temp.File("o.npy")],
                                       TimeSpan.FromMinutes(1));
        AssertOneError(run, "NpyArrayTooLarge", "too many elements to hold in memory");
        Assert.False(File.Exists(_temp.File("o.npy")));
    }

    [Fact]
    public void Calibration_PerChannel_OverArraysOfDifferentRanks_IsRefused()
    {
        new NpyArray([3, 3], new float[9] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }).Write(_temp.File("flat.npy"));
        var run = CliRunner.Run("quantize", Seed(), _temp.File("flat.npy"), "--calibrate", "--per-channel", "--channel-axis", "1", "--output-directory", _temp.File("."));
        AssertOneError(run, "CalibrationShapeMismatch", "same rank");
    }

    /// <summary>
    /// Pooling inputs (--calibrate, new --from-path) where none can be pooled: each input's own error, once, with its exit
    /// code, and no second error about the pool (it said "No readable input is left", exit 3, after each of these).
    /// </summary>
    [Theory]
    [InlineData("model", "ParameterNotApplicable", ExitCode.InvalidArguments, "quantize", "--calibrate")]
    [InlineData("model", "ParameterNotApplicable", ExitCode.InvalidArguments, "measure", "--calibrate")]
    [InlineData("missing", "InputFileNotFound", ExitCode.IOError, "quantize", "--calibrate")]
    [InlineData("missing", "InputFileNotFound", ExitCode.IOError, "measure", "--calibrate")]
    [InlineData("missing", "InputFileNotFound", ExitCode.IOError, "new", "--method", "pot", "--from-path")]
    [InlineData("model", "ParameterNotApplicable", ExitCode.InvalidArguments, "new", "--method", "pot", "--from-path")]
    public void Pooling_WhereNoInputCanBePooled_ReportsEachInputsOwnError(string input, string errorId, ExitCode code, params string[] command)
    {
        string model = _temp.File("small_cnn.onnx");
        if (!File.Exists(model)) File.Copy(Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx"), model);
        string path = input == "model" ? model : _temp.File("missing.npy");
        var run = CliRunner.Run([command[0], .. command[0] == "new" ? Array.Empty<string>() : [path], .. command[1..], .. command[0] == "new" ? [path] : Array.Empty<string>(),
                                 .. command[0] == "quantize" ? ["--output-path", _temp.File("o.onnx")] : Array.Empty<string>()]);
        AssertOneError(run, errorId, path);
        if (input == "model")
            Assert.Contains($"{path}: is an ONNX model; {(command[0] == "new" ? "--from-path" : "--calibrate")} pools .npy inputs (a model file's tensors each get their own values when it is quantized).", run.Stderr);
        Assert.Equal(code, run.Code);
        Assert.False(File.Exists(_temp.File("o.onnx")));
    }

    /// <summary>A tensor file given where a quantizer file or a rules file goes (a slip of the argument order): the error says what it is.</summary>
    [Fact]
    public void ATensorFile_GivenAsTheQuantizerOrTheRules_SaysWhatItIs()
    {
        string npy = Seed();
        AssertOneError(CliRunner.Run("quantize", npy, "--quantizer", npy, "--output-path", _temp.File("o.npy")), "QuantizerFileInvalid", $"{npy}: is an .npy file, not a quantizer file (JSON).");
        AssertOneError(CliRunner.Run("quantize", npy, "--rules", npy, "--output-path", _temp.File("o.npy")), "RulesInvalid", $"{npy}: is an .npy file, not a rules file (JSON).");
        // Bytes that are not UTF-8 and no tensor file: as before.
        string binary = _temp.File("q.json");
        File.WriteAllBytes(binary, [0x7b, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88]);
        AssertOneError(CliRunner.Run("quantize", npy, "--quantizer", binary, "--output-path", _temp.File("o.npy")), "QuantizerFileInvalid", "quantizer file is not valid UTF-8.");
    }

    /// <summary>A folder given where files are expected: the error says which files it holds and how to give them.</summary>
    [Fact]
    public void AFolderOfTensorFiles_GivenAsAnInput_SaysHowToGiveItsFiles()
    {
        string folder = _temp.File("samples");
        Directory.CreateDirectory(folder);
        foreach (string name in new[] { "a.npy", "b.npy", "c.NPY", "m.onnx", "notes.txt" }) File.WriteAllBytes(Path.Combine(folder, name), [0]);
        string hint = $"It holds 3 .npy files, 1 .onnx file: give them with a wildcard, '{Path.Join(folder, "*.npy")}'.";
        // quantize, dequantize, measure and inspect take a Hugging Face model folder as one input; lower wants files.
        foreach (string command in new[] { "quantize", "dequantize", "measure", "inspect" })
            AssertOneError(CliRunner.Run(command, folder), "ModelFolderInvalid", $"Hugging Face model folders of safetensors shards. {hint}");
        AssertOneError(CliRunner.Run("lower", folder), "InputIsDirectory", $"is a directory, not a file. {hint}");
        // A folder of none of them: no hint.
        string empty = _temp.File("empty");
        Directory.CreateDirectory(empty);
        var run = CliRunner.Run("lower", empty);
        AssertOneError(run, "InputIsDirectory");
        Assert.EndsWith("is a directory, not a file. [InputIsDirectory]", run.StderrLines[0]);
        var inspect = CliRunner.Run("inspect", empty);
        AssertOneError(inspect, "ModelFolderInvalid");
        Assert.EndsWith("QuantShell reads Hugging Face model folders of safetensors shards. [ModelFolderInvalid]", inspect.StderrLines[0]);
    }

    [SkippableFact]
    public void QuantizerFile_ThatCannotBeRead_IsRefused()
    {
        // /proc/self/mem exists, but reading it from offset 0 fails (EIO): a read error even for root.
        Skip.IfNot(OperatingSystem.IsLinux(), "/proc/self/mem is Linux's");
        AssertOneError(CliRunner.Run("quantize", Seed(), "--quantizer", "/proc/self/mem"), "QuantizerFileUnreadable", "cannot be read");
    }
}
