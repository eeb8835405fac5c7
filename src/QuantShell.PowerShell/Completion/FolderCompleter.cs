namespace QuantShell.PowerShell.Completion;

/// <summary>Completes folders only (-OutputDirectory).</summary>
public sealed class FolderCompleter : FilePathCompleter
{
    protected override IReadOnlyList<string> Extensions => [];
}
