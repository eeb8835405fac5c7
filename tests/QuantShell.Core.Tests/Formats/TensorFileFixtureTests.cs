using QuantShell.Core.Formats;

namespace QuantShell.Core.Tests.Formats;

/// <summary>
/// Every reader against files written by real torch and numpy (tests/fixtures/models): what it lists, what it reads
/// (bit for bit against the .npy twins), and what its copies and fresh files hold when read back.
/// </summary>
public sealed class TensorFileFixtureTests
{
    public static TheoryData<string> Files() => new(ModelFixtures.Files);

    private static string StoredName(string file, StoredTensor tensor) =>
        file.EndsWith(".npz", StringComparison.Ordinal) ? tensor.DType.Name : tensor.StoredDType;

    [Fact]
    public void Fixtures_HoldEveryTensorTheGeneratorSaved()
    {
        Assert.Equal([15, 4, 7, 7, 8], ModelFixtures.Files.Select(f => ModelFixtures.Manifest(f).Count));
    }

    /// <summary>Set QUANTSHELL_FORMAT_OUTPUTS to a folder to keep the files written here (make_fixtures.py's check_outputs.py loads them with torch/numpy).</summary>
    private static void Keep(string path, string name)
    {
        string? folder = Environment.GetEnvironmentVariable("QUANTSHELL_FORMAT_OUTPUTS");
        if (!string.IsNullOrEmpty(folder)) File.Copy(path, Path.Combine(folder, name), overwrite: true);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Open_RecognisesTheKind(string file)
    {
        var expected = Path.GetExtension(file) switch { ".pt" => TensorFileKind.PyTorch, ".npz" => TensorFileKind.Npz, _ => TensorFileKind.Safetensors };
        Assert.Equal(expected, TensorFiles.Recognize(ModelFixtures.PathOf(file)));
        using var opened = TensorFiles.Open(ModelFixtures.PathOf(file), file);
        Assert.Equal(expected, opened.Kind);
    }

    [Fact]
    public void Open_NpyFile_IsOneTensorNamedAfterTheFile()
    {
        string twin = Path.Combine(ModelFixtures.Folder, "twins", "weights.npz", "dense.weight.npy");
        Assert.Equal(TensorFileKind.Npy, TensorFiles.Recognize(twin));
        using var opened = TensorFiles.Open(twin);
        var tensor = Assert.Single(opened.Tensors);
        Assert.Equal("dense.weight float32 (4, 3)", tensor.ToString());
        Assert.Equal(ModelFixtures.TwinBytes("weights.npz", "dense.weight"), ModelFixtures.ReadAll(opened, tensor));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Tensors_ListNamesDTypesAndShapesAsTorchAndNumpySaid(string file)
    {
        using var opened = TensorFiles.Open(ModelFixtures.PathOf(file), file);
        var expected = ModelFixtures.Manifest(file);
        var listed = opened.Tensors;
        // The PyTorch checkpoint's other values (epoch, learning rate, strings) are not tensors.
        Assert.Equal(expected.Select(e => e.Name).Order(StringComparer.Ordinal), listed.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var e in expected)
        {
            var tensor = opened.Tensor(e.Name);
            Assert.Equal(e.DType, StoredName(file, tensor));
            Assert.Equal(e.Shape, tensor.Shape);
            Assert.Equal(e.FortranOrder, tensor.FortranOrder);
        }
        Assert.Equal(Enumerable.Range(0, listed.Count), listed.Select(t => t.Index));
    }

    [Fact]
    public void StateDict_KeepsTheKeyOrderOfTorchSave()
    {
        using var opened = TensorFiles.Open(ModelFixtures.PathOf("state_dict.pt"), "state_dict.pt");
        Assert.Equal(ModelFixtures.Manifest("state_dict.pt").Select(e => e.Name), opened.Tensors.Select(t => t.Name));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void OpenTensor_EqualsTheTwinBitForBit(string file)
    {
        using var opened = TensorFiles.Open(ModelFixtures.PathOf(file), file);
        int compared = 0;
        foreach (var tensor in opened.Tensors)
        {
            byte[] bytes = ModelFixtures.ReadAll(opened, tensor);
            Assert.Equal(tensor.ByteCount, bytes.Length);
            Assert.Equal(ModelFixtures.TwinBytes(file, tensor.Name), bytes);
            compared++;
        }
        Assert.Equal(ModelFixtures.Manifest(file).Count, compared);
    }

    [Fact]
    public void Safetensors_ReadsMetadata()
    {
        using var opened = TensorFiles.Open(ModelFixtures.PathOf("model.safetensors"));
        Assert.Equal("pt", opened.Metadata["format"]);
        Assert.Equal("make_fixtures.py", opened.Metadata["source"]);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void WriteCopy_WithoutRewrites_RereadsEqual(string file)
    {
        using var temp = new TempDirectory();
        string copyPath = temp.File("copy" + Path.GetExtension(file));
        using (var opened = TensorFiles.Open(ModelFixtures.PathOf(file), file))
        using (var output = File.Create(copyPath))
            opened.WriteCopy(output, _ => null, CancellationToken.None);
        using var original = TensorFiles.Open(ModelFixtures.PathOf(file), file);
        using var copy = TensorFiles.Open(copyPath, "copy");
        Assert.Equal(original.Kind, copy.Kind);
        Assert.Equal(original.Tensors.Select(t => t.ToString()), copy.Tensors.Select(t => t.ToString()));
        Assert.Equal(original.Metadata, copy.Metadata);
        foreach (var tensor in original.Tensors)
            Assert.Equal(ModelFixtures.ReadAll(original, tensor), ModelFixtures.ReadAll(copy, copy.Tensor(tensor.Name)));
        if (file.EndsWith(".safetensors", StringComparison.Ordinal))
            Assert.Equal(File.ReadAllBytes(ModelFixtures.PathOf(file)), File.ReadAllBytes(copyPath)); // header kept, data in place
    }

    [Theory]
    [InlineData("state_dict.pt", "conv.weight")]
    [InlineData("state_dict.pt", "bf16.weight")]
    [InlineData("state_dict.pt", "transposed")] // non-contiguous: gathered, then scattered back
    [InlineData("state_dict.pt", "shared.tail")] // at an offset in a storage another tensor shares
    [InlineData("state_dict.pt", "shared.head")]
    [InlineData("checkpoint.pt", "model.fc.weight")]
    [InlineData("weights.npz", "dense.weight")]
    [InlineData("weights.npz", "fortran")]
    [InlineData("weights_compressed.npz", "half")]
    [InlineData("model.safetensors", "layer.0.weight")]
    [InlineData("model.safetensors", "mask")]
    public void WriteCopy_WithARewriter_ChangesExactlyThatTensor(string file, string rewritten)
    {
        using var temp = new TempDirectory();
        string copyPath = temp.File("copy" + Path.GetExtension(file));
        int asked = 0;
        using (var opened = TensorFiles.Open(ModelFixtures.PathOf(file), file))
        using (var output = File.Create(copyPath))
            opened.WriteCopy(output, t => { asked++; return t.Name == rewritten ? ModelFixtures.Complement : null; }, CancellationToken.None);
        Keep(copyPath, $"rewritten-{rewritten}-{file}");
        using var original = TensorFiles.Open(ModelFixtures.PathOf(file), file);
        Assert.Equal(original.Tensors.Count, asked);
        using var copy = TensorFiles.Open(copyPath, "copy");
        foreach (var tensor in original.Tensors)
        {
            var copied = copy.Tensor(tensor.Name);
            Assert.Equal(tensor.Shape, copied.Shape);
            Assert.Equal(tensor.DType, copied.DType);
            byte[] before = ModelFixtures.ReadAll(original, tensor);
            // A rewriter writes C order whatever it reads, so a rewritten Fortran-order .npz array is marked C order.
            byte[] after = ModelFixtures.ReadAll(copy, copied);
            if (tensor.Name != rewritten) Assert.Equal(before, after);
            else
            {
                Assert.Equal(ModelFixtures.Complemented(before), after);
                Assert.False(copied.FortranOrder);
            }
        }
    }

    [Fact]
    public void WriteCopy_TiedWeights_ShareTheirStorageInTheCopy()
    {
        using var temp = new TempDirectory();
        string copyPath = temp.File("copy.pt");
        using (var opened = TensorFiles.Open(ModelFixtures.PathOf("state_dict.pt")))
        using (var output = File.Create(copyPath))
            opened.WriteCopy(output, t => t.Name is "tied.embed" or "tied.decoder" or "shared.head" or "shared.tail" ? ModelFixtures.Complement : null, CancellationToken.None);
        Keep(copyPath, "rewritten-tied-state_dict.pt");
        using var original = TensorFiles.Open(ModelFixtures.PathOf("state_dict.pt"));
        using var copy = TensorFiles.Open(copyPath);
        foreach (string name in new[] { "tied.embed", "tied.decoder", "shared.head", "shared.tail" })
            Assert.Equal(ModelFixtures.Complemented(ModelFixtures.ReadAll(original, original.Tensor(name))), ModelFixtures.ReadAll(copy, copy.Tensor(name)));
        Assert.Equal(ModelFixtures.ReadAll(original, original.Tensor("conv.weight")), ModelFixtures.ReadAll(copy, copy.Tensor("conv.weight")));
    }

    [Theory]
    [InlineData(TensorFileKind.Safetensors, ".safetensors")]
    [InlineData(TensorFileKind.PyTorch, ".pt")]
    [InlineData(TensorFileKind.Npz, ".npz")]
    public void Write_ThenRead_RoundTrips(TensorFileKind kind, string extension)
    {
        using var temp = new TempDirectory();
        using var source = TensorFiles.Open(ModelFixtures.PathOf("state_dict.pt"));
        // Every dtype the fixtures hold that the format can write (.npy has no bfloat16).
        var tensors = source.Tensors.Where(t => kind != TensorFileKind.Npz || t.DType.Kind != DTypeKind.BFloat)
            .Select(t => new OutputTensor(t.Name, t.DType, t.Shape, stream => stream.Write(ModelFixtures.ReadAll(source, t)))).ToList();
        var metadata = new Dictionary<string, string> { [TensorFiles.RecordKey] = "{\"tensors\": {\"conv.weight\": \"é\"}}" };
        string path = temp.File("written" + extension);
        using (var output = File.Create(path))
            TensorFiles.Write(kind, output, tensors, metadata, CancellationToken.None);
        Keep(path, "written" + extension);

        using var written = TensorFiles.Open(path);
        Assert.Equal(kind, written.Kind);
        Assert.Equal(tensors.Select(t => t.Name), written.Tensors.Select(t => t.Name));
        foreach (var tensor in tensors)
        {
            var read = written.Tensor(tensor.Name);
            Assert.Equal(tensor.DType, read.DType);
            Assert.Equal(tensor.Shape, read.Shape);
            Assert.Equal(ModelFixtures.ReadAll(source, source.Tensor(tensor.Name)), ModelFixtures.ReadAll(written, read));
        }
        Assert.Equal(metadata[TensorFiles.RecordKey], written.Metadata[TensorFiles.RecordKey]);
        if (kind == TensorFileKind.Safetensors)
        {
            long headerLength = BitConverter.ToInt64(File.ReadAllBytes(path), 0);
            Assert.Equal(0, headerLength % 8);
        }
    }
}
