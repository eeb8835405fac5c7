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

/// <summary>A quantizer parameter is invalid (raised when the quantizer is created or applied to a shape).</summary>
public sealed class QuantizerValidationException : QuantShellException
{
    public QuantizerValidationException(string message, string parameterName, string errorId)
        : base(message, errorId, QuantShellErrorKind.InvalidArgument, parameterName)
    {
        ParameterName = parameterName;
    }

    /// <summary>The parameter's name as C# and PowerShell spell it (<c>ChannelAxis</c>; the CLI's <c>--channel-axis</c>).</summary>
    public string ParameterName { get; }
}

/// <summary>A tensor file (.npy, or a model file's entry) is malformed or of a kind QuantShell does not read.</summary>
public sealed class TensorFormatException : QuantShellException
{
    public TensorFormatException(string path, string problem, string errorId)
        : base($"{path}: {problem}", errorId, QuantShellErrorKind.InvalidData, path)
    {
        Path = path;
        Problem = problem;
    }

    public string Path { get; }

    public string Problem { get; }
}
