using System.CommandLine;
using System.CommandLine.Completions;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using System.Reflection;
using System.Runtime.InteropServices;
using QuantShell.Cli.Commands;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli;

/// <summary>
/// The dotnet-quant command line: the command tree (built once), the in-process entry point used by <c>Program</c> and
/// the tests, and how expected failures print: one line, <c>dotnet-quant: error: message [ErrorId]</c>.
/// </summary>
public static partial class Cli
{
    public const string Name = "dotnet-quant";

    private static readonly RootCommand Root = CreateRootCommand();

    /// <summary>How the core's messages name parameters here: <c>--channel-axis</c>, <c>--format fake</c>.</summary>
    internal static readonly ParameterSpelling Spelling = new(name => "--" + EnumNames.Kebab(name), EnumNames.Kebab);

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

    /// <summary>
    /// The process entry point: console streams and signals. The first Ctrl+C (SIGINT) or SIGTERM cancels the running
    /// command, which removes its temporary file and exits 130 (SIGINT) or 143 (SIGTERM, as a shell reports a process it
    /// terminated). A second one, or a SIGHUP or SIGQUIT, ends the process at once by the signal's own default action
    /// (so a shell sees it killed by that signal: 130, 143, 129, 131), after removing the temporary files of the writes in
    /// progress. <c>timeout</c> sends SIGTERM to its child and then to the child's process group, so the tool often gets
    /// two SIGTERMs within microseconds. A command the first one has not ended within <see cref="CancelGrace"/> (one blocked
    /// reading a pipe or a terminal that sends nothing, where no cancellation reaches it) is ended as a second one would:
    /// its temporary files removed, the same message and exit status.
    /// </summary>
    internal static int RunConsole(string[] args)
    {
        var invocation = new CliInvocation(Console.OpenStandardInput, Console.OpenStandardOutput)
        {
            Output = Console.Out,
            Error = Console.Error,
            ErrorIsTerminal = !Console.IsErrorRedirected,
            EnableDefaultExceptionHandler = false,
            // System.CommandLine only watches for termination once an action has returned its Task; ours run
            // synchronously, so the signals are handled here instead.
            ProcessTerminationTimeout = null,
        };
        using var cancellation = new CancellationTokenSource();
        int canceling = 0, ending = 0;
        PosixSignal? received = null;
        (ExitCode Code, string Word) CanceledBy() =>
            received == PosixSignal.SIGTERM ? (ExitCode.Terminated, "terminated (SIGTERM)") : (ExitCode.Canceled, "canceled");
        // Whichever comes first ends the process: the command's own return, or the grace's end below.
        bool FirstToEnd() => Interlocked.Exchange(ref ending, 1) == 0;
        // .NET runs each signal's handlers on a thread of its own: two signals at once run this concurrently.
        void OnSignal(PosixSignalContext context)
        {
            if (context.Signal is PosixSignal.SIGINT or PosixSignal.SIGTERM && Interlocked.Exchange(ref canceling, 1) == 0)
            {
                received = context.Signal;
                context.Cancel = true;
                cancellation.Cancel();
                new Thread(() =>
                {
                    Thread.Sleep(CancelGrace);
                    if (!FirstToEnd()) return;
                    AtomicFile.RemoveTemporaryFiles(processEnding: true);
                    var (code, word) = CanceledBy();
                    try { invocation.Error.WriteLine($"{Name}: {word}; no partial output file was left."); } catch (IOException) { }
                    Environment.Exit((int)code);
                }) { IsBackground = true, Name = "cancel grace" }.Start();
                return;
            }
            // Not canceled: the runtime applies the signal's default action (terminate) once this returns, and no finally
            // block of the command runs, so its temporary files are removed here, and no new one is started.
            AtomicFile.RemoveTemporaryFiles(processEnding: true);
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        // Elsewhere than Windows (where these are console close and Ctrl+Break, and open files cannot be deleted). A signal
        // inherited as ignored (nohup, a background job) stays ignored: .NET installs no handler for it.
        using var hangUp = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
        using var quit = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal);
        bool claimed = false;
        int exitCode = Run(args, invocation, cancellation.Token, () =>
        {
            claimed = FirstToEnd();
            if (!claimed) Thread.Sleep(Timeout.Infinite); // the grace's end is ending the process, and says so
            return CanceledBy();
        });
        if (!claimed && !FirstToEnd()) Thread.Sleep(Timeout.Infinite);
        return exitCode;
    }

