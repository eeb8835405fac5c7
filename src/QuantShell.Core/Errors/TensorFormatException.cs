namespace QuantShell.Core.Errors;

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
