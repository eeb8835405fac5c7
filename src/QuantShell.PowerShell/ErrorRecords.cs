using System.Management.Automation;
using QuantShell.Core.Errors;

namespace QuantShell.PowerShell;

/// <summary>
/// Turns the core's typed exceptions into PowerShell error records with the core's stable error id, their message
/// naming parameters as PowerShell does (<c>-ChannelAxis</c>, <c>-Format Fake</c>) in the record's ErrorDetails.
/// </summary>
internal static class ErrorRecords
{
    /// <summary>How the core's messages name parameters in PowerShell.</summary>
    public static readonly ParameterSpelling Spelling = new(name => "-" + name, value => value);

    /// <summary>An exception's message as a cmdlet shows it.</summary>
    public static string MessageOf(QuantShellException exception) => exception.MessageIn(Spelling);

    public static ErrorCategory CategoryOf(QuantShellException exception) => exception.Kind switch
    {
        QuantShellErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        QuantShellErrorKind.InvalidData => ErrorCategory.InvalidData,
        QuantShellErrorKind.NotFound => ErrorCategory.ObjectNotFound,
        QuantShellErrorKind.AlreadyExists => ErrorCategory.ResourceExists,
        QuantShellErrorKind.ReadFailed => ErrorCategory.ReadError,
        QuantShellErrorKind.WriteFailed => ErrorCategory.WriteError,
        _ => ErrorCategory.NotSpecified,
    };

    /// <summary>An error record whose target is <paramref name="targetObject"/> (an input path, a parameter's value).</summary>
    public static ErrorRecord From(QuantShellException exception, object? targetObject) =>
        new(exception, exception.ErrorId, CategoryOf(exception), targetObject) { ErrorDetails = new ErrorDetails(MessageOf(exception)) };

    /// <summary>An error of a parameter: the target is the value bound to it, when it was given.</summary>
    public static ErrorRecord ForParameter(PSCmdlet cmdlet, QuantShellException exception)
    {
        object? value = exception.Target is string name && cmdlet.MyInvocation.BoundParameters.TryGetValue(name, out var given) ? given : exception.Target;
        return From(exception, value);
    }
}
