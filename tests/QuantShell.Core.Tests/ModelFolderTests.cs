using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Tests;

/// <summary>
/// Hugging Face model folders through the quantize job, on tests/fixtures/models/hf_sharded (two bfloat16 shards made
/// with torch; q_proj and up_proj have 40 input features, a ragged last group at group size 16). The shards are read
/// back by a safetensors reader and an unpacker of the pack-quantized layout written here, independent of the core's.
/// </summary>
public sealed class ModelFolderTests : IDisposable
{
    private static readonly string Fixture = Path.Combine(TestPaths.RepositoryRoot, "tests", "fixtures", "models", "hf_sharded");
    private static readonly string[] Shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    private static readonly string[] Linear =
    [
        "model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj", "model.layers.0.mlp.down_proj",
        "model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj",
    ];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private (RecordingHost Host, string Output) Quantize(QuantizerArguments arguments, OutputFormat form, string? input = null, string name = "out", Action<RecordingHost>? check = null)
    {
        string output = _temp.File(name);
        var host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, Format = form, OutputPath = output }, [JobInput.File(input ?? Fixture)], host);
        return (host, output);
    }

    [Fact]
    public void FakeFolder_QuantizesTheLinearWeights_CopiesEverythingElse_AndRewritesTheIndex()
    {
        var (host, output) = Quantize(new QuantizerArguments { Method = QuantizationMethod.Pot, NumBits = 4 }, OutputFormat.Fake);
        Assert.Empty(host.Errors);
        Assert.Equal(10, host.Results.Count);
        Assert.Equal(Linear.Select(m => m + ".weight").Order(), host.Results.Where(r => !r.Skipped).Select(r => r.TensorName!).Order());
        Assert.All(host.Results.Where(r => !r.Skipped), r => Assert.Equal((true, 0), (r.PerChannel!.Value, r.ChannelAxis!.Value)));
        foreach (string file in new[] { "config.json", "generation_config.json", "tokenizer.json", "README.md", Path.Combine("extra", "LICENSE.txt") })
            Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture, file)), File.ReadAllBytes(Path.Combine(output, file)));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")))!;
        var tensors = Shards.SelectMany(s => SafeTensors.Read(Path.Combine(output, s)).Select(t => (t.Key, s, t.Value.Data.Length))).ToList();
        Assert.Equal(tensors.Sum(t => (long)t.Length), (long)index["metadata"]!["total_size"]!);
        Assert.Equal(tensors.Select(t => (t.Key, t.s)).OrderBy(t => t.Key, StringComparer.Ordinal),
            index["weight_map"]!.AsObject().Select(p => (p.Key, (string)p.Value!)));
        // Skipped tensors are byte for byte the input's; quantized ones differ.
        foreach (string shard in Shards)
        {
            var before = SafeTensors.Read(Path.Combine(Fixture, shard));
            var after = SafeTensors.Read(Path.Combine(output, shard));
            foreach (var (name, tensor) in before)
                Assert.Equal(!Linear.Any(m => m + ".weight" == name), tensor.Data.SequenceEqual(after[name].Data));
        }
        Assert.Equal(["out"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    /// <summary>
    /// A folder's Linear weights are chosen by the folder default (no clipping) when no error method is given, as the
    /// results say; an error method given, or a rule (which chooses as a rule says), decides instead; an .npy file keeps MSE.
    /// </summary>
    [Fact]
    public void FolderDefault_IsNoClipping_UnlessAnErrorMethodOrARuleDecides()
    {
        int folders = 0;
        foreach (var (given, expected) in new (Selection.ErrorMethod?, Selection.ErrorMethod)[]
                 {
                     (null, Selection.SelectionOptions.DefaultFolderErrorMethod), (Selection.ErrorMethod.Mse, Selection.ErrorMethod.Mse),
                     (Selection.ErrorMethod.NoClipping, Selection.ErrorMethod.NoClipping),
                 })
        {
            var (host, _) = Quantize(new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 4, GroupSize = 8, ErrorMethod = given }, OutputFormat.CompressedTensors, name: $"out{folders}");
            Assert.Empty(host.Errors);
            var quantized = host.Results.Where(r => !r.Skipped).ToList();
            Assert.Equal(Linear.Length, quantized.Count);
            Assert.All(quantized, r => Assert.Equal(expected, r.Selection!.ErrorMethod));
            folders++;
        }
        Assert.Equal(3, folders);
        Assert.Equal(Selection.ErrorMethod.NoClipping, Selection.SelectionOptions.DefaultFolderErrorMethod);

        var rules = QuantizationRules.Parse("""{"rules": [{"match": "*.q_proj.weight", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 4, "perChannel": true, "channelAxis": 0, "groupSize": 8}}]}""", "rules");
        var ruled = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, Format = OutputFormat.CompressedTensors, OutputPath = _temp.File("ruled") }, [JobInput.File(Fixture)], ruled);
        Assert.Empty(ruled.Errors);
        Assert.All(ruled.Results.Where(r => !r.Skipped), r => Assert.Equal(Selection.SelectionOptions.DefaultErrorMethod, r.Selection!.ErrorMethod));
        Assert.Equal(2, ruled.Results.Count(r => !r.Skipped));

        var data = new float[] { 0.5f, -1.25f, 2f, 0.125f }.SelectMany(BitConverter.GetBytes).ToArray();
        string npy = NpyBuilder.WriteTemp(_temp.Path, "w.npy", NpyBuilder.Build(NpyBuilder.Dict("<f4", "(2, 2)"), data));
        var single = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 4 }, OutputPath = _temp.File("w.q.npy") }, [JobInput.File(npy)], single);
        Assert.Empty(single.Errors);
        Assert.Equal(Selection.SelectionOptions.DefaultErrorMethod, single.Results.Single().Selection!.ErrorMethod);
    }

    /// <summary>Each group's values equal a per-tensor quantizer of that group's threshold applied to that group alone (the ragged one too).</summary>
    [Theory]
    [InlineData(QuantizationMethod.Symmetric)]
    [InlineData(QuantizationMethod.Pot)]
    [InlineData(QuantizationMethod.Uniform)]
    public void GroupWise_EachGroupIsItsOwnQuantizer_RaggedLastGroupIncluded(QuantizationMethod method)
    {
        var (host, output) = Quantize(new QuantizerArguments { Method = method, NumBits = 4, GroupSize = 16, ErrorMethod = Selection.ErrorMethod.Mse }, OutputFormat.Fake);
        Assert.Empty(host.Errors);
        var result = host.Results.Single(r => r.TensorName == "model.layers.0.self_attn.q_proj.weight");
        Assert.Equal(16, result.GroupSize);
        int groups = 3; // 40 = 16 + 16 + 8
        Assert.Equal(40 * groups, (method == QuantizationMethod.Uniform ? result.MinRange : result.Threshold)!.Count);
        var input = SafeTensors.Read(Path.Combine(Fixture, Shards[0]))[result.TensorName!].Floats();
        var fake = SafeTensors.Read(Path.Combine(output, Shards[0]))[result.TensorName!].Floats();
        int checkedGroups = 0;
        for (int row = 0; row < 40; row++)
        {
            for (int g = 0; g < groups; g++)
            {
                int start = g * 16, length = Math.Min(16, 40 - start);
                int set = row * groups + g;
                var spec = new QuantizerSpec
                {
                    Target = QuantizationTarget.Weights, Method = method, NumBits = 4,
                    Threshold = method == QuantizationMethod.Uniform ? null : [result.Threshold![set]],
                    MinRange = method == QuantizationMethod.Uniform ? [result.MinRange![set]] : null,
                    MaxRange = method == QuantizationMethod.Uniform ? [result.MaxRange![set]] : null,
                };
                var slice = input.AsSpan(row * 40 + start, length).ToArray();
                var expected = new float[length];
                var stats = new Kernels.KernelStats();
                InferableQuantizer.Create(spec).CreatePlan([length]).Apply<float>(slice, expected, 0, ref stats);
                Assert.Equal(expected.Select(SafeTensors.RoundToBFloat16), fake.AsSpan(row * 40 + start, length).ToArray());
                checkedGroups++;
            }
        }
        Assert.Equal(120, checkedGroups);
    }

    /// <summary>
    /// The packed layout unpacked and dequantized here (in bfloat16, as the format's decompressor does) equals QuantShell's
    /// fake output of the quantizer each result reports, value for value; and dotnet quant dequantize reads it the same.
    /// </summary>
    [Theory]
    [InlineData(QuantizationMethod.Symmetric, 3, 8)]
    [InlineData(QuantizationMethod.Symmetric, 4, null)]
    [InlineData(QuantizationMethod.Pot, 8, 8)]
    [InlineData(QuantizationMethod.Uniform, 5, 8)]
    [InlineData(QuantizationMethod.Uniform, 2, null)]
    public void CompressedTensors_DequantizedPerTheFormat_EqualsTheFakeOutput(QuantizationMethod method, int bits, int? groupSize)
    {
        var (host, output) = Quantize(new QuantizerArguments { Method = method, NumBits = bits, GroupSize = groupSize }, OutputFormat.CompressedTensors);
        Assert.Empty(host.Errors);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal("llama", (string)config["model_type"]!);
        var q = config["quantization_config"]!;
        Assert.Equal(("compressed-tensors", "pack-quantized", "compressed"), ((string)q["quant_method"]!, (string)q["format"]!, (string)q["quantization_status"]!));
        var weights = q["config_groups"]!["group_0"]!["weights"]!;
        Assert.Equal(bits, (int)weights["num_bits"]!);
        Assert.Equal(method != QuantizationMethod.Uniform, (bool)weights["symmetric"]!);
        Assert.Equal(groupSize is null ? "channel" : "group", (string)weights["strategy"]!);
        Assert.Equal(groupSize, (int?)weights["group_size"]);
        Assert.Equal(["lm_head"], q["ignore"]!.AsArray().Select(n => (string)n!));

        int modules = 0;
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "model.safetensors.index.json")))!["weight_map"]!.AsObject();
        foreach (string shard in Shards)
        {
            var original = SafeTensors.Read(Path.Combine(Fixture, shard));
            var written = SafeTensors.Read(Path.Combine(output, shard));
            Assert.All(written.Keys, name => Assert.Equal(shard, (string)index[name]!));
            foreach (string module in Linear.Where(m => written.ContainsKey(m + ".weight_packed")))
            {
                Assert.False(written.ContainsKey(module + ".weight"));
                Assert.Equal(method == QuantizationMethod.Uniform, written.ContainsKey(module + ".weight_zero_point"));
                var result = host.Results.Single(r => r.TensorName == module + ".weight");
                var weight = original[module + ".weight"];
                long rows = weight.Shape[0], columns = weight.Shape[1];
                Assert.Equal([rows, columns], written[module + ".weight_shape"].Longs());
                Assert.Equal("BF16", written[module + ".weight_scale"].DType);
                var dequantized = PackedLayout.Dequantize(written, module, bits, groupSize);
                var expected = new float[rows * columns];
                var stats = new Kernels.KernelStats();
                InferableQuantizer.Create(result.Quantizer!).CreatePlan(weight.Shape).Apply<float>(weight.Floats(), expected, 0, ref stats);
                Assert.Equal(expected.Select(SafeTensors.RoundToBFloat16), dequantized);
                modules++;
            }
            string deq = _temp.File($"{shard}.deq.safetensors");
            var deqHost = new DequantizeRecordingHost();
            DequantizeJob.Run(new DequantizeRequest { OutputPath = deq }, [JobInput.File(Path.Combine(output, shard))], deqHost);
            Assert.Empty(deqHost.Errors);
            var back = SafeTensors.Read(deq);
            Assert.Equal(original.Keys.Order(), back.Keys.Order());
            foreach (string module in Linear.Where(m => written.ContainsKey(m + ".weight_packed")))
                Assert.Equal(PackedLayout.Dequantize(written, module, bits, groupSize), back[module + ".weight"].Floats());
        }
        Assert.Equal(5, modules);
    }

    /// <summary>
    /// The compressed-tensors writer chooses a weight's values from the rows it is writing, a chunk at a time: the same
    /// values, and the same bytes, as choosing from the whole tensor (one chunk), whatever the chunk, method or error method.
    /// </summary>
    [Theory]
    [InlineData(QuantizationMethod.Symmetric, Selection.ErrorMethod.Mse, 8)]
    [InlineData(QuantizationMethod.Symmetric, Selection.ErrorMethod.NoClipping, null)]
    [InlineData(QuantizationMethod.Pot, Selection.ErrorMethod.Mae, 8)]
    [InlineData(QuantizationMethod.Uniform, Selection.ErrorMethod.Mse, 8)]
    [InlineData(QuantizationMethod.Symmetric, Selection.ErrorMethod.Lp, null)]
    public void CompressedTensors_ValuesChosenRowByRow_EqualTheWholeTensorsChoice(QuantizationMethod method, Selection.ErrorMethod errorMethod, int? groupSize)
    {
        var arguments = new QuantizerArguments { Method = method, NumBits = 4, GroupSize = groupSize, ErrorMethod = errorMethod };
        string Run(string name, int chunkBytes)
        {
            string output = _temp.File(name);
            var host = new RecordingHost();
            QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, Format = OutputFormat.CompressedTensors, OutputPath = output, ChunkBytes = chunkBytes }, [JobInput.File(Fixture)], host);
            Assert.Empty(host.Errors);
            if (name == "rows")
            {
                // Each weight's values are those the selection chooses from the whole tensor at once.
                int compared = 0;
                foreach (var result in host.Results.Where(r => !r.Skipped))
                {
                    string shard = Shards.Single(s => SafeTensors.Read(Path.Combine(Fixture, s)).ContainsKey(result.TensorName!));
                    var weight = SafeTensors.Read(Path.Combine(Fixture, shard))[result.TensorName!];
                    var recipe = QuantizerRecipe.For(new QuantizerSpec
                    {
                        Target = QuantizationTarget.Weights, Method = method, NumBits = 4, PerChannel = true, ChannelAxis = 0, GroupSize = groupSize,
                    }, new Selection.SelectionOptions { ErrorMethod = errorMethod });
                    var whole = ExactScales.For(recipe.ResolveFor([new QuantShell.Core.Formats.NpyArray(weight.Shape, weight.Floats())], "whole").Spec, QuantShell.Core.Formats.DType.BFloat16, chosen: true, "whole");
                    Assert.Equal(whole.Threshold, result.Quantizer!.Threshold);
                    Assert.Equal(whole.MinRange, result.Quantizer!.MinRange);
                    Assert.Equal(whole.MaxRange, result.Quantizer!.MaxRange);
                    compared++;
                }
                Assert.Equal(Linear.Length, compared);
            }
            return output;
        }
        string rows = Run("rows", chunkBytes: 1), whole = Run("whole", chunkBytes: 1 << 20);
        foreach (string shard in Shards)
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole, shard)), File.ReadAllBytes(Path.Combine(rows, shard)));
    }

    [Fact]
    public void CompressedTensors_RaggedGroup_IsRefused_NamingTheTensor_AndNothingIsWritten()
    {
        var (host, output) = Quantize(new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 4, GroupSize = 16 }, OutputFormat.CompressedTensors);
        var error = Assert.Single(host.Errors);
        Assert.Equal(ErrorIds.OutputFormatNotSupported, error.ErrorId);
        Assert.Contains("q_proj.weight", error.Message);
        Assert.Contains("40 input features", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_temp.Path));
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void CompressedTensors_GivenThresholdOutsideBFloat16_IsRefusedWithTheNearestThatWorks()
    {
        var rules = QuantizationRules.Parse("""{"rules": [{"match": "*.q_proj.weight", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 4, "perChannel": true, "channelAxis": 0, "threshold": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]}}]}""", "rules");
        var host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), Rules = rules, Format = OutputFormat.CompressedTensors, OutputPath = _temp.File("out") }, [JobInput.File(Fixture)], host);
        var error = Assert.Single(host.Errors);
        Assert.Equal(ErrorIds.ScaleNotExactInDType, error.ErrorId);
        Assert.Contains("bfloat16", error.Message);
        Assert.Contains("give 0.10009765625", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_temp.Path));
    }

    public static TheoryData<string, string> BadFolders() => new()
    {
        { "missing shard", ErrorIds.ModelFolderShardMissing },
        { "tensor in two shards", ErrorIds.ModelFolderTensorInTwoShards },
        { "tensor in none", ErrorIds.ModelFolderTensorMissing },
        { "tensor not in the index", ErrorIds.ModelFolderTensorUnindexed },
        { "shape against config", ErrorIds.ModelFolderConfigMismatch },
        { "layer against config", ErrorIds.ModelFolderConfigMismatch },
        { "hostile header", ErrorIds.SafetensorsHeaderInvalid },
        { "shard outside the folder", ErrorIds.ModelFolderInvalid },
    };

    [Theory]
    [MemberData(nameof(BadFolders))]
    public void BadFolder_IsOneClearError_NamingFileAndTensor_AndNothingIsWritten(string problem, string errorId)
    {
        string input = _temp.File("in");
        CopyFolder(Fixture, input);
        string indexPath = Path.Combine(input, "model.safetensors.index.json");
        var index = JsonNode.Parse(File.ReadAllText(indexPath))!.AsObject();
        var map = index["weight_map"]!.AsObject();
        string expectedName = "";
        switch (problem)
        {
            case "missing shard":
                File.Delete(Path.Combine(input, Shards[1]));
                expectedName = "lm_head.weight";
                break;
            case "tensor in two shards":
                File.Copy(Path.Combine(input, Shards[0]), Path.Combine(input, Shards[1]), overwrite: true);
                expectedName = "model.embed_tokens.weight";
                break;
            case "tensor in none":
                map["model.layers.9.ghost.weight"] = Shards[0];
                expectedName = "model.layers.9.ghost.weight";
                break;
            case "tensor not in the index":
                map.Remove("model.norm.weight");
                expectedName = "model.norm.weight";
                break;
            case "shape against config":
                var config = JsonNode.Parse(File.ReadAllText(Path.Combine(input, "config.json")))!;
                config["vocab_size"] = 32000;
                File.WriteAllText(Path.Combine(input, "config.json"), config.ToJsonString());
                expectedName = "model.embed_tokens.weight";
                break;
            case "layer against config":
                var layers = JsonNode.Parse(File.ReadAllText(Path.Combine(input, "config.json")))!;
                layers["num_hidden_layers"] = 1;
                File.WriteAllText(Path.Combine(input, "config.json"), layers.ToJsonString());
                expectedName = "model.layers.1.";
                break;
            case "hostile header":
                var bytes = File.ReadAllBytes(Path.Combine(input, Shards[1]));
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue - 7);
                File.WriteAllBytes(Path.Combine(input, Shards[1]), bytes);
                expectedName = Shards[1];
                break;
            case "shard outside the folder":
                map["model.norm.weight"] = "../" + Shards[1];
                expectedName = "model.norm.weight";
                break;
        }
        File.WriteAllText(indexPath, index.ToJsonString());
        var (host, output) = Quantize(new QuantizerArguments { Method = QuantizationMethod.Pot }, OutputFormat.CompressedTensors, input);
        var error = Assert.Single(host.Errors);
        Assert.Equal(errorId, error.ErrorId);
        Assert.Contains(expectedName, error.Message);
        Assert.Contains("in" + Path.DirectorySeparatorChar, error.Message.Replace(input, "in"));
        Assert.Empty(host.Results);
        Assert.False(Directory.Exists(output));
        Assert.Equal(["in"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Output_NeverOverAnExistingFolderWithoutForce_NorInsideTheInput()
    {
        string output = _temp.File("out");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "keep.txt"), "mine");
        var host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = output }, [JobInput.File(Fixture)], host);
        Assert.Equal(ErrorIds.OutputExists, Assert.Single(host.Errors).ErrorId);
        Assert.Equal(["keep.txt"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));

        host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = output, Force = true }, [JobInput.File(Fixture)], host);
        Assert.Empty(host.Errors);
        Assert.False(File.Exists(Path.Combine(output, "keep.txt")));
        Assert.True(File.Exists(Path.Combine(output, Shards[1])));

        string input = _temp.File("in");
        CopyFolder(Fixture, input);
        host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = Path.Combine(input, "q"), Force = true }, [JobInput.File(input)], host);
        Assert.Equal(ErrorIds.OutputIsInput, Assert.Single(host.Errors).ErrorId);
        host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), OutputPath = input, Force = true }, [JobInput.File(input)], host);
        Assert.Equal(ErrorIds.OutputIsInput, Assert.Single(host.Errors).ErrorId);
        Assert.Equal(Directory.GetFiles(Fixture, "*", SearchOption.AllDirectories).Length, Directory.GetFiles(input, "*", SearchOption.AllDirectories).Length);
    }

    /// <summary>A snapshot of the Hugging Face cache links each file to a blob: read through the links, written as files.</summary>
    [Fact]
    public void CacheSnapshot_OfSymbolicLinks_IsReadThroughThem()
    {
        string blobs = _temp.File("blobs"), snapshot = _temp.File("snapshot");
        Directory.CreateDirectory(blobs);
        foreach (string file in Directory.GetFiles(Fixture, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Fixture, file);
            string blob = Path.Combine(blobs, Guid.NewGuid().ToString("N"));
            File.Copy(file, blob);
            string link = Path.Combine(snapshot, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(link)!);
            File.CreateSymbolicLink(link, blob);
        }
        var (host, output) = Quantize(new QuantizerArguments { NumBits = 4 }, OutputFormat.Fake, snapshot);
        Assert.Empty(host.Errors);
        Assert.Equal(5, host.Results.Count(r => !r.Skipped));
        foreach (string relative in new[] { "config.json", "tokenizer.json", Path.Combine("extra", "LICENSE.txt") })
        {
            Assert.Null(new FileInfo(Path.Combine(output, relative)).LinkTarget);
            Assert.Equal(File.ReadAllBytes(Path.Combine(Fixture, relative)), File.ReadAllBytes(Path.Combine(output, relative)));
        }
    }

    /// <summary>Parts in any order, then the final step, give the folder a whole run gives, byte for byte; a missing part is named.</summary>
    [Theory]
    [InlineData(OutputFormat.Fake, 3)]
    [InlineData(OutputFormat.CompressedTensors, 2)]
    public void SplitRun_PartsThenFinish_EqualsTheWholeRun(OutputFormat form, int parts)
    {
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 4, GroupSize = 8 };
        var (whole, wholeOutput) = Quantize(arguments, form, name: "whole");
        Assert.Empty(whole.Errors);
        string output = _temp.File("split");
        var results = new List<QuantizationResult>();
        for (int k = parts; k >= 1; k--)
        {
            var host = new RecordingHost();
            if (k == 1)
            {
                QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, Format = form, OutputPath = output, Finish = true }, [JobInput.File(Fixture)], host);
                Assert.Contains(ErrorIds.PartsIncomplete, host.Errors.Select(e => e.ErrorId));
                Assert.Contains("part-1-of-", Assert.Single(host.Errors).Message);
                host = new RecordingHost();
            }
            QuantizeJob.Run(new QuantizeRequest { Quantizer = arguments, Format = form, OutputPath = output, Part = $"{k}/{parts}" }, [JobInput.File(Fixture)], host);
            Assert.Empty(host.Errors);
            Assert.False(Directory.Exists(output));
            results.AddRange(host.Results);
        }
        var finish = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest { Quantizer = new QuantizerArguments(), Format = form, OutputPath = output, Finish = true }, [JobInput.File(Fixture)], finish);
        Assert.Empty(finish.Errors);
        Assert.Equal(whole.Results.Count, results.Count);
        var files = Directory.GetFiles(wholeOutput, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(wholeOutput, f)).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(output, f)).Order());
        foreach (string file in files)
            Assert.Equal(File.ReadAllBytes(Path.Combine(wholeOutput, file)), File.ReadAllBytes(Path.Combine(output, file)));
        Assert.Equal(["split", "whole"], Directory.GetFileSystemEntries(_temp.Path).Select(Path.GetFileName).Order());
    }

    [Theory]
    [InlineData("0/2")]
    [InlineData("3/2")]
    [InlineData("1/0")]
    [InlineData("a/b")]
    [InlineData("1-2")]
    public void Part_NotKOfN_IsRefused(string part)
    {
        var error = Assert.Throws<QuantShellException>(() => new QuantizeJob(new QuantizeRequest { Quantizer = new QuantizerArguments(), Part = part }, new RecordingHost()));
        Assert.Equal(ErrorIds.PartInvalid, error.ErrorId);
        Assert.Contains(part, error.Message);
    }

    [Fact]
    public void GroupSize_Rules_AreCheckedWithTheParameterNamed()
    {
        var cases = new (QuantizerArguments Arguments, string Parameter)[]
        {
            (new() { GroupSize = 0 }, "GroupSize"),
            (new() { GroupSize = 8, PerChannel = false }, "GroupSize"),
            (new() { GroupSize = 8, Target = QuantizationTarget.Activation }, "GroupSize"),
            (new() { GroupSize = 8, Method = QuantizationMethod.LutPot, NumBits = 3 }, "GroupSize"),
        };
        foreach (var (arguments, parameter) in cases)
        {
            var error = Assert.Throws<QuantizerValidationException>(() => arguments.Check());
            Assert.Equal((ErrorIds.GroupSizeInvalid, parameter), (error.ErrorId, error.ParameterName));
        }
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 4, PerChannel = true, GroupSize = 16, Threshold = [1, 1, 1] };
        var mismatch = Assert.Throws<QuantizerValidationException>(() => InferableQuantizer.Create(spec).CreatePlan([2, 24]));
        Assert.Equal(ErrorIds.ChannelCountMismatch, mismatch.ErrorId);
        Assert.Contains("give 4 values", mismatch.Message);
        var lastAxis = Assert.Throws<QuantizerValidationException>(() => InferableQuantizer.Create(spec with { ChannelAxis = 1, Threshold = [1, 1] }).CreatePlan([2, 24]));
        Assert.Equal(ErrorIds.GroupSizeInvalid, lastAxis.ErrorId);
        var roundTrip = QuantizerFile.Parse(QuantizerFile.ToJson(spec with { Threshold = [0.5, 0.25, 1, 0.125] }));
        Assert.Equal(16, roundTrip.GroupSize);
        Assert.Equal(0, roundTrip.ResolveChannels([2, 24], 4));
        Assert.Equal(16, QuantizerFile.Parse("""{"target": "weights", "method": "pot", "num_bits": 4, "threshold": [1, 2], "per_channel": true, "group_size": 16}""").GroupSize);
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    private sealed class DequantizeRecordingHost : JobHost<DequantizationResult>
    {
        public List<QuantShellException> Errors { get; } = [];

        public override void WriteResult(DequantizationResult result) { }

        public override void WriteError(QuantShellException error, JobInput? input) => Errors.Add(error);
    }
}

