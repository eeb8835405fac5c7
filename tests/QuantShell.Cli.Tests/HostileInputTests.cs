using System.Text;

namespace QuantShell.Cli.Tests;

/// <summary>
/// Every malformed file and invalid quantizer we refuse (hostile input), through the CLI: non-zero exit, one clear
/// stderr line naming the file or parameter with the error id, no stack trace, no output file left, and an existing
/// output byte-identical after the refused run — in-process, and through the real executable under a 1 GiB GC heap limit.
/// </summary>
public sealed class HostileInputTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static byte[] Npy(string dict, byte[] data, int major = 1, int? headerLengthOverride = null)
    {
        int preamble = major == 1 ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        byte[] header = Encoding.Latin1.GetBytes(dict.PadRight(total - preamble - 1) + "\n");
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 };
        uint length = (uint)(headerLengthOverride ?? header.Length);
        bytes.AddRange(major == 1 ? BitConverter.GetBytes((ushort)length) : BitConverter.GetBytes(length));
        bytes.AddRange(header);
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    private static string Dict(string descr, string shape) => $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";

    public static TheoryData<string, byte[], string> MalformedFiles() => new()
    {
        { "empty", Array.Empty<byte>(), "NpyMagicInvalid" },
        { "wrong-magic", Encoding.ASCII.GetBytes("GIF89a this is a picture, not an npy"), "NpyMagicInvalid" },
        // A zip's magic makes it an .npz whatever its name (as numpy.load sees it): a broken one is a broken archive.
        { "broken-zip", Encoding.ASCII.GetBytes("PK\u0003\u0004 this is a zip with nothing in it"), "ArchiveInvalid" },
        { "unknown-version", Npy(Dict("<f4", "(2,)"), new byte[8]).Select((b, i) => i == 6 ? (byte)7 : b).ToArray(), "NpyVersionNotSupported" },
        { "header-past-end", Npy(Dict("<f4", "(2,)"), new byte[8], headerLengthOverride: 60000), "NpyHeaderTruncated" },
        { "header-huge", Npy(Dict("<f4", "(2,)"), new byte[8], major: 2, headerLengthOverride: int.MaxValue), "NpyHeaderTooLarge" },
        { "not-a-dict", Npy("[1, 2, 3]", new byte[8]), "NpyHeaderInvalid" },
        { "extra-key", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'note': 'hi'}", new byte[8]), "NpyHeaderInvalid" },
        { "call", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os').system('id'),)}", new byte[8]), "NpyHeaderInvalid" },
        { "expression", Npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1+1,)}", new byte[8]), "NpyHeaderInvalid" },
        { "object", Npy(Dict("|O", "(2,)"), new byte[16]), "NpyObjectArrayRefused" },
        { "complex", Npy(Dict("<c8", "(2,)"), new byte[16]), "NpyDTypeNotSupported" },
        { "structured", Npy("{'descr': [('x', '<f4'), ('y', '<f4')], 'fortran_order': False, 'shape': (2,), }", new byte[16]), "NpyDTypeNotSupported" },
        { "unicode", Npy(Dict("<U8", "(2,)"), new byte[64]), "NpyDTypeNotSupported" },
        { "negative-dim", Npy(Dict("<f4", "(-3, 2)"), new byte[8]), "NpyShapeInvalid" },
        { "count-overflow", Npy(Dict("<f8", "(4611686018427387904, 4611686018427387904)"), new byte[8]), "NpyShapeInvalid" },
        { "terabytes", Npy(Dict("<f4", "(1099511627776,)"), new byte[8]), "NpyDataTruncated" },
        { "truncated", Npy(Dict("<f4", "(100,)"), new byte[399]), "NpyDataTruncated" },
        { "trailing", Npy(Dict("<f4", "(2,)"), new byte[9]), "NpyTrailingData" },
        { "nan", Npy(Dict("<f4", "(3,)"), BitConverter.GetBytes(1f).Concat(BitConverter.GetBytes(float.NaN)).Concat(BitConverter.GetBytes(2f)).ToArray()), "NonFiniteInput" },
    };

    private static readonly string[] Quantizer = { "--target", "activation", "--method", "symmetric", "--bits", "8", "--threshold", "2" };

    private void AssertRefused(CliRun run, string errorId, string named, string output, byte[]? existing)
    {
        Assert.True(run.ExitCode != 0, run.ToString());
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith("dotnet-quant: error: ", line);
        Assert.EndsWith($"[{errorId}]", line);
        Assert.Contains(named, line);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Equal("", run.Stdout);
        if (existing is null) Assert.False(File.Exists(output), "an output file was left behind");
        else Assert.Equal(existing, File.ReadAllBytes(output));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp", SearchOption.AllDirectories).Concat(Directory.GetFiles(_temp.Path, ".*")));
    }

    [Theory]
    [MemberData(nameof(MalformedFiles))]
    public void MalformedFile_IsRefusedCleanly(string name, byte[] bytes, string errorId)
    {
        string input = _temp.File(name + ".npy");
        File.WriteAllBytes(input, bytes);
        string output = _temp.File(name + ".out.npy");
        AssertRefused(CliRunner.Run(["quantize", input, .. Quantizer, "--output", output]), errorId, input, output, null);

        // With --force over an existing output, the refused run leaves it byte-identical.
        byte[] existing = Encoding.ASCII.GetBytes("existing output " + name);
        File.WriteAllBytes(output, existing);
        AssertRefused(CliRunner.Run(["quantize", input, .. Quantizer, "--output", output, "--force"]), errorId, input, output, existing);
        Assert.Equal(3, CliRunner.Run(["quantize", input, .. Quantizer, "--output", output, "--force"]).ExitCode);
    }

    public static TheoryData<string, string, string> InvalidQuantizerFiles() => new()
    {
        { "malformed", "{\"target\": \"weights\", \"method\": ", "QuantizerFileInvalid" },
        { "unknown-field", "{\"target\": \"weights\", \"method\": \"pot\", \"numBits\": 8, \"threshold\": [2], \"rounding\": \"up\"}", "QuantizerFieldUnknown" },
        { "wrong-type", "{\"target\": \"weights\", \"method\": \"pot\", \"numBits\": \"eight\", \"threshold\": [2]}", "QuantizerFieldInvalid" },
        { "bits-out-of-range", "{\"target\": \"weights\", \"method\": \"pot\", \"numBits\": 40, \"threshold\": [2]}", "NumBitsOutOfRange" },
        { "not-pot", "{\"target\": \"weights\", \"method\": \"pot\", \"numBits\": 8, \"threshold\": [3]}", "ThresholdNotPowerOfTwo" },
        { "min-not-below-max", "{\"target\": \"activation\", \"method\": \"uniform\", \"numBits\": 8, \"minRange\": [1], \"maxRange\": [-1]}", "RangeMinNotBelowMax" },
        { "per-channel-activation", "{\"target\": \"activation\", \"method\": \"pot\", \"numBits\": 8, \"threshold\": [2, 4], \"perChannel\": true}", "PerChannelActivationNotSupported" },
        { "channel-count", "{\"target\": \"weights\", \"method\": \"pot\", \"numBits\": 8, \"threshold\": [2, 4], \"perChannel\": true, \"channelAxis\": 0}", "ChannelCountMismatch" },
        { "axis-out-of-range", "{\"target\": \"weights\", \"method\": \"pot\", \"numBits\": 8, \"threshold\": [2, 4, 1], \"perChannel\": true, \"channelAxis\": 7}", "ChannelAxisOutOfRange" },
    };

    [Theory]
    [MemberData(nameof(InvalidQuantizerFiles))]
    public void InvalidQuantizerFile_IsRefusedCleanly(string name, string json, string errorId)
    {
        string input = Conformance.PyTorch.File("e_seed_example.input.npy"); // shape (1, 3, 3, 3)
        string quantizer = _temp.File(name + ".json");
        File.WriteAllText(quantizer, json);
        string output = _temp.File(name + ".out.npy");
        var run = CliRunner.Run("quantize", input, "--quantizer", quantizer, "--output", output);
        // Errors about the quantizer name the quantizer file, except the two that depend on the input's shape.
        string named = errorId is "ChannelCountMismatch" or "ChannelAxisOutOfRange" ? input : quantizer;
        AssertRefused(run, errorId, named, output, null);
    }

    public static TheoryData<string[], string, string> InvalidParameters() => new()
    {
        { new[] { "--method", "pot", "--bits", "0", "--threshold", "2" }, "NumBitsOutOfRange", "--num-bits" },
        { new[] { "--method", "pot", "--bits", "17", "--threshold", "2" }, "NumBitsOutOfRange", "--num-bits" },
        { new[] { "--method", "symmetric", "--threshold", "0" }, "ThresholdNotPositive", "--threshold" },
        { new[] { "--method", "symmetric", "--threshold", "-1.5" }, "ThresholdNotPositive", "--threshold" },
        { new[] { "--method", "symmetric", "--threshold", "NaN" }, "ThresholdNotFinite", "--threshold" },
        { new[] { "--method", "symmetric", "--threshold", "Infinity" }, "ThresholdNotFinite", "--threshold" },
        { new[] { "--method", "pot", "--threshold", "3" }, "ThresholdNotPowerOfTwo", "--threshold" },
        { new[] { "--method", "uniform", "--min", "2", "--max", "1" }, "RangeMinNotBelowMax", "--min-range" },
        { new[] { "--method", "pot", "--threshold", "2,4", "--per-channel", "--axis", "1" }, "ChannelCountMismatch", "e_seed_example" },
        { new[] { "--method", "pot", "--threshold", "2,4,1", "--per-channel", "--axis", "-5" }, "ChannelAxisOutOfRange", "e_seed_example" },
        { new[] { "--target", "activation", "--method", "pot", "--threshold", "2,4,1", "--per-channel" }, "PerChannelActivationNotSupported", "--per-channel" },
    };

    [Theory]
    [MemberData(nameof(InvalidParameters))]
    public void InvalidParameter_IsRefusedCleanly(string[] options, string errorId, string named)
    {
        string input = Conformance.PyTorch.File("e_seed_example.input.npy");
        string output = _temp.File("p.out.npy");
        var run = CliRunner.Run(["quantize", input, .. options, "--output", output]);
        AssertRefused(run, errorId, named, output, null);
        Assert.Equal(2, run.ExitCode);
    }

    [Fact]
    public void GoodAndBadFiles_GoodOnesAreWritten_ExitSaysSomethingFailed()
    {
        string good1 = _temp.File("a.npy"), good2 = _temp.File("c.npy"), bad = _temp.File("b.npy");
        new QuantShell.Core.Formats.NpyArray([2], new float[] { 0.5f, -1f }).Write(good1);
        new QuantShell.Core.Formats.NpyArray([2], new float[] { 1.5f, -0.25f }).Write(good2);
        File.WriteAllText(bad, "not an npy file");
        string outDir = _temp.File("out");
        var run = CliRunner.Run(["quantize", good1, bad, good2, .. Quantizer, "--output-dir", outDir]);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(run.StderrLines, l => l.Contains(bad) && l.EndsWith("[NpyMagicInvalid]"));
        Assert.True(File.Exists(Path.Combine(outDir, "a.npy")));
        Assert.True(File.Exists(Path.Combine(outDir, "c.npy")));
        Assert.False(File.Exists(Path.Combine(outDir, "b.npy")));
    }

    [Fact]
    public void RealExecutable_EveryMalformedFile_UnderOneGiBHeap()
    {
        // One process per file, as a pipeline would run it; the GC heap is capped at 1 GiB, so a header that made us
        // allocate what it claims would fail with an out-of-memory error (exit 70) instead of the documented one.
        foreach (var row in MalformedFiles())
        {
            string name = (string)row[0];
            string errorId = (string)row[2];
            string input = _temp.File("p-" + name + ".npy");
            File.WriteAllBytes(input, (byte[])row[1]);
            string output = _temp.File("p-" + name + ".out.npy");
            var run = RunWithHeapLimit(["quantize", input, .. Quantizer, "--output", output]);
            Assert.True(run.ExitCode == 3, $"{name}: {run}");
            AssertRefused(run, errorId, input, output, null);
        }
    }

    private static CliRun RunWithHeapLimit(string[] args) =>
        CliRunner.RunProcess("dotnet", [ToolPaths.ToolAssembly, .. args], TimeSpan.FromSeconds(60), null,
                             new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0x40000000" });
}