    /// <summary>How long the first SIGINT or SIGTERM waits for the command to stop before ending the process itself.</summary>
    internal static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(2);

    private static int Run(string[] args, CliInvocation invocation, CancellationToken cancellationToken,
                           Func<(ExitCode Code, string Word)>? canceledBy = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var stderr = invocation.Error;
        try
        {
            var parseResult = Root.Parse(args);
            QuantShell.Core.Diagnostics.Timeline.Mark("arguments parsed");
            // "[suggest:N] <command line>" (what dotnet-suggest runs for the shell's Tab key) prints completions even for a
            // half-typed option such as "--me", which the checks below would refuse.
            if (IsSuggestion(parseResult)) return parseResult.Invoke(invocation);
            if (parseResult.Action is not HelpAction and not VersionAction and not HelpWithExitCodesAction && UnknownOption(parseResult) is { } unknown)
            {
                stderr.WriteLine($"{Name}: error: {unknown} [{ErrorIds.UnknownOption}]");
                stderr.WriteLine($"Run '{CommandName(parseResult)} --help' for usage.");
                return (int)ExitCode.InvalidArguments;
            }
            if (parseResult.Errors.Count > 0 && parseResult.Action is ParseErrorAction)
            {
                // An unknown command leaves every later token unmatched too: the command alone is the error.
                if (UnknownCommand(parseResult) is { } command)
                    stderr.WriteLine($"{Name}: error: {command} [{ErrorIds.UnknownCommand}]");
                else
                {
                    foreach (var error in parseResult.Errors)
                        stderr.WriteLine($"{Name}: error: {Describe(error)}");
                }
                stderr.WriteLine($"Run '{CommandName(parseResult)} --help' for usage.");
                return (int)ExitCode.InvalidArguments;
            }
            int exitCode = parseResult.InvokeAsync(invocation, cancellationToken).GetAwaiter().GetResult();
            invocation.Output.Flush(); // a full standard output fails here, not unseen in the finally below
            return exitCode;
        }
        catch (QuantShellException ex)
        {
            Report(stderr, ex);
            return (int)ExitCodes.For(ex);
        }
        catch (IOException ex) when (ex is not FileNotFoundException and not DirectoryNotFoundException)
        {
            // Files are read and written by the core, which names them in its own errors: what escapes as a bare I/O
            // error is the standard output itself (a full disk behind '> file', /dev/full, a closed pipe).
            var error = StandardOutput.WriteFailed(ex);
            try { Report(stderr, error); } catch (IOException) { }
            return (int)ExitCodes.For(error);
        }
        catch (OperationCanceledException)
        {
            var (code, word) = canceledBy?.Invoke() ?? (ExitCode.Canceled, "canceled");
            stderr.WriteLine($"{Name}: {word}; no partial output file was left.");
            return (int)code;
        }
        catch (Exception ex)
        {
            // One line like every other failure, then what a bug report needs: the stack trace (and inner exceptions).
            string head = $"{ex.GetType().FullName}: {ex.Message}";
            string details = ex.ToString();
            if (details.StartsWith(head, StringComparison.Ordinal)) details = details[head.Length..].TrimStart('\r', '\n');
            stderr.WriteLine($"{Name}: internal error (this is a bug, please report it): {ex.GetType().FullName}: {OneLine(ex.Message)}");
            if (details.Length > 0) stderr.WriteLine(details);
            return (int)ExitCode.InternalError;
        }
        finally
        {
            try
            {
                invocation.Output.Flush();
                stderr.Flush();
            }
            catch (IOException)
            {
                // Already reported above when it could be; a stream that cannot be written has nothing more to say.
            }
        }
    }

    /// <summary>The one line an expected failure prints, with the core's parameter names spelled as this command line's options.</summary>

    internal static void Report(TextWriter stderr, QuantShellException exception) =>
        stderr.WriteLine($"{Name}: error: {OneLine(exception.MessageIn(Spelling))} [{exception.ErrorId}]");

    internal static string OneLine(string text) => text.ReplaceLineEndings(" ");