/// <summary>A minimal safetensors reader of the tests' own: header JSON, then each tensor's bytes.</summary>
internal static class SafeTensors
{
    public sealed record Tensor(string DType, long[] Shape, byte[] Data)
    {
        public float[] Floats() => DType switch
        {
            "BF16" => Enumerable.Range(0, Data.Length / 2).Select(i => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(Data.AsSpan(2 * i)) << 16)).ToArray(),
            "F32" => Enumerable.Range(0, Data.Length / 4).Select(i => BinaryPrimitives.ReadSingleLittleEndian(Data.AsSpan(4 * i))).ToArray(),
            _ => throw new InvalidOperationException(DType),
        };

        public long[] Longs() => Enumerable.Range(0, Data.Length / 8).Select(i => BinaryPrimitives.ReadInt64LittleEndian(Data.AsSpan(8 * i))).ToArray();

        public uint[] Words() => Enumerable.Range(0, Data.Length / 4).Select(i => BinaryPrimitives.ReadUInt32LittleEndian(Data.AsSpan(4 * i))).ToArray();
    }

    public static Dictionary<string, Tensor> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)length));
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            result[entry.Name] = new Tensor(entry.Value.GetProperty("dtype").GetString()!, entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
                bytes.AsSpan((int)(8 + length + offsets[0]), (int)(offsets[1] - offsets[0])).ToArray());
        }
        return result;
    }

    /// <summary>float32 to the nearest bfloat16 (ties to even), back as float32.</summary>
    public static float RoundToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFF + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000);
    }
}

