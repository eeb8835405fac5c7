using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;
using QuantShell.Cli.Commands;
using QuantShell.Core.Errors;

namespace QuantShell.Cli;

/// <summary>
/// The dotnet-quant command line: the command tree (built once) and the in-process entry point used by
/// <c>Program</c> and the tests.
/// </summary>
public static class Cli
{
    public const string Name = "dotnet-quant";

    private static readonly RootCommand Root = CreateRootCommand();

    /// <summary>
    /// Runs one command line in-process. Text goes to <paramref name="stdout"/> and <paramref name="stderr"/>;
    /// "-" as an input reads .npy bytes from <paramref name="stdin"/>, "--output -" writes them to
    /// <paramref name="stdoutStream"/> (both default to the console streams). Returns an <see cref="ExitCode"/> value.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, Stream? stdin = null, Stream? stdoutStream = null,
                          CancellationToken cancellationToken = default)
    {
        var invocation = new CliInvocation(
            () => stdin ?? Console.OpenStandardInput(),
            () => stdoutStream ?? Console.OpenStandardOutput())
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            // In-process callers cancel through the token; only the real process listens for Ctrl+C.
            ProcessTerminationTimeout = null,
        };
        return Run(args, invocation, cancellationToken);
    }

    /// <summary>The process entry point: console streams; Ctrl+C (SIGINT) or SIGTERM cancels the running command.</summary>
    internal static int RunConsole(string[] args)
    {
        var invocation = new CliInvocation(Console.OpenStandardInput, Console.OpenStandardOutput)
        {
            Output = Console.Out,
            Error = Console.Error,
            EnableDefaultExceptionHandler = false,
            // System.CommandLine only watches for termination once an action has returned its Task; ours run
            // synchronously, so the signals are handled here instead.
            ProcessTerminationTimeout = null,
        };
        using var cancellation = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            // The first signal cancels (the core then removes its temporary file); a second one terminates at once.
            if (cancellation.IsCancellationRequested) return;
            context.Cancel = true;
            cancellation.Cancel();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        return Run(args, invocation, cancellation.Token);
    }

    private static int Run(string[] args, CliInvocation invocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var stderr = invocation.Error;
        try
        {
            var parseResult = Root.Parse(args);
            if (parseResult.Errors.Count > 0 && parseResult.Action is ParseErrorAction)
            {
                foreach (var error in parseResult.Errors)
                    stderr.WriteLine($"{Name}: error: {CliErrors.OneLine(error.Message)}");
                string command = parseResult.CommandResult.Command is RootCommand ? Name : $"{Name} {parseResult.CommandResult.Command.Name}";
                stderr.WriteLine($"Run '{command} --help' for usage.");
                return (int)ExitCode.InvalidArguments;
            }
            return parseResult.InvokeAsync(invocation, cancellationToken).GetAwaiter().GetResult();
        }
        catch (QuantShellException ex)
        {
            CliErrors.Report(stderr, ex);
            return (int)ExitCodes.For(ex);
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine($"{Name}: canceled.");
            return (int)ExitCode.Canceled;
        }
        catch (Exception ex)
        {
            stderr.WriteLine($"{Name}: internal error (this is a bug, please report it): {ex}");
            return (int)ExitCode.InternalError;
        }
        finally
        {
            invocation.Output.Flush();
            stderr.Flush();
        }
    }

    private static RootCommand CreateRootCommand()
    {
        var root = new RootCommand(
            "Fake-quantize .npy tensors with Sony MCT's inferable quantizers (POT, symmetric, uniform; weights and " +
            "activations), bit for bit as PyTorch's CPU kernels do.")
        {
            QuantizeCommand.Command,
            NewCommand.Command,
            InspectCommand.Command,
            MeasureCommand.Command,
        };
        foreach (var option in root.Options)
        {
            if (option is HelpOption help && help.Action is HelpAction standard)
                help.Action = new HelpWithExitCodesAction(standard);
            // The default reads the entry assembly's version, which is the test host's when run in-process.
            if (option is VersionOption version)
                version.Action = new VersionAction();
        }
        return root;
    }

    /// <summary>The tool's version: this assembly's informational version (e.g. 0.1.0+commit).</summary>
    public static string Version { get; } =
        typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Cli).Assembly.GetName().Version?.ToString() ?? "unknown";

    private sealed class VersionAction : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(Version);
            return (int)ExitCode.Success;
        }
    }

    /// <summary>The standard help followed by the exit codes, which System.CommandLine has no epilog for.</summary>
    private sealed class HelpWithExitCodesAction(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int result = standard.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(ExitCodes.HelpText);
            return result;
        }
    }
}
