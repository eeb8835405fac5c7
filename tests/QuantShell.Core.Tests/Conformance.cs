using System.Text.Json;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Tests;

/// <summary>The shipped PyTorch reference cases in ../shared/conformance (relative to the repository root).</summary>
public static class Conformance
{
    public static string Directory { get; } = FindDirectory();

    public sealed record Case(string Name, QuantizerSpec Quantizer, string InputPath, string ExpectedPath)
    {
        public override string ToString() => Name;
    }

    public static IReadOnlyList<Case> Cases { get; } = LoadCases();

    public static IEnumerable<object[]> CaseNames() => Cases.Select(c => new object[] { c.Name });

    public static Case Get(string name) => Cases.Single(c => c.Name == name);

    private static IReadOnlyList<Case> LoadCases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "cases.json")));
        return document.RootElement.EnumerateArray().Select(element => new Case(
            element.GetProperty("name").GetString()!,
            QuantizerFile.FromElement(element.GetProperty("quantizer"), "cases.json"),
            Path.Combine(Directory, element.GetProperty("input").GetString()!),
            Path.Combine(Directory, element.GetProperty("expected").GetString()!))).ToList();
    }

    private static string FindDirectory()
    {
        string? env = Environment.GetEnvironmentVariable("QUANTSHELL_CONFORMANCE");
        if (!string.IsNullOrEmpty(env)) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "QuantShell.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "conformance"));
        }
        throw new InvalidOperationException("Cannot find the repository root (QuantShell.sln) above " + AppContext.BaseDirectory);
    }

    /// <summary>Asserts same shape, same float dtype and bit-identical values (NaN payloads aside).</summary>
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
                Assert.Fail($"{name}: element {i} differs: expected {Value(expected.Data, i)} got {Value(actual.Data, i)}");
        }
    }

    private static long[] Bits(Array data) => data switch
    {
        Half[] h => h.Select(x => (long)BitConverter.HalfToUInt16Bits(x)).ToArray(),
        float[] f => f.Select(x => (long)BitConverter.SingleToInt32Bits(x)).ToArray(),
        double[] d => d.Select(BitConverter.DoubleToInt64Bits).ToArray(),
        _ => throw new ArgumentException(data.GetType().Name),
    };

    private static string Value(Array data, int i) => Convert.ToString(data.GetValue(i), System.Globalization.CultureInfo.InvariantCulture) ?? "";
}
