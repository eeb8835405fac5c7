using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>
/// Every id of <see cref="ErrorIds"/> is raised by the code and produced by a test: the test sources (xunit and Pester)
/// name it where they check an error. A new id without a test fails here. The few ids below that no test can produce
/// on this machine are listed with the reason.
/// </summary>
public sealed partial class ErrorIdCoverageTests
{
    /// <summary>Ids only a broken environment gives; a test would have to break the machine it runs on.</summary>
    private static readonly Dictionary<string, string> NotProducible = new()
    {
        [ErrorIds.PlotFontMissing] = "needs a system without any font (SkiaSharp reads /usr/share/fonts)",
        [ErrorIds.PlotRendererUnavailable] = "needs a platform where SkiaSharp's native library cannot load",
        [ErrorIds.OnnxRuntimeRunFailed] = "needs a model ONNX Runtime loads but then fails to run; its kernels validate at load what our fixtures could break",
        [ErrorIds.TensorTooLarge] = "needs a tensor of more than Array.MaxLength elements read whole (8 GiB of memory): a sparse file that size is quantized by streaming",
    };

    private static IReadOnlyList<string> Ids() =>
        typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToList();

    private static IEnumerable<string> Sources(string folder, params string[] patterns) =>
        patterns.SelectMany(pattern => Directory.EnumerateFiles(Path.Combine(TestPaths.RepositoryRoot, folder), pattern, SearchOption.AllDirectories))
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    [Fact]
    public void EveryId_IsItsOwnName()
    {
        var ids = Ids();
        Assert.True(ids.Count > 100, $"only {ids.Count} ids");
        Assert.Equal(ids.Count, ids.Distinct().Count());
        foreach (var field in typeof(ErrorIds).GetFields(BindingFlags.Public | BindingFlags.Static))
            Assert.Equal(field.Name, field.GetRawConstantValue());
    }

    [Fact]
    public void EveryId_IsRaisedBySomeCode()
    {
        string code = string.Join("\n", Sources("src", "*.cs").Where(path => !path.EndsWith("ErrorIds.cs", StringComparison.Ordinal)).Select(File.ReadAllText));
        var unused = Ids().Where(id => !code.Contains($"ErrorIds.{id}", StringComparison.Ordinal)).ToList();
        Assert.True(unused.Count == 0, $"ids no code raises (remove them): {string.Join(", ", unused)}");
    }

    [Fact]
    public void EveryId_IsProducedByATest()
    {
        var tests = Sources("tests", "*.cs", "*.ps1").ToList();
        Assert.True(tests.Count > 50, $"only {tests.Count} test files");
        var text = new StringBuilder();
        foreach (string path in tests) text.AppendLine(File.ReadAllText(path));
        string all = text.ToString();
        // As the tests check an id: ErrorIds.X, "X", 'X', [X] (a command line's error line), 'X*' and "X,..." (Pester's ErrorId).
        var missing = Ids().Where(id => !NotProducible.ContainsKey(id)
            && !Regex.IsMatch(all, $@"(ErrorIds\.{id}\b|[""'\[]{id}[""'\]*,])")).ToList();
        Assert.True(missing.Count == 0, $"ids no test produces (add one): {string.Join(", ", missing)}");
        Assert.All(NotProducible.Keys, id => Assert.Contains(id, Ids()));
    }

    [Fact]
    public void DocsErrorsPage_ListsEveryIdOnce_AndNoOther()
    {
        string page = File.ReadAllText(Path.Combine(TestPaths.RepositoryRoot, "docs", "errors.md"));
        var listed = IdRow().Matches(page).Select(match => match.Groups[1].Value).ToList();
        Assert.Equal(listed.Count, listed.Distinct().Count());
        Assert.Equal(Ids().Order(), listed.Order());
    }

    [GeneratedRegex(@"^\| `(\w+)` \| \S", RegexOptions.Multiline)]
    private static partial Regex IdRow();

    [Fact]
    public void TargetOutOfRange_IsTargetInvalid()
    {
        var spec = new QuantizerSpec { Target = (QuantizationTarget)7, Method = QuantizationMethod.Pot, NumBits = 8 };
        var error = Assert.Throws<QuantizerValidationException>(spec.Validate);
        Assert.Equal(ErrorIds.TargetInvalid, error.ErrorId);
        Assert.Equal("Target must be Weights or Activation but is 7.", error.Message);
        Assert.Equal("Target", error.ParameterName);
    }

    [Fact]
    public void LutQuantizer_OfAnotherRank_IsInputRankMismatch()
    {
        var spec = new QuantizerSpec
        {
            Target = QuantizationTarget.Weights, Method = QuantizationMethod.LutPot, NumBits = 2, Threshold = [1], LutValues = [-2, 0, 1, 3], InputRank = 2,
        };
        var error = Assert.Throws<QuantizerValidationException>(() => spec.ResolveChannels([2, 3, 4], 1));
        Assert.Equal(ErrorIds.InputRankMismatch, error.ErrorId);
        Assert.Contains("InputRank is 2 but the tensor has rank 3", error.Message);
    }
}
