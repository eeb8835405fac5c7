using System.Management.Automation;
using QuantShell.Core.Errors;

namespace QuantShell.PowerShell;

/// <summary>Turns the core's typed exceptions into PowerShell error records with the core's stable error id.</summary>
internal static class ErrorRecords
{
    public static ErrorCategory CategoryOf(QuantShellException exception) => exception.Kind switch
    {
        QuantShellErrorKind.InvalidArgument => ErrorCategory.InvalidArgument,
        QuantShellErrorKind.InvalidData => ErrorCategory.InvalidData,
        _ => exception.ErrorId switch
        {
            "InputFileNotFound" or "QuantizerFileNotFound" => ErrorCategory.ObjectNotFound,
            "OutputExists" => ErrorCategory.ResourceExists,
            "OutputIsInput" or "OutputIsDirectory" => ErrorCategory.InvalidArgument,
            "OutputDirectoryNotFound" => ErrorCategory.ObjectNotFound,
            "OutputWriteFailed" => ErrorCategory.WriteError,
            "InputFileUnreadable" or "QuantizerFileUnreadable" => ErrorCategory.ReadError,
            _ => ErrorCategory.ResourceUnavailable,
        },
    };

    public static ErrorRecord From(QuantShellException exception, object? targetObject) =>
        new(exception, exception.ErrorId, CategoryOf(exception), targetObject);

    public static ErrorRecord Create(string message, string errorId, ErrorCategory category, object? targetObject, Exception? inner = null) =>
        new(new QuantShellException(message, errorId, QuantShellErrorKind.InvalidArgument, targetObject?.ToString(), inner), errorId, category, targetObject);
}
