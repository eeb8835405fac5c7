namespace QuantShell.Core.Errors;

/// <summary>
/// An expected failure: bad parameters, a malformed file, a refused write. The message names the file, tensor,
/// parameter and value; <see cref="ErrorId"/> is one of <see cref="ErrorIds"/>.
/// </summary>
public class QuantShellException : Exception
{
    public QuantShellException(string message, string errorId, QuantShellErrorKind kind, string? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    /// <summary>Stable identifier such as <c>ThresholdNotPowerOfTwo</c> or <c>NpyHeaderInvalid</c> (see <see cref="ErrorIds"/>).</summary>
    public string ErrorId { get; }

    public QuantShellErrorKind Kind { get; }

    /// <summary>The file, tensor or parameter the error is about, when there is one.</summary>
    public string? Target { get; }

    /// <summary>The same error with its message prefixed by where it happened (a file, a file and tensor).</summary>
    public virtual QuantShellException WithSource(string source) =>
        new($"{source}: {Message}", ErrorId, Kind, source, this);
}
