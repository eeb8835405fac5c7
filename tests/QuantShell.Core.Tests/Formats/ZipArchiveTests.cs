using System.IO.Compression;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Tests.Formats;

/// <summary>The zip writer behind .npz and PyTorch outputs, checked by System.IO.Compression as an independent reader.</summary>
public sealed class ZipArchiveTests
{
    [Fact]
    public void Npz_WithMoreEntriesThanAZip32Index_UsesZip64AndRereads()
    {
        const int count = 65_540;
        using var temp = new TempDirectory();
        string path = temp.File("many.npz");
        var tensors = Enumerable.Range(0, count)
            .Select(i => new OutputTensor($"t{i}", DType.Float32, [], stream => stream.Write(BitConverter.GetBytes((float)i)))).ToList();
        using (var output = File.Create(path))
            TensorFiles.Write(TensorFileKind.Npz, output, tensors, new Dictionary<string, string>(), CancellationToken.None);
        Keep(path);

        using (var archive = ZipFile.OpenRead(path))
            Assert.Equal(count, archive.Entries.Count);
        using var file = TensorFiles.Open(path);
        Assert.Equal(count, file.Tensors.Count);
        var last = file.Tensor($"t{count - 1}");
        Assert.Equal(BitConverter.GetBytes((float)(count - 1)), ModelFixtures.ReadAll(file, last));
    }

    [Theory]
    [InlineData("weights.npz")]
    [InlineData("weights_compressed.npz")]
    [InlineData("state_dict.pt")]
    public void Copies_AreReadableBySystemIOCompression_WithTheSameEntries(string fixture)
    {
        using var temp = new TempDirectory();
        string path = temp.File("copy" + Path.GetExtension(fixture));
        using (var opened = TensorFiles.Open(ModelFixtures.PathOf(fixture)))
        using (var output = File.Create(path))
            opened.WriteCopy(output, t => t.Index == 0 ? ModelFixtures.Complement : null, CancellationToken.None);
        using var original = ZipFile.OpenRead(ModelFixtures.PathOf(fixture));
        using var copy = ZipFile.OpenRead(path);
        Assert.Equal(original.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal), copy.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
        int same = 0;
        foreach (var entry in original.Entries)
        {
            var copied = copy.GetEntry(entry.FullName)!;
            Assert.Equal(entry.Length, copied.Length);
            if (Read(entry).SequenceEqual(Read(copied))) same++;
        }
        Assert.Equal(original.Entries.Count - 1, same); // only the rewritten tensor's entry differs
    }

    [Fact]
    public void PyTorchStorages_Are64ByteAligned()
    {
        using var temp = new TempDirectory();
        string path = temp.File("aligned.pt");
        using (var opened = TensorFiles.Open(ModelFixtures.PathOf("state_dict.pt")))
        using (var output = File.Create(path))
            opened.WriteCopy(output, t => t.Name == "conv.bias" ? ModelFixtures.Complement : null, CancellationToken.None);
        using var handle = File.OpenHandle(path);
        var archive = QuantShell.Core.Formats.Zip.ZipReader.Open(handle, path);
        var storages = archive.Entries.Where(e => e.Name.Contains("/data/", StringComparison.Ordinal)).ToList();
        Assert.Equal(13, storages.Count);
        Assert.All(storages, e => Assert.Equal(0, e.DataOffset % 64));
    }

    private static byte[] Read(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    private static void Keep(string path)
    {
        string? folder = Environment.GetEnvironmentVariable("QUANTSHELL_FORMAT_OUTPUTS");
        if (!string.IsNullOrEmpty(folder)) File.Copy(path, Path.Combine(folder, Path.GetFileName(path)), overwrite: true);
    }
}
