using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.Quantization;
using Xunit;

namespace QuantShell.TestSupport;

/// <summary>
/// The shared reference cases: <c>conformance/</c> (PyTorch's kernels) and <c>conformance-mct/</c> (MCT's own nine classes).
/// Every suite (xunit and Pester) finds them the same way: <c>$QUANTSHELL_SHARED</c>, else <c>../shared</c> beside the
/// repository. A missing or short folder fails loudly rather than running no cases.
/// </summary>
public static class Conformance
{
    /// <summary>The environment variable that points every suite at another shared folder.</summary>
    public const string SharedVariable = "QUANTSHELL_SHARED";

    public static string SharedDirectory { get; } = FindShared();

    /// <summary>PyTorch's fake-quantize kernels on the six grid quantizers.</summary>
    public static Suite PyTorch { get; } = new("conformance", 62);

    /// <summary>MCT's nine classes, LUT ones included.</summary>
    public static Suite Mct { get; } = new("conformance-mct", 96);

    public sealed record Case(string Suite, string Name, QuantizerSpec Quantizer, string QuantizerJson, string InputPath, string ExpectedPath)
    {
        public override string ToString() => $"{Suite}/{Name}";
    }

    public sealed class Suite
    {
        private readonly Lazy<IReadOnlyList<Case>> _cases;

        internal Suite(string folder, int minimumCases)
        {
            Folder = folder;
            MinimumCases = minimumCases;
            _cases = new Lazy<IReadOnlyList<Case>>(Load);
        }

        public string Folder { get; }
        public string Directory => Path.Combine(SharedDirectory, Folder);

        /// <summary>The number of cases the suite must hold; fewer means the folder is wrong or damaged.</summary>
        public int MinimumCases { get; }

        public IReadOnlyList<Case> Cases => _cases.Value;

        public Case Get(string name) => Cases.Single(c => c.Name == name);

        /// <summary>A file of the suite's folder.</summary>
        public string File(string name) => Path.Combine(Directory, name);

        /// <summary>Case names for a theory, optionally only those of some methods.</summary>
        public TheoryData<string> Names(Func<Case, bool>? where = null)
        {
            var data = new TheoryData<string>();
            foreach (var c in Cases.Where(where ?? (_ => true))) data.Add(c.Name);
            return data;
        }

        private IReadOnlyList<Case> Load()
        {
            string file = Path.Combine(Directory, "cases.json");
            if (!System.IO.File.Exists(file))
                throw new InvalidOperationException($"{file} is missing: the shared conformance cases are needed (set {SharedVariable} to the shared folder).");
            using var document = JsonDocument.Parse(System.IO.File.ReadAllText(file));
            var cases = document.RootElement.EnumerateArray().Select(element => new Case(
                Folder,
                element.GetProperty("name").GetString()!,
                QuantizerFile.FromElement(element.GetProperty("quantizer"), file),
                element.GetProperty("quantizer").GetRawText(),
                Path.Combine(Directory, element.GetProperty("input").GetString()!),
                Path.Combine(Directory, element.GetProperty("expected").GetString()!))).ToList();
            if (cases.Count < MinimumCases)
                throw new InvalidOperationException($"{file} lists {cases.Count} cases; at least {MinimumCases} are expected.");
            foreach (var c in cases)
            {
                if (!System.IO.File.Exists(c.InputPath) || !System.IO.File.Exists(c.ExpectedPath))
                    throw new InvalidOperationException($"{file}: case {c.Name} names a missing file.");
            }
            return cases;
        }
    }

    private static string FindShared()
    {
        string? env = Environment.GetEnvironmentVariable(SharedVariable);
        if (!string.IsNullOrEmpty(env)) return Path.GetFullPath(env);
        return Path.GetFullPath(Path.Combine(TestPaths.RepositoryRoot, "..", "shared"));
    }

    /// <summary>Asserts same shape, same float dtype and bit-identical values (NaN payloads included).</summary>
    public static void AssertIdentical(NpyArray expected, NpyArray actual, string name)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.DType.Name, actual.DType.Name);
        var e = Bits(expected.Data);
        var a = Bits(actual.Data);
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
        {
            if (e[i] != a[i])
                Assert.Fail($"{name}: element {i} differs: expected {expected.Data.GetValue(i)} (0x{e[i]:X}) got {actual.Data.GetValue(i)} (0x{a[i]:X})");
        }
    }

    /// <summary>The same for two .npy files.</summary>
    public static void AssertIdentical(string expectedPath, string actualPath) =>
        AssertIdentical(NpyArray.Read(expectedPath), NpyArray.Read(actualPath), actualPath);

    private static long[] Bits(Array data) => data switch
    {
        Half[] h => h.Select(x => (long)BitConverter.HalfToUInt16Bits(x)).ToArray(),
        float[] f => f.Select(x => (long)BitConverter.SingleToUInt32Bits(x)).ToArray(),
        double[] d => d.Select(BitConverter.DoubleToInt64Bits).ToArray(),
        _ => throw new ArgumentException(data.GetType().Name),
    };
}
