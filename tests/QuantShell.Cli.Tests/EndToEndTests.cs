using System.IO.Compression;
using System.Reflection.PortableExecutable;

namespace QuantShell.Cli.Tests;

/// <summary>The real executable as a child process: <c>dotnet dotnet-quant.dll ...</c>, one process per case.</summary>
public sealed class EndToEndTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static CliRun RunTool(params string[] args) =>
        CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, .. args], Timeout);

    [Theory]
    [InlineData("e_seed_example")]
    [InlineData("02_weights_uniform_8b_pc")]
    [InlineData("05_activation_uniform_16b")]
    [InlineData("e_fortran_order")]
    public void Process_QuantizeConformanceCase_MatchesExpected(string name)
    {
        var testCase = Conformance.PyTorch.Get(name);
        string quantizer = _temp.File("q.json");
        File.WriteAllText(quantizer, testCase.QuantizerJson);
        string output = _temp.File("out.npy");
        var run = RunTool("quantize", testCase.InputPath, "--quantizer", quantizer, "--output", output);
        Assert.True(run.ExitCode == 0, run.ToString());
        NpyAssert.BitIdentical(testCase.ExpectedPath, output);
    }

    [Fact]
    public void Process_BadThreshold_ExitsTwoWithOneErrorLine()
    {
        var run = RunTool("quantize", Conformance.PyTorch.File("e_seed_example.input.npy"), "--target", "weights", "--method", "pot",
                          "--bits", "8", "--threshold", "3", "-o", _temp.File("o.npy"));
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("dotnet-quant: error: --threshold must be a power of two for a POT quantizer but is 3. [ThresholdNotPowerOfTwo]",
                     Assert.Single(run.StderrLines));
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void Process_QuantizePotWithNothingElse_ChoosesThresholdAndWritesOutput()
    {
        string input = _temp.File("x.npy");
        new QuantShell.Core.Formats.NpyArray([4], new float[] { 0.5f, -2.7f, 1f, 0.01f }).Write(input);
        var run = RunTool("quantize", input, "--method", "pot", "--error-method", "noclipping");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("weights pot 8-bit, threshold 4, signed (chosen from the data, noClipping, search mct)", Assert.Single(run.StdoutLines));
        Assert.Equal("", run.Stderr);
        Assert.Equal(new[] { 0.5f, -2.6875f, 1f, 0f }, (float[])QuantShell.Core.Formats.NpyArray.Read(_temp.File("x.q.npy")).Data);

        var defaults = RunTool("quantize", input, "--method", "pot", "--json", "--force");
        Assert.True(defaults.ExitCode == 0, defaults.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(defaults.Stdout);
        Assert.True(json.RootElement.GetProperty("threshold")[0].GetDouble() > 0);
        Assert.Equal("mse", json.RootElement.GetProperty("selection").GetProperty("errorMethod").GetString());
    }

    [Fact]
    public void Process_MissingFile_ExitsFour()
    {
        var run = RunTool("quantize", _temp.File("missing.npy"), "--target", "weights", "--method", "pot", "--bits", "8", "--threshold", "2");
        Assert.Equal(4, run.ExitCode);
        Assert.EndsWith("[InputFileNotFound]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Process_Help_ExitsZero()
    {
        var run = RunTool("--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("Usage:", run.Stdout);
        Assert.Contains("dotnet-quant", run.Stdout);
    }

    [Fact]
    public void Process_DoesNotShipOrLoadLibTorch()
    {
        // Checked on the tool's own build output: the CLI project excludes TorchSharp's native assets.
        var toolOutput = Path.GetDirectoryName(ToolPaths.ToolAssembly)!;
        var cliBuildOutput = Path.Combine(TestPaths.RepositoryRoot, "src", "QuantShell.Cli", "bin");
        string depsJson = File.ReadAllText(Path.Combine(toolOutput, "dotnet-quant.deps.json"));
        Assert.DoesNotContain("LibTorchSharp", depsJson);
        if (Directory.Exists(cliBuildOutput))
            Assert.Empty(Directory.GetFiles(cliBuildOutput, "*LibTorchSharp*", SearchOption.AllDirectories));
    }
}

/// <summary>
/// The <c>dotnet tool install</c> round trip of the README's Install section (docs/install.md), on what a user gets: packs with
/// build/pack-tool.sh (the pointer package, the native linux-x64 one, the framework-dependent ReadyToRun ones of six other
/// platforms, the portable framework-dependent "any" one), installs
/// QuantShell.Cli from that folder into a temporary tool path, and runs the installed tool.
/// </summary>
public sealed class PackTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(20);
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>The one version (Directory.Build.props), as the packages and <c>--version</c> carry it.</summary>
    private static string Version()
    {
        var props = System.Xml.Linq.XDocument.Load(Path.Combine(TestPaths.RepositoryRoot, "Directory.Build.props"));
        return props.Descendants("Version").Single().Value;
    }

    /// <summary>
    /// The framework-dependent ReadyToRun packages: RID, the COFF machine its images must carry (ReadyToRun marks the OS by
    /// XOR-ing the CPU's machine value with the OS's: Linux 0x7B79, macOS 0x4644, Windows none; dotnet/runtime,
    /// docs/design/coreclr/botr/readytorun-format.md), and ONNX Runtime's native library for it (none for osx-x64 and
    /// musl: ONNX Runtime ships no build for them, and the package holds none).
    /// </summary>
    private static readonly (string Rid, ushort Machine, string? OnnxRuntime)[] ReadyToRunPackages =
    [
        ("linux-arm64", (ushort)Machine.Arm64 ^ 0x7B79, "libonnxruntime.so"),
        ("linux-musl-x64", (ushort)Machine.Amd64 ^ 0x7B79, null),
        ("osx-arm64", (ushort)Machine.Arm64 ^ 0x4644, "libonnxruntime.dylib"),
        ("osx-x64", (ushort)Machine.Amd64 ^ 0x4644, null),
        ("win-arm64", (ushort)Machine.Arm64, "onnxruntime.dll"),
        ("win-x64", (ushort)Machine.Amd64, "onnxruntime.dll"),
    ];

    /// <summary>
    /// A ReadyToRun package holds QuantShell's assemblies compiled for its RID (an image for another OS or CPU is refused
    /// there), run by 'dotnet' (no apphost), and that platform's natives only, flattened beside them.
    /// </summary>
    private static void AssertReadyToRunPackage(string package, string rid, ushort machine, string? onnxRuntime)
    {
        using var zip = ZipFile.OpenRead(package);
        string folder = $"tools/net10.0/{rid}/";
        var entries = zip.Entries.Select(e => e.FullName).Where(e => e.StartsWith("tools/", StringComparison.Ordinal)).ToArray();
        Assert.All(entries, e => Assert.StartsWith(folder, e, StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Contains("/runtimes/", StringComparison.Ordinal) || e.EndsWith(".lib", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Contains("LibTorchSharp", StringComparison.OrdinalIgnoreCase) || e.Contains("libtorch", StringComparison.OrdinalIgnoreCase));
        if (onnxRuntime is not null) Assert.Contains(folder + onnxRuntime, entries);
        // Where ONNX Runtime has no build, no other platform's stands in (musl would get the glibc one by the RID fallback).
        else Assert.DoesNotContain(entries, e => Path.GetFileName(e).StartsWith("libonnxruntime", StringComparison.Ordinal) || Path.GetFileName(e).StartsWith("onnxruntime", StringComparison.Ordinal));
        string skia = rid.StartsWith("win", StringComparison.Ordinal) ? "libSkiaSharp.dll" : rid.StartsWith("osx", StringComparison.Ordinal) ? "libSkiaSharp.dylib" : "libSkiaSharp.so";
        Assert.Contains(folder + skia, entries);
        using (var settings = new StreamReader(zip.GetEntry(folder + "DotnetToolSettings.xml")!.Open()))
            Assert.Contains("Runner=\"dotnet\"", settings.ReadToEnd(), StringComparison.Ordinal);
        foreach (string assembly in new[] { "dotnet-quant.dll", "QuantShell.Core.dll", "System.CommandLine.dll" })
        {
            using var image = new MemoryStream();
            using (Stream entry = zip.GetEntry(folder + assembly)!.Open()) entry.CopyTo(image);
            image.Position = 0;
            using var pe = new PEReader(image);
            Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, $"{rid}/{assembly} is not ReadyToRun");
            Assert.Equal(machine, (ushort)pe.PEHeaders.CoffHeader.Machine);
        }
    }

    [Fact]
    [Trait("Category", "Pack")]
    public void PackToolScript_InstallFromFolder_InstalledToolRunsNatively()
    {
        string version = Version();
        string packages = _temp.File("packages");
        string tools = _temp.File("tools");

        var pack = CliRunner.RunProcess("bash", [Path.Combine(TestPaths.RepositoryRoot, "build", "pack-tool.sh"), packages], Timeout);
        Assert.True(pack.ExitCode == 0, pack.ToString());
        string[] made = Directory.GetFiles(packages, "*.nupkg").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;
        string[] expected = ["", .. ReadyToRunPackages.Select(p => p.Rid), "any", "linux-x64"];
        Assert.Equal(expected.Select(rid => rid.Length == 0 ? $"QuantShell.Cli.{version}.nupkg" : $"QuantShell.Cli.{rid}.{version}.nupkg").Order(StringComparer.Ordinal), made);
        foreach (var (rid, machine, native) in ReadyToRunPackages)
            AssertReadyToRunPackage(Path.Combine(packages, $"QuantShell.Cli.{rid}.{version}.nupkg"), rid, machine, native);
        using (var native = ZipFile.OpenRead(Path.Combine(packages, $"QuantShell.Cli.linux-x64.{version}.nupkg")))
        {
            var entries = native.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains("tools/any/linux-x64/dotnet-quant", entries);
            Assert.DoesNotContain(entries, e => e.EndsWith(".dll", StringComparison.Ordinal) || e.EndsWith(".dbg", StringComparison.Ordinal));
        }
        using (var portable = ZipFile.OpenRead(Path.Combine(packages, $"QuantShell.Cli.any.{version}.nupkg")))
        {
            var entries = portable.Entries.Select(e => e.FullName).ToArray();
            Assert.Contains("tools/net10.0/any/dotnet-quant.dll", entries);
            Assert.DoesNotContain(entries, e => e.Contains("LibTorchSharp", StringComparison.OrdinalIgnoreCase) || e.Contains("libtorch", StringComparison.OrdinalIgnoreCase));
            // The build every platform but linux-x64 installs stays portable IL: a ReadyToRun image is compiled for one OS
            // and CPU, and .NET refuses it (BadImageFormatException) on any other (docs/install.md).
            foreach (string assembly in new[] { "dotnet-quant.dll", "QuantShell.Core.dll" })
            {
                using var image = new MemoryStream();
                using (Stream entry = portable.GetEntry($"tools/net10.0/any/{assembly}")!.Open()) entry.CopyTo(image);
                image.Position = 0;
                using var pe = new PEReader(image);
                Assert.Equal(0, pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size);
                Assert.False(pe.PEHeaders.CorHeader.Flags.HasFlag(CorFlags.ILLibrary), assembly);
                Assert.Equal(Machine.I386, pe.PEHeaders.CoffHeader.Machine);
            }
        }

        // A private NuGet cache: the machine's cache may hold an older QuantShell.Cli of this version that would be installed instead.
        var install = CliRunner.RunProcess("dotnet",
            ["tool", "install", "--tool-path", tools, "--add-source", packages, "QuantShell.Cli", "--version", version], Timeout, _temp.Path,
            new Dictionary<string, string> { ["NUGET_PACKAGES"] = _temp.File("nuget-cache") });
        Assert.True(install.ExitCode == 0, install.ToString());

        // On linux-x64 the native build is installed (the command is a link to it): an ELF executable from the
        // linux-x64 package, no managed assembly anywhere in the tool path.
        string installed = Path.GetFullPath(new FileInfo(Path.Combine(tools, "dotnet-quant")).ResolveLinkTarget(returnFinalTarget: true)?.FullName
                                            ?? Path.Combine(tools, "dotnet-quant"));
        Assert.Contains($"quantshell.cli.linux-x64{Path.DirectorySeparatorChar}", installed, StringComparison.Ordinal);
        Assert.Equal("\u007fELF"u8.ToArray(), File.ReadAllBytes(installed).AsSpan(0, 4).ToArray());
        Assert.Empty(Directory.GetFiles(tools, "*.dll", SearchOption.AllDirectories));

        var versionRun = CliRunner.RunProcess(Path.Combine(tools, "dotnet-quant"), ["--version"], TimeSpan.FromMinutes(1));
        Assert.True(versionRun.ExitCode == 0, versionRun.ToString());
        Assert.StartsWith(version, versionRun.Stdout.Trim(), StringComparison.Ordinal);

        // `dotnet quant` runs the dotnet-quant found on PATH, as after a --global install.
        string path = tools + Path.PathSeparator + Environment.GetEnvironmentVariable("PATH");
        var dotnetQuant = CliRunner.RunProcess("dotnet", ["quant", "--version"], TimeSpan.FromMinutes(1), _temp.Path,
            new Dictionary<string, string> { ["PATH"] = path });
        Assert.True(dotnetQuant.ExitCode == 0, dotnetQuant.ToString());
        Assert.StartsWith(version, dotnetQuant.Stdout.Trim(), StringComparison.Ordinal);

        string output = _temp.File("seed.npy");
        var quantize = CliRunner.RunProcess(Path.Combine(tools, "dotnet-quant"),
            ["quantize", Conformance.PyTorch.File("e_seed_example.input.npy"), "--target", "weights", "--method", "symmetric",
             "--bits", "8", "--threshold", "2,4,1", "--per-channel", "--channel-axis", "-1", "--output", output], TimeSpan.FromMinutes(1));
        Assert.True(quantize.ExitCode == 0, quantize.ToString());
        NpyAssert.BitIdentical(Conformance.PyTorch.File("e_seed_example.expected.npy"), output);

        // The installed tool draws plots: Skia's native library ships beside the native executable.
        string plot = _temp.File("seed.png");
        var measure = CliRunner.RunProcess(Path.Combine(tools, "dotnet-quant"),
            ["measure", Conformance.PyTorch.File("e_seed_example.input.npy"), "--method", "pot", "--num-bits", "4", "--plot-path", plot], TimeSpan.FromMinutes(1));
        Assert.True(measure.ExitCode == 0, measure.ToString());
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, File.ReadAllBytes(plot)[..4]);
    }
    /// <summary>
    /// The ReadyToRun build the packages of six platforms ship, compiled for linux-x64 so that it runs here
    /// (QuantShellReadyToRun=true): its precompiled code (crossgen2's cross-module generics and inlining) writes what
    /// the JIT-compiled tool writes, with values given (checked against PyTorch too) and chosen by each search.
    /// </summary>
    [Fact]
    [Trait("Category", "Pack")]
    public void ReadyToRunBuild_ThisPlatform_WritesWhatTheJitBuildWrites()
    {
        string publish = _temp.File("r2r");
        // Compiled afresh: the SDK does not recompile an image in obj/ when only crossgen2's options differ.
        string images = Path.Combine(TestPaths.RepositoryRoot, "src", "QuantShell.Cli", "obj", "Release", "net10.0", "linux-x64", "R2R");
        if (Directory.Exists(images)) Directory.Delete(images, recursive: true);
        var build = CliRunner.RunProcess("dotnet",
            ["publish", Path.Combine(TestPaths.RepositoryRoot, "src", "QuantShell.Cli", "QuantShell.Cli.csproj"), "-c", "Release", "-r", "linux-x64",
             "-p:QuantShellReadyToRun=true", "-o", publish, "--nologo", "-v", "quiet"], Timeout);
        Assert.True(build.ExitCode == 0, build.ToString());
        Assert.False(File.Exists(Path.Combine(publish, "dotnet-quant")), "no apphost");
        using (var pe = new PEReader(File.OpenRead(Path.Combine(publish, "QuantShell.Core.dll"))))
            Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0);

        string input = Conformance.PyTorch.File("e_seed_example.input.npy");
        string[][] cases =
        [
            ["--target", "weights", "--method", "symmetric", "--bits", "8", "--threshold", "2,4,1", "--per-channel", "--channel-axis", "-1"],
            ["--method", "pot"],
            ["--method", "uniform", "--per-channel", "--channel-axis", "-1", "--search", "optimal"],
            ["--method", "symmetric", "--per-channel", "--channel-axis", "-1", "--error-method", "mae"],
            ["--method", "lut-symmetric", "--num-bits", "3"],
            ["--target", "activation", "--method", "uniform", "--num-bits", "4"],
        ];
        for (int i = 0; i < cases.Length; i++)
        {
            string fromR2r = _temp.File($"r2r{i}.npy"), fromJit = _temp.File($"jit{i}.npy");
            var r2r = CliRunner.RunProcess("dotnet", [Path.Combine(publish, "dotnet-quant.dll"), "quantize", input, .. cases[i], "--output", fromR2r], TimeSpan.FromMinutes(1));
            Assert.True(r2r.ExitCode == 0, r2r.ToString());
            var jit = CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, "quantize", input, .. cases[i], "--output", fromJit], TimeSpan.FromMinutes(1));
            Assert.True(jit.ExitCode == 0, jit.ToString());
            Assert.Equal(File.ReadAllBytes(fromJit), File.ReadAllBytes(fromR2r));
            Assert.Equal(jit.Stdout.Replace(fromJit, "OUT", StringComparison.Ordinal), r2r.Stdout.Replace(fromR2r, "OUT", StringComparison.Ordinal));
        }
        NpyAssert.BitIdentical(Conformance.PyTorch.File("e_seed_example.expected.npy"), _temp.File("r2r0.npy"));
    }
}
