using QuantShell.Core.Errors;

namespace QuantShell.Cli;

/// <summary>
/// The process exit codes of dotnet-quant. Scripts may rely on these values; they are also listed in <c>--help</c>.
/// </summary>
public enum ExitCode
{
    /// <summary>0: everything asked for was done.</summary>
    Success = 0,

    /// <summary>1: several inputs were given and at least one of them failed (each failure is reported on stderr; the others were written).</summary>
    Failure = 1,

    /// <summary>2: invalid command line or quantizer parameters (unknown option, bits out of range, non-POT threshold, ...); nothing was done.</summary>
    InvalidArguments = 2,

    /// <summary>3: an input is malformed or cannot be quantized (not an .npy file, unsupported dtype, NaN/inf without --allow-non-finite, channel count mismatch read from the file, ...).</summary>
    InvalidInput = 3,

    /// <summary>4: a file could not be found, read or written (no space left, a read-only or missing output folder, a file where a folder should be), or an output exists and --force was not given.</summary>
    IOError = 4,

    /// <summary>70: an unexpected internal error (a bug): one line naming the exception, then its stack trace.</summary>
    InternalError = 70,

    /// <summary>130: canceled (Ctrl+C / SIGINT); no partial output file is left behind.</summary>
    Canceled = 130,

    /// <summary>143: terminated by SIGTERM (128 + 15, as a shell reports it); no partial output file is left behind.</summary>
    Terminated = 143,
}

internal static class ExitCodes
{
    /// <summary>The exit code of an expected failure, by its kind.</summary>
    public static ExitCode For(QuantShellException exception) => exception.Kind switch
    {
        QuantShellErrorKind.InvalidArgument => ExitCode.InvalidArguments,
        QuantShellErrorKind.InvalidData => ExitCode.InvalidInput,
        _ => ExitCode.IOError,
    };

    public const string HelpText =
        """
        Exit codes:
          0    success
          1    several inputs, at least one failed (the others were written)
          2    invalid arguments or quantizer parameters
          3    invalid input data (malformed .npy, unsupported dtype, NaN/inf, shape mismatch)
          4    file not found, unreadable, unwritable (no space left, read-only or missing
               output folder, a file where a folder should be), or output exists without --force
          70   internal error (a bug; please report it)
          130  canceled (Ctrl+C / SIGINT); no partial output is left
          143  terminated (SIGTERM); no partial output is left
               A second SIGINT or SIGTERM, SIGHUP (129) and SIGQUIT (131) end the process
               at once, killed by the signal; its temporary files are removed first.
        """;
}