/// <summary>
/// compressed-tensors' pack-quantized layout read the way its decompressor reads it: row r's element i at bit i*b of the
/// row's little-endian int32 words, stored as code + 2^(b-1); zero points packed likewise down each group's column; the
/// value (code - zero point) * scale computed in the scale's dtype (bfloat16).
/// </summary>
internal static class PackedLayout
{
    public static float[] Dequantize(Dictionary<string, SafeTensors.Tensor> shard, string module, int bits, int? groupSize)
    {
        var packed = shard[module + ".weight_packed"];
        var shape = shard[module + ".weight_shape"].Longs();
        int rows = (int)shape[0], columns = (int)shape[1], words = (int)packed.Shape[1];
        Assert.Equal((columns * bits + 31) / 32, words);
        var scale = shard[module + ".weight_scale"];
        int groups = (int)scale.Shape[1];
        Assert.Equal(groupSize is int g ? (columns + g - 1) / g : 1, groups);
        var scales = scale.Floats();
        Assert.All(scales, s => Assert.Equal(SafeTensors.RoundToBFloat16(s), s));
        var zeros = new int[rows * groups];
        if (shard.TryGetValue(module + ".weight_zero_point", out var zero))
        {
            var zeroWords = zero.Words();
            int zeroRows = (int)zero.Shape[0];
            Assert.Equal((rows * bits + 31) / 32, zeroRows);
            for (int gi = 0; gi < groups; gi++)
            {
                var column = Enumerable.Range(0, zeroRows).Select(w => zeroWords[w * groups + gi]).ToArray();
                for (int r = 0; r < rows; r++) zeros[r * groups + gi] = Bits(column, r, bits) - (1 << (bits - 1));
            }
        }
        var all = packed.Words();
        var values = new float[rows * columns];
        for (int r = 0; r < rows; r++)
        {
            var row = all.AsSpan(r * words, words).ToArray();
            for (int c = 0; c < columns; c++)
            {
                int set = r * groups + (groupSize is int size ? c / size : 0);
                int code = Bits(row, c, bits) - (1 << (bits - 1));
                values[r * columns + c] = SafeTensors.RoundToBFloat16(SafeTensors.RoundToBFloat16(code - zeros[set]) * scales[set]);
            }
        }
        return values;
    }

    /// <summary>The <paramref name="bits"/> bits from bit index*bits on, across a word boundary when they straddle one.</summary>
    private static int Bits(uint[] words, int index, int bits)
    {
        int value = 0;
        for (int b = 0; b < bits; b++)
        {
            int position = index * bits + b;
            value |= (int)((words[position / 32] >> (position % 32)) & 1) << b;
        }
        return value;
    }
}
