namespace QuantShell.Core.Errors;

/// <summary>What kind of failure an expected error is; the faces map it to an ErrorCategory or an exit code.</summary>
public enum QuantShellErrorKind
{
    /// <summary>A quantizer parameter or command argument is invalid.</summary>
    InvalidArgument,
    /// <summary>An input file is malformed or holds data that cannot be quantized.</summary>
    InvalidData,
    /// <summary>Reading or writing a file failed, or writing it would lose data.</summary>
    InputOutput,
}

/// <summary>
/// An expected failure: bad parameters, a malformed file, a refused write. The message names the file,
/// parameter and value; <see cref="ErrorId"/> is a stable PascalCase identifier for scripts and tests.
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

    /// <summary>Stable identifier such as <c>ThresholdNotPowerOfTwo</c> or <c>NpyHeaderInvalid</c>.</summary>
    public string ErrorId { get; }

    public QuantShellErrorKind Kind { get; }

    /// <summary>The file or parameter the error is about, when there is one.</summary>
    public string? Target { get; }
}

/// <summary>A quantizer parameter is invalid (raised when the quantizer is created or applied to a shape).</summary>
public sealed class QuantizerValidationException : QuantShellException
{
    public QuantizerValidationException(string message, string parameterName, string errorId)
        : base(message, errorId, QuantShellErrorKind.InvalidArgument, parameterName)
    {
        ParameterName = parameterName;
    }

    public string ParameterName { get; }
}

/// <summary>An .npy file is malformed or of a kind QuantShell does not read.</summary>
public sealed class NpyFormatException : QuantShellException
{
    public NpyFormatException(string path, string problem, string errorId)
        : base($"{path}: {problem}", errorId, QuantShellErrorKind.InvalidData, path)
    {
        Path = path;
        Problem = problem;
    }

    public string Path { get; }

    public string Problem { get; }
}
