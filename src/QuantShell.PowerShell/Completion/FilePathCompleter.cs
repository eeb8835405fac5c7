using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace QuantShell.PowerShell.Completion;

/// <summary>
/// Tab completion of a path parameter: the folders (to walk into) and the files whose names end with one of
/// <see cref="Extensions"/>, so that <c>Invoke-Quantize -Path</c> offers <c>conv1.npy</c> and not <c>notes.txt</c>.
/// PowerShell's own file-name completion does the work (relative and rooted paths, <c>~</c>, quoting of names with
/// spaces, the provider's current location); this only filters what it finds.
/// </summary>
public abstract class FilePathCompleter : IArgumentCompleter
{
    /// <summary>File name endings to offer (case-insensitive); empty means folders only.</summary>
    protected abstract IReadOnlyList<string> Extensions { get; }

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
                                                          CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        foreach (var result in CompletionCompleters.CompleteFilename(wordToComplete ?? ""))
        {
            if (result.ResultType == CompletionResultType.ProviderContainer)
            {
                yield return result;
            }
            else if (result.ResultType == CompletionResultType.ProviderItem && HasExtension(Unquoted(result.CompletionText)))
            {
                yield return result;
            }
        }
    }

    private bool HasExtension(string path) => Extensions.Any(extension => path.EndsWith(extension, StringComparison.OrdinalIgnoreCase));

    // A name with spaces comes back quoted ('my file.npy'); its extension is inside the quotes.
    private static string Unquoted(string text) => text.Length >= 2 && text[0] is '\'' or '"' && text[^1] == text[0] ? text[1..^1] : text;
}
