namespace QuantShell.Cli.Tests;

/// <summary>
/// Outputs and links through the command line: an output that is the input by another path (symbolic link, hard link,
/// linked folder, '..', bind mount) is refused as OutputIsInput (exit 2) even with --force; a symbolic link to another
/// file is an existing output (exit 4 without --force) and with --force the link is replaced, never its target;
/// --output-directory through a linked folder writes into the folder it points to.
/// </summary>
public sealed class LinkTests : IDisposable
{
    private static readonly string[] Quantizer = ["--method", "symmetric", "--threshold", "1"];
    private readonly TempDirectory _temp = new();
    private readonly string _input;

    public LinkTests()
    {
        Directory.CreateDirectory(_temp.File("data/sub"));
        _input = _temp.File("data/x.npy");
        File.Copy(Conformance.PyTorch.File("e_seed_example.input.npy"), _input);
    }

    public void Dispose() => _temp.Dispose();

    public static TheoryData<string> Cases => new() { "symbolic link", "hard link", "linked folder", "dot-dot" };

    [Fact]
    public void Cases_AreAllListed() => Assert.Equal(4, Cases.Count);

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputThatIsTheInput_IsRefused_Exit2(string how)
    {
        string output = how switch
        {
            "symbolic link" => File.CreateSymbolicLink(_temp.File("link.npy"), _input).FullName,
            "hard link" => HardLink(_input, _temp.File("hard.npy")),
            "linked folder" => Path.Combine(Directory.CreateSymbolicLink(_temp.File("folder"), _temp.File("data")).FullName, "x.npy"),
            "dot-dot" => _temp.Path + "/data/sub/../x.npy",
            _ => throw new ArgumentException(how),
        };
        byte[] before = File.ReadAllBytes(_input);
        var run = CliRunner.Run(["quantize", _input, .. Quantizer, "--output-path", output, "--force"]);
        Assert.True(run.Code == ExitCode.InvalidArguments, run.ToString());
        Assert.Contains("would replace the input file", run.Stderr);
        Assert.EndsWith("[OutputIsInput]", Assert.Single(run.StderrLines));
        Assert.Equal(before, File.ReadAllBytes(_input));
    }

    [SkippableFact]
    public void OutputThroughABindMountOfTheInputsFolder_IsRefused()
    {
        using var bind = ScratchMount.Bind(_temp.File("data"), _temp.File("bound"));
        var run = CliRunner.Run(["quantize", _input, .. Quantizer, "--output-directory", bind.Path, "--force"]);
        Assert.True(run.Code == ExitCode.InvalidArguments, run.ToString());
        Assert.Contains("[OutputIsInput]", run.Stderr);
    }

    [Fact]
    public void SymbolicLinkToAnotherFile_NeedsForce_ThenTheLinkIsReplacedNotItsTarget()
    {
        string target = _temp.File("precious.npy");
        byte[] precious = [7, 7, 7];
        File.WriteAllBytes(target, precious);
        string output = File.CreateSymbolicLink(_temp.File("out.npy"), target).FullName;

        var run = CliRunner.Run(["quantize", _input, .. Quantizer, "--output-path", output]);
        Assert.True(run.Code == ExitCode.IOError, run.ToString());
        Assert.Contains("is a symbolic link", run.Stderr);
        Assert.Contains("[OutputExists]", run.Stderr);

        run = CliRunner.Run(["quantize", _input, .. Quantizer, "--output-path", output, "--force"]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Null(new FileInfo(output).LinkTarget);
        Assert.Equal(precious, File.ReadAllBytes(target));
        Assert.True(new FileInfo(output).Length > 128);
    }

    [Fact]
    public void OutputDirectory_InALinkedFolder_WritesIntoTheFolderItPointsTo()
    {
        Directory.CreateDirectory(_temp.File("real"));
        string linked = Directory.CreateSymbolicLink(_temp.File("linked"), _temp.File("real")).FullName;
        var run = CliRunner.Run(["quantize", _input, .. Quantizer, "--output-directory", linked]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.True(File.Exists(_temp.File("real/x.npy")));
        // A folder to create under the link is created in the real folder.
        run = CliRunner.Run(["quantize", _input, .. Quantizer, "--output-directory", Path.Combine(linked, "new", "deeper")]);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.True(File.Exists(_temp.File("real/new/deeper/x.npy")));
        Assert.NotNull(new DirectoryInfo(linked).LinkTarget);
    }

    private static string HardLink(string existing, string link)
    {
        var (code, output) = Shell.Run("ln", existing, link);
        Assert.True(code == 0, output);
        return link;
    }
}
