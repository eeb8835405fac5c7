using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using QuantShell.TestSupport;

namespace QuantShell.Torch.Tests;

/// <summary>Every shared case through the Tensor path: .npy → Tensor → Quantize → .npy, bit for bit.</summary>
public sealed class TensorConformanceTests
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
    public void PyTorchCase_TensorPath_IsBitIdentical(string name) => Check(Conformance.PyTorch.Get(name));

    [Theory]
    [MemberData(nameof(MctCases))]
    public void MctCase_TensorPath_IsBitIdentical(string name) => Check(Conformance.Mct.Get(name));

    private static void Check(Conformance.Case c)
    {
        using var tensor = TensorConversion.ToTensor(NpyArray.Read(c.InputPath));
        using var quantized = InferableQuantizer.Create(c.Quantizer).Quantize(tensor);
        Conformance.AssertIdentical(NpyArray.Read(c.ExpectedPath), TensorConversion.ToNpyArray(quantized), c.ToString());
    }
}
