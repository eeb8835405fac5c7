using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>
/// "The output is the input" is decided by the files' identity, not their paths: a symbolic link to the input, a hard
/// link, the input through a linked folder or a bind mount are all refused, with or without Force, and the input is
/// left as it was. A symbolic link to another file is an existing output: replaced only with Force, and then the link
/// itself is replaced, never the file it points to.
/// </summary>
public sealed class OutputIdentityTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly InferableQuantizer _quantizer = new ActivationSymmetricInferableQuantizer(numBits: 8, threshold: 2.0);

    public OutputIdentityTests()
    {
        Directory.CreateDirectory(_temp.File("data"));
        new NpyArray([4], new[] { 0.1f, -0.7f, 1.99f, 0.5f }).Write(Input);
    }

    public void Dispose() => _temp.Dispose();

    private string Input => _temp.File("data/x.npy");

    public static TheoryData<string> LinkCases => new() { "symbolic link", "hard link", "linked folder", "dot-dot", "same path" };

    [Fact]
    public void LinkCases_AreAllListed() => Assert.Equal(5, LinkCases.Count);

    [Theory]
    [MemberData(nameof(LinkCases))]
    public void OutputReachingTheInput_IsRefused_EvenWithForce(string how)
    {
        string output = how switch
        {
            "symbolic link" => File.CreateSymbolicLink(_temp.File("link.npy"), Input).FullName,
            "hard link" => HardLink(Input, _temp.File("hard.npy")),
            "linked folder" => Path.Combine(Directory.CreateSymbolicLink(_temp.File("folder-link"), _temp.File("data")).FullName, "x.npy"),
            "dot-dot" => Path.Combine(Directory.CreateDirectory(_temp.File("data/sub")).FullName, "..", "x.npy"),
            "same path" => Input,
            _ => throw new ArgumentException(how),
        };
        byte[] before = File.ReadAllBytes(Input);
        foreach (bool force in new[] { false, true })
        {
            var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(Input, output, _quantizer, new FileQuantizeOptions { Force = force }));
            Assert.Equal(ErrorIds.OutputIsInput, ex.ErrorId);
            Assert.Contains("would replace the input file", ex.Message);
        }
        Assert.Equal(before, File.ReadAllBytes(Input));
        Assert.Empty(Directory.GetFiles(_temp.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [SkippableFact]
    public void InputThroughABindMount_IsRefused()
    {
        using var bind = ScratchMount.Bind(_temp.File("data"), _temp.File("bound"));
        string output = Path.Combine(bind.Path, "x.npy");
        Assert.NotEqual(Path.GetFullPath(Input), Path.GetFullPath(output));
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(Input, output, _quantizer, new FileQuantizeOptions { Force = true }));
        Assert.Equal(ErrorIds.OutputIsInput, ex.ErrorId);
        Assert.Contains("another path", ex.Message);
    }

    [Fact]
    public void SymbolicLinkToAnotherFile_IsReplacedOnlyWithForce_AndThenTheLinkItself()
    {
        string other = _temp.File("other.bin");
        byte[] otherBytes = [1, 2, 3, 4, 5];
        File.WriteAllBytes(other, otherBytes);
        string output = _temp.File("out.npy");
        File.CreateSymbolicLink(output, other);

        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(Input, output, _quantizer));
        Assert.Equal(ErrorIds.OutputExists, ex.ErrorId);
        Assert.Contains("symbolic link", ex.Message);
        Assert.NotNull(new FileInfo(output).LinkTarget);

        NpyQuantizer.QuantizeFile(Input, output, _quantizer, new FileQuantizeOptions { Force = true });
        Assert.Null(new FileInfo(output).LinkTarget);                // the link is now a file of its own
        Assert.Equal(4, NpyArray.Read(output).Data.Length);
        Assert.Equal(otherBytes, File.ReadAllBytes(other));          // what it pointed to is untouched
    }

    [Fact]
    public void DanglingSymbolicLink_IsAnExistingOutput()
    {
        string output = _temp.File("out.npy");
        File.CreateSymbolicLink(output, _temp.File("nowhere.npy"));
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(Input, output, _quantizer));
        Assert.Equal(ErrorIds.OutputExists, ex.ErrorId);
        NpyQuantizer.QuantizeFile(Input, output, _quantizer, new FileQuantizeOptions { Force = true });
        Assert.Null(new FileInfo(output).LinkTarget);
        Assert.False(File.Exists(_temp.File("nowhere.npy")));
    }

    [Fact]
    public void OutputUnderAFile_IsOutputDirectoryIsFile()
    {
        var ex = Assert.Throws<QuantShellException>(() => NpyQuantizer.QuantizeFile(Input, Path.Combine(Input, "sub", "out.npy"), _quantizer));
        Assert.Equal(ErrorIds.OutputDirectoryIsFile, ex.ErrorId);
        Assert.Contains(Input, ex.Message);
    }

    private static string HardLink(string existing, string link)
    {
        var (code, output) = Shell.Run("ln", existing, link);
        Assert.True(code == 0, output);
        return link;
    }
}
