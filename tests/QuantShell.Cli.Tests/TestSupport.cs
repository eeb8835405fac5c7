using System.Diagnostics;
using System.Text;

namespace QuantShell.Cli.Tests;

/// <summary>Where the tool is.</summary>
internal static class ToolPaths
{
    /// <summary>The dotnet-quant.dll copied next to the tests by the project reference.</summary>
    public static string ToolAssembly => Path.Combine(AppContext.BaseDirectory, "dotnet-quant.dll");
}

/// <summary>What one in-process or child-process run of dotnet-quant produced.</summary>
internal sealed record CliRun(int ExitCode, string Stdout, string Stderr, byte[] StdoutBytes)
{
    public ExitCode Code => (ExitCode)ExitCode;

    public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public string[] StdoutLines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

internal static class CliRunner
{
    /// <summary>Runs the command line in-process through <see cref="Cli.Run"/>.</summary>
    public static CliRun Run(params string[] args) => RunWith(null, default, args);

    public static CliRun RunWith(byte[]? stdin, CancellationToken cancellationToken, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        using var input = new MemoryStream(stdin ?? []);
        using var output = new MemoryStream();
        int exitCode = Cli.Run(args, stdout, stderr, input, output, cancellationToken);
        return new CliRun(exitCode, stdout.ToString(), stderr.ToString(), output.ToArray());
    }

    /// <summary>Runs a program as a child process and waits for it.</summary>
    public static CliRun RunProcess(string fileName, IEnumerable<string> args, TimeSpan timeout, string? workingDirectory = null,
                                    IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string arg in args) start.ArgumentList.Add(arg);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not finish within {timeout}.");
        }
        process.WaitForExit();
        return new CliRun(process.ExitCode, stdout.Result, stderr.Result, Encoding.UTF8.GetBytes(stdout.Result));
    }
}
