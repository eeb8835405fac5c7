using QuantShell.Core.Errors;

namespace QuantShell.Core.IO;

/// <summary>
/// The checks of an input and its output that come before anything is read: the input is a file that exists, the output
/// is not the input (by the files' identities, not their paths) and may be written (<see cref="AtomicFile.CheckWritable"/>).
/// </summary>
internal static class PathChecks
{
    /// <summary>Checks that <paramref name="fullPath"/> exists and is a file; <paramref name="name"/> names it in messages.</summary>
    public static void CheckInput(string fullPath, string name)
    {
        if (Directory.Exists(fullPath))
            throw new QuantShellException($"{name}: is a directory, not a file.{FilesInFolder(fullPath, name)}", ErrorIds.InputIsDirectory, QuantShellErrorKind.InvalidArgument, name);
        if (!File.Exists(fullPath))
            throw new QuantShellException($"{name}: file not found.", ErrorIds.InputFileNotFound, QuantShellErrorKind.NotFound, name);
    }

    /// <summary>
    /// For a folder given where a file was expected: which files of the kinds QuantShell reads it holds, and how to give
    /// them (" It holds 4 .npy files: give them with a wildcard, 'DIR/*.npy'."); empty when it holds none (or cannot be listed).
    /// </summary>
    public static string FilesInFolder(string fullPath, string name)
    {
        try
        {
            var counts = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (string file in Directory.EnumerateFiles(fullPath).Take(100_000))
            {
                string extension = Path.GetExtension(file).ToLowerInvariant();
                if (Formats.TensorFiles.Extensions.Contains(extension)) counts[extension] = counts.GetValueOrDefault(extension) + 1;
            }
            if (counts.Count == 0) return "";
            var most = counts.OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).ToList();
            string held = string.Join(", ", most.Select(c => $"{c.Value} {c.Key} file{(c.Value == 1 ? "" : "s")}"));
            return $" It holds {held}: give them with a wildcard, '{Path.Join(name, "*" + most[0].Key)}'.";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>
    /// Checks the input (<see cref="CheckInput"/>), that the output would not replace it, and that the output may be
    /// written. <paramref name="inputName"/> and <paramref name="outputName"/> name them in messages (default: the paths).
    /// </summary>
    public static void CheckInputAndOutput(string inputPath, string outputPath, bool force, string? inputName = null, string? outputName = null)
    {
        string input = Path.GetFullPath(inputPath);
        string output = Path.GetFullPath(outputPath);
        outputName ??= outputPath;
        CheckInput(input, inputName ?? inputPath);
        if (SameFile(input, output) is { } how)
            throw new QuantShellException($"{outputName}: {how}: the output would replace the input file; choose another output path.", ErrorIds.OutputIsInput, QuantShellErrorKind.InvalidArgument, outputName);
        AtomicFile.CheckWritable(output, force, outputName);
    }

    /// <summary>
    /// How <paramref name="output"/> is the file <paramref name="input"/>, or null when it is another file. Paths are not
    /// enough: a symbolic link, a hard link, a linked folder, '..' after a linked folder or a bind mount reach the same
    /// file by another path, so the files' identities (device and inode) are compared.
    /// </summary>
    private static string? SameFile(string input, string output)
    {
        if (string.Equals(input, output, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)) return "is the input file";
        if (FileIdentity.Of(output) is not { } outputIdentity || FileIdentity.Of(input) != outputIdentity) return null;
        if (FileIdentity.IsSymbolicLink(output)) return "is a symbolic link to the input file";
        if (FileIdentity.LinkCount(output) > 1) return "is a hard link to the input file";
        return "is the input file, reached through another path (a linked folder, '..' or a bind mount)";
    }
}
