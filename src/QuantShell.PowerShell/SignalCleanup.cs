using System.Runtime.InteropServices;
using QuantShell.Core.IO;

namespace QuantShell.PowerShell;

/// <summary>
/// Removes the temporary files of the writes in progress when pwsh is ended by SIGTERM (<c>kill</c>, <c>timeout</c>, a CI
/// job's end) or SIGHUP (its terminal closed). pwsh handles neither: the process ends as soon as the signal's handlers
/// have run, so no cmdlet's StopProcessing or finally block runs, and each output being written would leave its
/// temporary file. Ctrl+C (SIGINT) needs nothing here: pwsh stops the pipeline, and the cmdlets' StopProcessing cancels
/// their jobs, which remove their own files. The signal is not canceled: whatever the process did on it, it still does.
/// </summary>
internal static class SignalCleanup
{
    private static readonly object Gate = new();
    private static PosixSignalRegistration[]? _registrations;

    /// <summary>Registers the handlers once per process, whichever runspace imports the module first.</summary>
    public static void Register()
    {
        // On Windows these are console close and shutdown events, and a file open for writing cannot be deleted.
        if (OperatingSystem.IsWindows()) return;
        lock (Gate)
        {
            _registrations ??=
            [
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
                PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal),
            ];
        }
    }

    // The writes those files belong to cannot finish once their file is gone; should a host survive the signal (it
    // canceled it in a handler of its own), they fail with an error naming their output, and new ones start normally.
    private static void OnSignal(PosixSignalContext context) => AtomicFile.RemoveTemporaryFiles(processEnding: false);
}
