using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;

namespace QuantShell.Core.Tests;

/// <summary>
/// An output folder on a read-only file system (a read-only bind mount made by the test, as root: root ignores
/// permission bits) is OutputDirectoryUnwritable, and nothing is left there. Permission bits, as another user, are
/// tested with the real tool in QuantShell.Cli.Tests' PermissionTests.
/// </summary>
public sealed class UnwritableOutputTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [SkippableFact]
    public void ReadOnlyFileSystem_IsOutputDirectoryUnwritable()
    {
        Directory.CreateDirectory(_temp.File("folder"));
        File.WriteAllBytes(_temp.File("folder/existing.npy"), [9, 9, 9]);
        using var mount = ScratchMount.Bind(_temp.File("folder"), _temp.File("readonly"), readOnly: true);
        var array = new NpyArray([3], new[] { 1f, 2f, 3f });
        foreach (var (name, force) in new[] { ("new.npy", false), ("existing.npy", true) })
        {
            string output = Path.Combine(mount.Path, name);
            var ex = Assert.Throws<QuantShellException>(() => array.Write(output, new WriteOptions { Force = force }));
            Assert.Equal(ErrorIds.OutputDirectoryUnwritable, ex.ErrorId);
            Assert.Equal(QuantShellErrorKind.WriteFailed, ex.Kind);
            Assert.Contains("read-only file system", ex.Message);
            Assert.Contains(output, ex.Message);
        }
        Assert.Equal(new[] { "existing.npy" }, Directory.GetFiles(_temp.File("folder")).Select(Path.GetFileName));
        Assert.Equal(new byte[] { 9, 9, 9 }, File.ReadAllBytes(_temp.File("folder/existing.npy")));
    }
}