    /// <summary>
    /// An option the command does not have, named with a suggestion where one is close. System.CommandLine would take an
    /// unknown <c>--channel-axes</c> as an input file name; only tokens after <c>--</c> may start with a dash.
    /// </summary>
    private static string? UnknownOption(ParseResult parseResult)
    {
        var command = parseResult.CommandResult.Command;
        // Tokens after "--" are arguments whatever they look like.
        var tokens = parseResult.Tokens.ToList();
        int doubleDash = tokens.FindIndex(token => token.Type == TokenType.DoubleDash);
        var afterDoubleDash = doubleDash < 0 ? [] : tokens.Skip(doubleDash + 1).ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var argument in parseResult.CommandResult.Children.OfType<ArgumentResult>())
        {
            foreach (var token in argument.Tokens)
            {
                if (!token.Value.StartsWith('-') || token.Value == CliInvocation.StandardStream || afterDoubleDash.Contains(token)) continue;
                if (double.TryParse(token.Value, System.Globalization.CultureInfo.InvariantCulture, out _)) continue;
                return Describe(token.Value, command);
            }
        }
        foreach (string token in parseResult.UnmatchedTokens)
        {
            if (token.StartsWith('-') && token != CliInvocation.StandardStream) return Describe(token, command);
        }
        return null;
    }

    /// <summary>
    /// The first word given to the tool itself, when it is no command: a misspelt one gets the closest command suggested.
    /// </summary>
    private static string? UnknownCommand(ParseResult parseResult)
    {
        if (parseResult.CommandResult.Command is not RootCommand) return null;
        string? word = parseResult.Tokens.FirstOrDefault(token => token.Type == TokenType.Argument)?.Value;
        if (word is null || !parseResult.UnmatchedTokens.Contains(word)) return null;
        string? closest = Closest(word, Root.Subcommands.SelectMany(command => command.Aliases.Prepend(command.Name)));
        return closest is null
            ? $"unknown command '{word}'; the commands are {string.Join(", ", Root.Subcommands.Select(command => command.Name))}"
            : $"unknown command '{word}' (did you mean '{closest}'?)";
    }

    /// <summary>
    /// A parse error in one line with its id. An option's value that cannot be read is <c>OptionValueInvalid</c>, in words
    /// (System.CommandLine names the .NET type); the value parsers of enums and number lists already list what they take.
    /// </summary>
    private static string Describe(ParseError error)
    {
        var option = error.SymbolResult as OptionResult ?? (error.SymbolResult as ArgumentResult)?.Parent as OptionResult;
        // A command's own argument with a value it does not take (schema KIND).
        if (option is null && error.SymbolResult is ArgumentResult { Tokens.Count: > 0 })
            return $"{OneLine(error.Message)} [{ErrorIds.OptionValueInvalid}]";
        if (option is null && Missing(error) is { } missing) return missing;
        if (option is null) return OneLine(error.Message);
        string name = option.Option.Name;
        var type = Nullable.GetUnderlyingType(option.Option.ValueType) ?? option.Option.ValueType;
        string? given = option.Tokens.Count > 0 ? string.Join(" ", option.Tokens.Select(token => token.Value)) : null;
        // A required option not given at all (compare without --data-path): what the command needs, not a missing value.
        if (given is null && option.IdentifierToken is null && option.Parent is CommandResult command)
            return $"'{command.Command.Name}' needs {name} <{option.Option.HelpName ?? "VALUE"}>. [{ErrorIds.ArgumentMissing}]";
        string message = given is null
            ? type == typeof(bool) ? OneLine(error.Message) : $"{name} needs a value."
            : type == typeof(int) || type == typeof(long) ? $"{name} takes a whole number but is '{given}'."
            : type == typeof(double) || type == typeof(float) ? $"{name} takes a number but is '{given}'."
            : type == typeof(bool) ? $"{name} takes true or false but is '{given}'."
            : OneLine(error.Message);
        return $"{message} [{ErrorIds.OptionValueInvalid}]";
    }

    /// <summary>No command, or a command without an argument it needs, in words and with its id.</summary>
    private static string? Missing(ParseError error)
    {
        var result = error.SymbolResult as CommandResult ?? (error.SymbolResult as ArgumentResult)?.Parent as CommandResult;
        if (result is null) return null;
        var command = result.Command;
        var argument = command.Arguments.FirstOrDefault(argument =>
            argument.Arity.MinimumNumberOfValues > 0 && (result.GetResult(argument)?.Tokens.Count ?? 0) == 0);
        if (argument is not null)
        {
            string what = argument.Arity.MaximumNumberOfValues > 1 ? "at least one" : "the argument";
            return $"'{command.Name}' needs {what} <{argument.Name}>. [{ErrorIds.ArgumentMissing}]";
        }
        if (command is RootCommand && result.Children.OfType<CommandResult>().Any() is false)
            return $"no command given; the commands are {string.Join(", ", Root.Subcommands.Select(c => c.Name))}. [{ErrorIds.CommandMissing}]";
        return null;
    }

    private static string? Closest(string name, IEnumerable<string> known) =>
        known.Distinct().Select(candidate => (candidate, distance: Distance(name, candidate)))
            .Where(candidate => candidate.distance <= Math.Max(2, name.Length / 3))
            .OrderBy(candidate => candidate.distance).Select(candidate => candidate.candidate).FirstOrDefault();

    private static string Describe(string token, Command command)
    {
        string name = token.Split('=', 2)[0];
        string? closest = Closest(name, command.Options.Concat(Root.Options).SelectMany(option => option.Aliases.Prepend(option.Name)));
        return closest is null ? $"unrecognized option '{name}'" : $"unrecognized option '{name}' (did you mean '{closest}'?)";
    }

    private static int Distance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            previous = current;
        }
        return previous[b.Length];
    }

    private static string CommandName(ParseResult parseResult) =>
        parseResult.CommandResult.Command is RootCommand ? Name : $"{Name} {parseResult.CommandResult.Command.Name}";

    private static bool IsSuggestion(ParseResult parseResult) =>
        Root.Directives.OfType<SuggestDirective>().Any(directive => parseResult.GetResult(directive) is not null);

    /// <summary>The command tree, for the tests that check option descriptions against the cmdlets' help sources.</summary>
    internal static RootCommand CommandTree => Root;

    /// <summary>
    /// Completions for enum values in the spelling this command line takes (<c>lut-pot</c>, <c>no-clipping</c>), where
    /// System.CommandLine would offer the C# names (<c>LutPot</c>). Shell completion (the <c>[suggest]</c> directive that
    /// dotnet-suggest calls) and the help's value lists then agree with what the parser accepts.
    /// </summary>
    private static void CompleteEnumsInKebabCase(Command command)
    {
        foreach (var symbol in command.Options.Cast<Symbol>().Concat(command.Arguments))
        {
            var valueType = symbol switch { Option typed => typed.ValueType, Argument typed => typed.ValueType, _ => null };
            var enumType = valueType is null ? null : Nullable.GetUnderlyingType(valueType) ?? valueType;
            if (enumType is null || !enumType.IsEnum) continue;
            string[] names = Enum.GetNames(enumType).Select(EnumNames.Kebab).ToArray();
            var sources = symbol is Option option ? option.CompletionSources : ((Argument)symbol).CompletionSources;
            sources.Clear();
            sources.Add(context => names
                .Where(name => name.StartsWith(context.WordToComplete, StringComparison.OrdinalIgnoreCase))
                .Select(name => new CompletionItem(name)));
        }
        foreach (var subcommand in command.Subcommands) CompleteEnumsInKebabCase(subcommand);
    }

    private static RootCommand CreateRootCommand()
    {
        var root = new RootCommand(
            "Quantize .npy tensors and model files (safetensors, .npz, PyTorch checkpoints, ONNX) with Sony MCT's nine inferable " +
            "quantizers (POT, symmetric, uniform and look-up-table; weights and activations), bit for bit as MCT on PyTorch, and " +
            "lower MCT's exported ONNX models to standard ONNX.")
        {
            QuantizeCommand.Create(),
            NewCommand.Create(),
            InspectCommand.Create(),
            MeasureCommand.Create(),
            DequantizeCommand.Create(),
            LowerCommand.Create(),
            CalibrateCommand.Create(),
            CompareCommand.Create(),
            SchemaCommand.Create(),
        };
        CompleteEnumsInKebabCase(root);
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

    /// <summary>The tool's version: this assembly's informational version, which is Directory.Build.props' &lt;Version&gt; exactly
    /// (IncludeSourceRevisionInInformationalVersion is off there), the version of the modules too.</summary>
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

    /// <summary>The standard help followed by examples and the exit codes, which System.CommandLine has no epilog for.</summary>
    private sealed class HelpWithExitCodesAction(HelpAction standard) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int result = standard.Invoke(parseResult);
            var output = parseResult.InvocationConfiguration.Output;
            var command = parseResult.CommandResult.Command;
            HelpExamples.Write(output, command is RootCommand ? Name : command.Name);
            output.WriteLine(ExitCodes.HelpText);
            return result;
        }
    }
}
