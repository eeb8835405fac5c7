using System.Text;

namespace QuantShell.Core.Quantization;

/// <summary>
/// The spellings of QuantShell's enum values: PascalCase in C# and PowerShell (<c>LutSymmetric</c>), camelCase in JSON
/// (<c>lutSymmetric</c>), kebab-case on the command line (<c>lut-symmetric</c>). Parsing accepts all three, in any case.
/// </summary>
public static class EnumNames
{
    /// <summary>Parses a name in any of the three spellings; numbers are refused. Null when it names no value.</summary>
    public static T? TryParse<T>(string? text) where T : struct, Enum
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        string key = Normalize(text);
        foreach (var value in Enum.GetValues<T>())
        {
            if (Normalize(value.ToString()) == key) return value;
        }
        return null;
    }

    /// <summary>camelCase, as the JSON files write it.</summary>
    public static string Json<T>(T value) where T : struct, Enum
    {
        string name = value.ToString();
        return char.ToLowerInvariant(name[0]) + name[1..];
    }

    /// <summary>kebab-case, as the command line writes it.</summary>
    public static string Kebab<T>(T value) where T : struct, Enum => Kebab(value.ToString());

    /// <summary><c>ChannelAxis</c> → <c>channel-axis</c>.</summary>
    public static string Kebab(string pascal)
    {
        var builder = new StringBuilder(pascal.Length + 4);
        for (int i = 0; i < pascal.Length; i++)
        {
            char c = pascal[i];
            if (char.IsUpper(c) && i > 0 && !char.IsUpper(pascal[i - 1])) builder.Append('-');
            builder.Append(char.ToLowerInvariant(c));
        }
        return builder.ToString();
    }

    /// <summary>Every value in the given spelling, for help texts and errors.</summary>
    public static IEnumerable<string> All<T>(Func<T, string> spelling) where T : struct, Enum => Enum.GetValues<T>().Select(spelling);

    private static string Normalize(string text) => text.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
}
