using QuantShell.Core.Formats;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>Every shared case through the file path (whole chunks and tiny ones) and through a quantize job.</summary>
public sealed class ConformanceTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

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
    public void PyTorchCase_FilePath_IsBitIdentical(string name) => CheckFile(Conformance.PyTorch.Get(name), chunkBytes: 1 << 20);

    [Theory]
    [MemberData(nameof(PyTorchCases))]
    public void PyTorchCase_FilePathInTinyChunks_IsBitIdentical(string name) => CheckFile(Conformance.PyTorch.Get(name), chunkBytes: 24);

    [Theory]
    [MemberData(nameof(MctCases))]
    public void MctCase_FilePath_IsBitIdentical(string name) => CheckFile(Conformance.Mct.Get(name), chunkBytes: 1 << 20);

    [Theory]
    [MemberData(nameof(MctCases))]
    public void MctCase_FilePathInTinyChunks_IsBitIdentical(string name) => CheckFile(Conformance.Mct.Get(name), chunkBytes: 24);

    [Theory]
    [MemberData(nameof(MctCases))]
    public void MctCase_InMemoryPath_IsBitIdentical(string name)
    {
        // The path of values chosen from data: the array read once, then quantized from memory.
        var c = Conformance.Mct.Get(name);
        string output = _temp.File(name + ".memory.npy");
        using (var stream = File.Create(output))
            NpyQuantizer.QuantizeArray(NpyArray.Read(c.InputPath), c.InputPath, stream, output, InferableQuantizer.Create(c.Quantizer));
        Conformance.AssertIdentical(c.ExpectedPath, output);
    }

    // 24-byte chunks cross channel boundaries and vector widths at every offset.
    private void CheckFile(Conformance.Case c, int chunkBytes)
    {
        string output = _temp.File($"{c.Name}.{chunkBytes}.npy");
        NpyQuantizer.QuantizeFile(c.InputPath, output, InferableQuantizer.Create(c.Quantizer), new FileQuantizeOptions { ChunkBytes = chunkBytes });
        Conformance.AssertIdentical(c.ExpectedPath, output);
    }
}
