using QuantShell.Core.IO;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

public sealed class ConformanceTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("quantshell-conformance-").FullName;

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    [Fact]
    public void Conformance_AllCasesAreLoaded() => Assert.True(Conformance.Cases.Count >= 62, $"only {Conformance.Cases.Count} cases");

    [Theory]
    [MemberData(nameof(Conformance.CaseNames), MemberType = typeof(Conformance))]
    public void FilePath_MatchesPyTorch(string name)
    {
        var c = Conformance.Get(name);
        string output = Path.Combine(_temp, name + ".npy");
        FileQuantizer.QuantizeFile(c.InputPath, output, InferableQuantizer.Create(c.Quantizer));
        Conformance.AssertIdentical(NpyArray.Read(c.ExpectedPath), NpyArray.Read(output), name);
    }

    [Theory]
    [MemberData(nameof(Conformance.CaseNames), MemberType = typeof(Conformance))]
    public void FilePath_SmallChunks_MatchesPyTorch(string name)
    {
        // 24-byte chunks cross channel boundaries and vector widths at every offset.
        var c = Conformance.Get(name);
        string output = Path.Combine(_temp, name + ".chunked.npy");
        FileQuantizer.QuantizeFile(c.InputPath, output, InferableQuantizer.Create(c.Quantizer), new FileQuantizeOptions { ChunkBytes = 24 });
        Conformance.AssertIdentical(NpyArray.Read(c.ExpectedPath), NpyArray.Read(output), name);
    }

    [Theory]
    [MemberData(nameof(Conformance.CaseNames), MemberType = typeof(Conformance))]
    public void TensorPath_MatchesPyTorch(string name)
    {
        var c = Conformance.Get(name);
        var input = NpyArray.Read(c.InputPath);
        using var tensor = TensorConversion.ToTensor(input);
        using var quantized = InferableQuantizer.Create(c.Quantizer).Quantize(tensor);
        Conformance.AssertIdentical(NpyArray.Read(c.ExpectedPath), TensorConversion.ToNpyArray(quantized), name);
    }
}
