using QuantShell.Core.Errors;

namespace QuantShell.Core.IO;

/// <summary>A process's standard output that cannot be written, named with the ids every failed output has.</summary>
public static class StandardOutput
{
    /// <summary>
    /// The error for <paramref name="exception"/>, raised writing standard output (a full disk behind <c>&gt; file</c>,
    /// <c>/dev/full</c>, a closed pipe): <c>NoSpaceLeft</c> for a full device or an exhausted quota, as for files
    /// (<see cref="AtomicFile"/>), else <c>OutputWriteFailed</c>.
    /// </summary>
    public static QuantShellException WriteFailed(IOException exception) =>
        new($"standard output cannot be written: {exception.Message}",
            AtomicFile.ErrnoOf(exception) is Posix.ENOSPC or Posix.EDQUOT ? ErrorIds.NoSpaceLeft : ErrorIds.OutputWriteFailed,
            QuantShellErrorKind.WriteFailed, "-", exception);
}
