using System.CommandLine;

namespace QuantShell.Cli.Commands;

/// <summary><c>--fsync</c>, the same for every command that writes a file (the core's <c>WriteOptions.Fsync</c>).</summary>
internal static class FsyncOption
{
    public static Option<bool> Create(string what) => new("--fsync")
    {
        Description = $"Flush the {what} to the disk before renaming it into place, and its folder after, so it survives a power cut (slower: see the README's Safety section).",
    };
}
