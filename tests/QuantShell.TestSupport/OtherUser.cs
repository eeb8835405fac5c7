using Xunit;

namespace QuantShell.TestSupport;

/// <summary>
/// Runs a program as the unprivileged user <c>nobody</c> (through <c>setpriv</c>): root ignores file permissions, so
/// read-only folders and unreadable files can only be tested as another user. Where that is not possible (not root,
/// no setpriv, dotnet not reachable by that user) the test is skipped with the reason.
/// </summary>
public static class OtherUser
{
    public const int Uid = 65534, Gid = 65534;

    /// <summary>The command line that runs <paramref name="program"/> <paramref name="args"/> as nobody.</summary>
    public static string[] Command(string program, params string[] args) =>
        [$"--reuid={Uid}", $"--regid={Gid}", "--clear-groups", "--", program, .. args];

    /// <summary>Skips the test unless <c>dotnet <paramref name="assembly"/> --version</c> runs as nobody.</summary>
    public static void SkipUnlessAvailable(string assembly)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "running as another user needs Linux");
        Skip.IfNot(Shell.IsRoot, $"running as another user needs root (running as '{Environment.UserName}')");
        string? setpriv = Shell.Find("setpriv");
        Skip.If(setpriv is null, "setpriv (util-linux) is not installed");
        var (code, output) = Shell.Run(setpriv!, Command("dotnet", assembly, "--version"));
        Skip.If(code != 0, $"the user nobody cannot run {assembly} (its folders must be readable by all): {output}");
    }

    /// <summary>Gives <paramref name="path"/> (and, if asked, what is under it) to nobody, so that it may write there.</summary>
    public static void Chown(string path, bool recursive = true)
    {
        var (code, output) = recursive ? Shell.Run("chown", "-R", $"{Uid}:{Gid}", path) : Shell.Run("chown", $"{Uid}:{Gid}", path);
        Assert.True(code == 0, $"chown {path}: {output}");
    }
}
