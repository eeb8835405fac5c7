using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using QuantShell.Core.Formats;

namespace QuantShell.Cli.Tests;

/// <summary>dotnet quant calibrate and compare: lines, JSON, exit codes, the progress line; and that no other command loads ONNX Runtime.</summary>
public sealed class CalibrateCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string SmallCnn => Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "small_cnn.onnx");

    private string Samples(int count = 3)
    {
        string folder = _temp.File("data");
        Directory.CreateDirectory(folder);
        var random = new Random(11);
        for (int i = 0; i < count; i++)
        {
            var values = Enumerable.Range(0, 192).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            using var stream = File.Create(Path.Combine(folder, $"s{i}.npy"));
            TensorFiles.Write(TensorFileKind.Npy, stream, [new OutputTensor("x", DType.Float32, [1, 3, 8, 8], s => s.Write(MemoryMarshal.AsBytes(values.AsSpan())))],
                new Dictionary<string, string>(), default);
        }
        return folder;
    }

    [Fact]
    public void Calibrate_QuantizeQdq_Compare_ThroughTheCommandLine()
    {
        string data = Samples();
        string rules = _temp.File("rules.json");
        var calibrate = CliRunner.Run("calibrate", SmallCnn, "--data", data, "--output", rules);
        Assert.True(calibrate.Code == ExitCode.Success, calibrate.ToString());
        Assert.Equal(10, calibrate.StdoutLines.Length); // 9 activations and the closing line
        Assert.StartsWith("x float32 [1, 3, 8, 8]: min ", calibrate.StdoutLines[0]);
        Assert.Contains("-> pot 8-bit, threshold ", calibrate.StdoutLines[0]);
        Assert.StartsWith($"{rules}: 9 activation quantizers and 6 weight rules from 3 samples, ", calibrate.StdoutLines[^1]);
        Assert.Empty(calibrate.Stderr);

        var again = CliRunner.Run("calibrate", SmallCnn, "--data", data, "--output", rules, "--json", "--method", "uniform", "--num-bits", "7", "--error-method", "no-clipping");
        Assert.True(again.Code == ExitCode.IOError, again.ToString()); // the rules file exists: --force replaces it
        Assert.Contains("[OutputExists]", again.Stderr);
        again = CliRunner.Run("calibrate", SmallCnn, "--data", data, "--output", rules, "--json", "--method", "uniform", "--num-bits", "7", "--error-method", "no-clipping", "--force");
        Assert.True(again.Code == ExitCode.Success, again.ToString());
        var lines = again.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(9, lines.Count);
        Assert.All(lines, l => Assert.Equal("uniform", l.GetProperty("quantizer").GetProperty("method").GetString()));
        Assert.All(lines, l => Assert.Equal(7, l.GetProperty("quantizer").GetProperty("numBits").GetInt32()));
        Assert.Equal("x", lines[0].GetProperty("tensorName").GetString());
        Assert.Equal(lines[0].GetProperty("min").GetDouble(), lines[0].GetProperty("quantizer").GetProperty("minRange")[0].GetDouble(), 6);

        string model = _temp.File("small_cnn.qdq.onnx");
        var quantize = CliRunner.Run("quantize", SmallCnn, "--rules", rules, "--format", "qdq", "--output", model, "--verbose");
        Assert.True(quantize.Code == ExitCode.Success, quantize.ToString());
        Assert.Equal(9, quantize.StdoutLines.Count(l => l.Contains(": activation uniform 7-bit")));
        Assert.Contains(": 6 of 10 tensors and 9 activations quantized (qdq), SQNR ", quantize.StdoutLines[^1]);

        var compare = CliRunner.Run("compare", SmallCnn, model, "--data", data);
        Assert.True(compare.Code == ExitCode.Success, compare.ToString());
        Assert.StartsWith("z float32 [1, 5]: SQNR ", Assert.Single(compare.StdoutLines));
        Assert.Contains("top-1 agreement", compare.Stdout);
        var json = CliRunner.Run("compare", SmallCnn, model, "--data", data, "--json");
        var result = JsonDocument.Parse(Assert.Single(json.StdoutLines)).RootElement;
        Assert.InRange(result.GetProperty("sqnrDb").GetDouble(), 10, 100);
        Assert.Equal(3, result.GetProperty("samples").GetInt32());
        Assert.Equal(new FileInfo(model).Length, result.GetProperty("candidateBytes").GetInt64());
    }

    [Fact]
    public void BadSamples_ExitThree_OneLineWithTheFileAndTheId_NoRulesFile()
    {
        string data = _temp.File("data");
        Directory.CreateDirectory(data);
        using (var stream = File.Create(Path.Combine(data, "wrong.npy")))
            TensorFiles.Write(TensorFileKind.Npy, stream, [new OutputTensor("x", DType.Float32, [1, 3, 8, 9], s => s.Write(new byte[4 * 216]))], new Dictionary<string, string>(), default);
        string rules = _temp.File("rules.json");
        var run = CliRunner.Run("calibrate", SmallCnn, "--data", data, "--output", rules);
        Assert.Equal(ExitCode.InvalidInput, run.Code);
        var line = Assert.Single(run.StderrLines);
        Assert.StartsWith("dotnet-quant: error: ", line);
        Assert.Contains("wrong.npy", line);
        Assert.EndsWith("[SampleShapeMismatch]", line);
        Assert.False(File.Exists(rules));

        var missingData = CliRunner.Run("calibrate", SmallCnn);
        Assert.Equal(ExitCode.InvalidArguments, missingData.Code);
        var lut = CliRunner.Run("calibrate", SmallCnn, "--data", data, "--method", "lut-pot");
        Assert.Equal(ExitCode.InvalidArguments, lut.Code);
        Assert.EndsWith("[MethodInvalid]", Assert.Single(lut.StderrLines));
    }

    [Fact]
    public void ProgressLine_OnStderrWhenItIsATerminal_ClearedAtTheEnd()
    {
        var stderr = new StringWriter();
        var host = new ConsoleHost<string>(new StringWriter(), stderr, json: false, jsonType: null, (_, _) => { }, progressLine: true);
        host.WriteProgress(new Core.Jobs.JobProgress("Calibrate", 0, 12, "/data/sample000.npy", Completed: false));
        host.WriteProgress(new Core.Jobs.JobProgress("Calibrate", 1, 12, "/data/sample001.npy", Completed: false));
        host.WriteProgress(new Core.Jobs.JobProgress("Calibrate", 12, 12, null, Completed: true));
        string written = stderr.ToString();
        Assert.Equal("\rCalibrate: 1 of 12: sample000.npy\rCalibrate: 2 of 12: sample001.npy\r" + new string(' ', 33) + "\r", written);
        var quiet = new StringWriter();
        new ConsoleHost<string>(new StringWriter(), quiet, json: false, jsonType: null, (_, _) => { }).WriteProgress(new Core.Jobs.JobProgress("Calibrate", 0, 2, "a.npy", Completed: false));
        Assert.Empty(quiet.ToString());
    }

    /// <summary>The shared objects the dynamic loader loads while the tool runs one command (LD_DEBUG=files lists each).</summary>
    private static string[] LoadedLibraries(params string[] args)
    {
        var run = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, .. args], TimeSpan.FromMinutes(2), environment: new Dictionary<string, string> { ["LD_DEBUG"] = "files" });
        Assert.True(run.ExitCode == 0, run.ToString());
        return run.Stderr.Split('\n').Where(l => l.Contains("file=", StringComparison.Ordinal)).ToArray();
    }

    [SkippableFact]
    public void OnlyCalibrateAndCompare_LoadOnnxRuntime()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "the dynamic loader's LD_DEBUG is glibc's");
        string data = Samples(1);
        string npy = Directory.GetFiles(data)[0];
        string model = _temp.File("q.onnx");
        foreach (var args in new[]
        {
            new[] { "quantize", SmallCnn, "--output", model, "--force" },
            ["quantize", npy, "--method", "pot", "--output", _temp.File("q.npy"), "--force"],
            ["inspect", SmallCnn],
            ["measure", SmallCnn],
            ["lower", SmallCnn, "--output", _temp.File("l.onnx"), "--force"],
        })
        {
            var libraries = LoadedLibraries(args);
            Assert.True(libraries.Length > 5, $"LD_DEBUG listed {libraries.Length} libraries for {args[0]}");
            Assert.DoesNotContain(libraries, l => l.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase));
        }
        // The same check sees ONNX Runtime where it is loaded.
        Assert.Contains(LoadedLibraries("calibrate", SmallCnn, "--data", data, "--output", _temp.File("r.json")), l => l.Contains("libonnxruntime.so", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Quantize_MidRun_HasNoOnnxRuntimeAssemblyMapped()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "/proc/PID/maps and FIFOs are Linux's");
        // The tool quantizes a FIFO fed slowly: while it writes, its mapped files are every assembly it has loaded.
        var fifo = new NpyFifo(_temp.File("slow.npy"));
        using var stop = new CancellationTokenSource();
        var feeding = fifo.FeedSlowly(stop.Token);
        var start = new ProcessStartInfo("dotnet", [ToolPaths.ToolAssembly, "quantize", fifo.Path, "--method", "pot", "--threshold", "1", "--output", _temp.File("out.npy")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var tool = Process.Start(start)!;
        var stderr = tool.StandardError.ReadToEndAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            while (Directory.GetFiles(_temp.Path, ".out.npy.quantshell-*.tmp").Length == 0)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the tool never started writing");
                if (tool.HasExited) Assert.Fail("the tool ended early: " + await stderr);
                await Task.Delay(20);
            }
            var mapped = File.ReadAllLines($"/proc/{tool.Id}/maps");
            Assert.Contains(mapped, l => l.EndsWith("QuantShell.Core.dll", StringComparison.Ordinal));
            Assert.DoesNotContain(mapped, l => l.Contains("OnnxRuntime", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            if (!tool.HasExited) tool.Kill(entireProcessTree: true);
            stop.Cancel();
            await feeding;
        }
    }
}
