namespace QuantShell.Core.Errors;

/// <summary>A quantizer parameter is invalid (raised when the quantizer is created or applied to a shape).</summary>
public sealed class QuantizerValidationException : QuantShellException
{
    public QuantizerValidationException(string message, Parameter parameter, string errorId)
        : this(message, parameter.Name, errorId)
    {
    }

    /// <summary>For a field of a quantizer file that no face has as a parameter (<c>InputRank</c>).</summary>
    public QuantizerValidationException(string message, string parameterName, string errorId)
        : base(message, errorId, QuantShellErrorKind.InvalidArgument, parameterName)
    {
        ParameterName = parameterName;
    }

    /// <summary>The parameter's name as C# and PowerShell spell it (<c>ChannelAxis</c>; the CLI's <c>--channel-axis</c>).</summary>
    public string ParameterName { get; }
}
