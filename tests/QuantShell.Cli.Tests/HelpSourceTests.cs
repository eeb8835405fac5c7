using System.CommandLine;
using System.Text.RegularExpressions;

namespace QuantShell.Cli.Tests;

/// <summary>
/// The command line's help cannot drift from the cmdlets' help sources (docs/cmdlets/&lt;Cmdlet&gt;.md): every option has a
/// description, and an option that is a cmdlet parameter under another spelling (<c>--channel-axis</c> /
/// <c>-ChannelAxis</c>) starts its description with that parameter's first sentence in the markdown, its parameter
/// names spelled as options. The markdown is the one source; the C# strings follow it and add what only the command
/// line has (comma-separated lists, '-' for stdin, defaults from the core's constants). The README and the pages of
/// docs/ name only options that exist.
/// </summary>
public sealed partial class HelpSourceTests
{
    private static readonly string SourceFolder = Path.Combine(TestPaths.RepositoryRoot, "docs", "cmdlets");

    /// <summary>Which cmdlet each command is the command-line form of.</summary>
    private static readonly Dictionary<string, string> CmdletOf = new()
    {
        ["quantize"] = "Invoke-Quantize",
        ["measure"] = "Measure-Quantization",
        ["new"] = "New-InferableQuantizer",
        ["inspect"] = "Get-QuantTensor",
        ["dequantize"] = "Invoke-Dequantize",
        ["lower"] = "ConvertTo-StandardOnnx",
        ["calibrate"] = "Invoke-Calibrate",
        ["compare"] = "Compare-OnnxModel",
    };

    /// <summary>The cmdlet parameter of each command-line argument: the input files are -Path, compare's two models have their own.</summary>
    private static readonly Dictionary<string, string> ParameterOfArgument = new()
    {
        ["reference"] = "ReferencePath",
        ["candidate"] = "CandidatePath",
    };

    /// <summary>Options only the command line has (PowerShell has pipeline objects, -Signed:$false and -Verbose instead).</summary>
    private static readonly HashSet<string> CommandLineOnly = ["--json", "--unsigned", "--help", "--version"];

    /// <summary>
    /// Options of a command whose cmdlet has no such parameter: 'new' writes the quantizer file itself, where
    /// New-InferableQuantizer returns an object for Export-InferableQuantizer to write.
    /// </summary>
    // quantize, dequantize and inspect --verbose: PowerShell's common -Verbose (and Invoke-Dequantize and Get-QuantTensor write an object per tensor anyway).
    private static readonly HashSet<string> CommandLineOnlyIn = ["new --output-path", "new --force", "new --fsync", "quantize --verbose", "dequantize --verbose", "inspect --verbose"];

    private static readonly RootCommand Root = Cli.CommandTree;

    [Fact]
    public void EveryCommandHasAHelpSourceExceptSchema()
    {
        var commands = Root.Subcommands.Select(command => command.Name).Order().ToArray();
        Assert.Equal(["calibrate", "compare", "dequantize", "inspect", "lower", "measure", "new", "quantize", "schema"], commands);
        foreach (string cmdlet in CmdletOf.Values) Assert.True(File.Exists(Path.Combine(SourceFolder, cmdlet + ".md")), cmdlet);
    }

    [Fact]
    public void EveryOptionAndArgumentHasADescription()
    {
        int count = 0;
        foreach (var command in Root.Subcommands)
        {
            Assert.False(string.IsNullOrWhiteSpace(command.Description), command.Name);
            foreach (Symbol symbol in command.Options.Cast<Symbol>().Concat(command.Arguments))
            {
                count++;
                Assert.False(string.IsNullOrWhiteSpace(symbol.Description), $"{command.Name} {symbol.Name} has no description");
            }
        }
        Assert.True(count > 60, $"only {count} options and arguments");
    }

