namespace QuantShell.Core.Errors;

/// <summary>What kind of failure an expected error is; each face maps it to its idiom (an ErrorCategory, an exit code).</summary>
public enum QuantShellErrorKind
{
    /// <summary>A quantizer parameter or command argument is invalid, or options conflict.</summary>
    InvalidArgument,
    /// <summary>An input file is malformed or holds data that cannot be quantized.</summary>
    InvalidData,
    /// <summary>A file or folder that must exist does not.</summary>
    NotFound,
    /// <summary>An output exists and may not be replaced (no -Force / --force).</summary>
    AlreadyExists,
    /// <summary>A file exists but cannot be read.</summary>
    ReadFailed,
    /// <summary>An output cannot be written (permissions, full disk, a folder in the way).</summary>
    WriteFailed,
}
