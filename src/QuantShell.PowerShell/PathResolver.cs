using System.Collections.ObjectModel;
using System.Management.Automation;
using QuantShell.Core.Errors;

namespace QuantShell.PowerShell;

/// <summary>Resolves -Path (wildcards) and -LiteralPath arguments to file-system paths, refusing other providers.</summary>
internal static class PathResolver
{
    private const string FileSystemProviderName = "FileSystem";

    /// <summary>Expands a -Path argument; a wildcard matching nothing or a missing path is an error record.</summary>
    public static IReadOnlyList<string> ResolveWildcard(PSCmdlet cmdlet, string path, out ErrorRecord? error)
    {
        error = null;
        Collection<string> resolved;
        ProviderInfo provider;
        try
        {
            resolved = cmdlet.GetResolvedProviderPathFromPSPath(path, out provider);
        }
        catch (ItemNotFoundException)
        {
            error = NotFound(path);
            return [];
        }
        catch (Exception ex) when (ex is ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or PSArgumentException or NotSupportedException)
        {
            error = Invalid(path, ex);
            return [];
        }
        if (provider.Name != FileSystemProviderName)
        {
            error = NotFileSystem(path, provider);
            return [];
        }
        if (resolved.Count == 0)
        {
            error = NotFound(path);
            return [];
        }
        return resolved;
    }

    /// <summary>Resolves a literal (or output) path without wildcard expansion; the file need not exist.</summary>
    public static string? ResolveLiteral(PSCmdlet cmdlet, string path, out ErrorRecord? error)
    {
        error = null;
        try
        {
            string resolved = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out var provider, out _);
            if (provider.Name != FileSystemProviderName)
            {
                error = NotFileSystem(path, provider);
                return null;
            }
            return resolved;
        }
        catch (Exception ex) when (ex is ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or PSArgumentException or NotSupportedException or ItemNotFoundException)
        {
            error = Invalid(path, ex);
            return null;
        }
    }

    /// <summary>
    /// Resolves -Path (wildcards) or -LiteralPath arguments to files, writing a non-terminating error for each argument
    /// that resolves to nothing. A wildcard that also matches folders yields only the files among its matches.
    /// </summary>
    public static IEnumerable<string> ResolveInputs(PSCmdlet cmdlet, IEnumerable<string> paths, bool literal)
    {
        foreach (string path in paths)
        {
            if (literal)
            {
                string? file = ResolveLiteral(cmdlet, path, out var error);
                if (error is not null) { cmdlet.WriteError(error); continue; }
                yield return file!;
                continue;
            }
            var files = ResolveWildcard(cmdlet, path, out var wildcardError);
            if (wildcardError is not null) { cmdlet.WriteError(wildcardError); continue; }
            bool expanded = WildcardPattern.ContainsWildcardCharacters(path);
            foreach (string file in files)
            {
                if (expanded && Directory.Exists(file)) continue;
                yield return file;
            }
        }
    }

    // A path that matches no file is the same error as a missing input file on the command line.
    private static ErrorRecord NotFound(string path) =>
        ErrorRecords.From(new QuantShellException($"{path}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, path), path);

    private static ErrorRecord Invalid(string path, Exception ex) =>
        ErrorRecords.From(new QuantShellException($"{path}: not a valid path ({ex.Message}).", ErrorIds.PathInvalid, QuantShellErrorKind.InvalidArgument, path, ex), path);

    private static ErrorRecord NotFileSystem(string path, ProviderInfo provider) =>
        ErrorRecords.From(new QuantShellException($"{path}: is a {provider.Name} path; QuantShell reads and writes files only.", ErrorIds.PathNotFileSystem, QuantShellErrorKind.InvalidArgument, path), path);
}
