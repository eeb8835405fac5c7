using Xunit;

namespace QuantShell.TestSupport;

/// <summary>
/// A file system mounted for one test and unmounted when it is disposed: a small tmpfs (to fill up), or a bind mount
/// (the same files under another path, optionally read-only). Mounting needs root; where it is not allowed the test is
/// skipped with the reason (never passed silently).
/// </summary>
public sealed class ScratchMount : IDisposable
{
    private bool _mounted;

    private ScratchMount(string path)
    {
        Path = path;
    }

    /// <summary>Where the file system is mounted.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes at <paramref name="path"/> (created if missing).</summary>
    public static ScratchMount Tmpfs(string path, long bytes)
    {
        var mount = new ScratchMount(path);
        mount.Mount("-t", "tmpfs", "-o", $"size={bytes},mode=0777", "quantshell-test", path);
        return mount;
    }

    /// <summary>Mounts <paramref name="source"/> again at <paramref name="path"/>, read-only if asked.</summary>
    public static ScratchMount Bind(string source, string path, bool readOnly = false)
    {
        var mount = new ScratchMount(path);
        mount.Mount("--bind", source, path);
        if (readOnly)
        {
            var (code, output) = Shell.Run("mount", "-o", "remount,bind,ro", path);
            if (code != 0)
            {
                mount.Dispose();
                Skip.If(true, $"a read-only bind mount is not allowed here: {output}");
            }
        }
        return mount;
    }

    private void Mount(params string[] args)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "mounting a scratch file system needs Linux");
        Skip.IfNot(Shell.IsRoot, $"mounting a scratch file system needs root (running as '{Environment.UserName}')");
        Directory.CreateDirectory(Path);
        var (code, output) = Shell.Run("mount", args);
        Skip.If(code != 0, $"mount {string.Join(' ', args)} was refused: {output}");
        _mounted = true;
    }

    public void Dispose()
    {
        if (!_mounted) return;
        // A process of the test may still hold a file open for a moment; then detach it lazily rather than leave it.
        for (int attempt = 0; attempt < 10; attempt++)
        {
            if (Shell.Run("umount", Path).ExitCode == 0) { _mounted = false; return; }
            Thread.Sleep(100);
        }
        var (code, output) = Shell.Run("umount", "--lazy", Path);
        _mounted = code != 0;
        if (_mounted) throw new InvalidOperationException($"{Path} could not be unmounted: {output}");
    }
}
