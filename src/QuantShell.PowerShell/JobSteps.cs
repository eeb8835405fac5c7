using System.Management.Automation;
using QuantShell.Core.Errors;

namespace QuantShell.PowerShell;

/// <summary>What every cmdlet that runs a core job does the same way.</summary>
internal static class JobSteps
{
    /// <summary>
    /// Runs a step of a job (creating it, adding an input, completing). A failure of the whole request (a conflict of
    /// parameters, a quantizer file that cannot be written, no input left to calibrate on) stops the pipeline with the
    /// offending parameter's value as target; a stopped pipeline ends quietly.
    /// </summary>
    public static void Run(PSCmdlet cmdlet, Action step)
    {
        try
        {
            step();
        }
        catch (QuantShellException ex)
        {
            cmdlet.ThrowTerminatingError(ErrorRecords.ForParameter(cmdlet, ex));
        }
        catch (OperationCanceledException) when (cmdlet.Stopping)
        {
        }
    }

    /// <summary>Resolves an output path parameter (no wildcards); a path that is not a file-system path stops the cmdlet.</summary>
    public static string? ResolveOutputPath(PSCmdlet cmdlet, string? path)
    {
        if (path is null) return null;
        string? resolved = PathResolver.ResolveLiteral(cmdlet, path, out var error);
        if (error is not null || resolved is null) cmdlet.ThrowTerminatingError(error!);
        return resolved;
    }
}