    [Fact]
    public void OptionDescriptionsStartWithTheCmdletParametersFirstSentence()
    {
        var problems = new List<string>();
        int compared = 0;
        foreach (var command in Root.Subcommands.Where(command => CmdletOf.ContainsKey(command.Name)))
        {
            var parameters = ParameterFirstSentences(CmdletOf[command.Name]);
            foreach (Symbol symbol in command.Options.Cast<Symbol>().Concat(command.Arguments))
            {
                if (CommandLineOnly.Contains(symbol.Name) || CommandLineOnlyIn.Contains($"{command.Name} {symbol.Name}")) continue;
                // The input files are -Path; an option is the parameter of the same name in PascalCase.
                string parameter = symbol is Argument ? ParameterOfArgument.GetValueOrDefault(symbol.Name, "Path") : Pascal(symbol.Name);
                if (!parameters.TryGetValue(parameter, out string? sentence))
                {
                    problems.Add($"{command.Name} {symbol.Name}: {CmdletOf[command.Name]}.md has no section '### -{parameter}' (or add it to the command-line-only options)");
                    continue;
                }
                compared++;
                string expected = AsOptions(sentence);
                if (!(symbol.Description ?? "").StartsWith(expected, StringComparison.Ordinal))
                    problems.Add($"{command.Name} {symbol.Name}: the description must start with \"{expected}\" (from {CmdletOf[command.Name]}.md -{parameter}) but is \"{symbol.Description}\"");
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.True(compared > 50, $"only {compared} options compared");
    }

    [Fact]
    public void TheComparisonSeesADifference()
    {
        Assert.Equal("One per channel with --per-channel, on --channel-axis.", AsOptions("One per channel with -PerChannel, on -ChannelAxis."));
        Assert.Equal("With --error-method no-clipping.", AsOptions("With -ErrorMethod NoClipping."));
        Assert.Equal("ChannelAxis", Pascal("--channel-axis"));
        Assert.Equal("The values.", FirstSentence("The values. More text, e.g. this."));
        Assert.Equal("Default 1e-8 (as MCT).", FirstSentence("Default 1e-8 (as MCT). More."));
    }

    [Fact]
    public void TheReadmeAndDocsNameOnlyOptionsThatExist()
    {
        // The README and the reference pages of docs/ (not docs/cmdlets, which the tests above read).
        var pages = Directory.GetFiles(Path.Combine(TestPaths.RepositoryRoot, "docs"), "*.md").Order(StringComparer.Ordinal)
                             .Prepend(Path.Combine(TestPaths.RepositoryRoot, "README.md")).ToArray();
        Assert.True(pages.Length >= 10, $"only {pages.Length} pages");
        var problems = new List<string>();
        int checkedOptions = 0, readmeOptions = 0;
        foreach (string page in pages)
        {
            string name = Path.GetRelativePath(TestPaths.RepositoryRoot, page);
            foreach (Match block in CodeBlock().Matches(File.ReadAllText(page)))
            {
                foreach (string line in block.Groups[1].Value.Split('\n'))
                {
                    var invocation = ToolInvocation().Match(line);
                    if (!invocation.Success) continue;
                    string commandLine = line[(invocation.Index + invocation.Length)..];
                    // A comment or a pipe ends what the tool is given.
                    commandLine = commandLine.Split('#', '|', '>')[0];
                    string[] words = commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var command = words.Length > 0 ? Root.Subcommands.FirstOrDefault(c => c.Name == words[0]) : null;
                    var known = (command?.Options ?? Root.Options).Concat(Root.Options)
                        .SelectMany(option => option.Aliases.Prepend(option.Name)).ToHashSet(StringComparer.Ordinal);
                    foreach (string word in words.Where(word => word.StartsWith("--", StringComparison.Ordinal) && word.Length > 2))
                    {
                        checkedOptions++;
                        if (name == "README.md") readmeOptions++;
                        string option = word.Split('=')[0];
                        if (!known.Contains(option)) problems.Add($"{name}: '{line.Trim()}': {(command is null ? "dotnet-quant" : command.Name)} has no option {option}");
                    }
                }
            }
        }
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        Assert.True(readmeOptions > 40, $"only {readmeOptions} options found in the README's dotnet quant lines");
        Assert.True(checkedOptions > 70, $"only {checkedOptions} options found in the dotnet quant lines of the README and docs/");
    }

    /// <summary>The first sentence of each parameter section of a cmdlet's markdown, by parameter name.</summary>
    private static Dictionary<string, string> ParameterFirstSentences(string cmdlet)
    {
        var sentences = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] lines = File.ReadAllLines(Path.Combine(SourceFolder, cmdlet + ".md"));
        bool inParameters = false;
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].StartsWith("## ", StringComparison.Ordinal)) inParameters = lines[i] == "## PARAMETERS";
            if (!inParameters || !lines[i].StartsWith("### -", StringComparison.Ordinal)) continue;
            string name = lines[i][5..].Trim();
            // The first paragraph: the lines after the heading up to a blank line (soft breaks joined by a space).
            var paragraph = lines.Skip(i + 1).SkipWhile(string.IsNullOrWhiteSpace).TakeWhile(line => !string.IsNullOrWhiteSpace(line)).Select(line => line.Trim());
            sentences[name] = FirstSentence(string.Join(' ', paragraph).Replace("`", "", StringComparison.Ordinal));
        }
        return sentences;
    }

    /// <summary>As build/CmdletHelp.psm1's Get-FirstSentence: up to the first period followed by white space or the end.</summary>
    private static string FirstSentence(string paragraph)
    {
        var match = FirstSentencePattern().Match(paragraph);
        return match.Success ? match.Value : paragraph;
    }

    // "-ErrorMethod Lp" → "--error-method lp": a capitalized word right after a parameter is its value.
    private static string AsOptions(string text) =>
        ParameterName().Replace(text, match => "--" + Kebab(match.Groups[1].Value) + (match.Groups[2].Success ? " " + Kebab(match.Groups[2].Value) : ""));

    private static string Kebab(string pascal) => string.Concat(pascal.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString()));

    private static string Pascal(string option) =>
        string.Concat(option.TrimStart('-').Split('-').Select(part => char.ToUpperInvariant(part[0]) + part[1..]));

    [GeneratedRegex(@"^.*?\.(?=\s|$)")]
    private static partial Regex FirstSentencePattern();

    [GeneratedRegex(@"(?<![\w-])-([A-Z][A-Za-z]+)(?: ([A-Z][A-Za-z]+)\b)?")]
    private static partial Regex ParameterName();

    [GeneratedRegex(@"(?ms)^```[a-z]*\r?\n(.*?)^```")]
    private static partial Regex CodeBlock();

    [GeneratedRegex(@"(?<![\w-])dotnet(?: |-)quant\b")]
    private static partial Regex ToolInvocation();
}
