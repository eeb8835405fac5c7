using System.Diagnostics;
using System.Text;

namespace QuantShell.Cli.Tests;

/// <summary>Where the repository and the shared conformance cases are.</summary>
internal static class TestPaths
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string Conformance => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "conformance"));

    public static string ConformanceFile(string name) => Path.Combine(Conformance, name);

    /// <summary>The dotnet-quant.dll copied next to the tests by the project reference.</summary>
    public static string ToolAssembly => Path.Combine(AppContext.BaseDirectory, "dotnet-quant.dll");

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "QuantShell.sln"))) return directory.FullName;
        }
        throw new InvalidOperationException($"No QuantShell.sln above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temporary directory per test, removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "quantshell-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
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
