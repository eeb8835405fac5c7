using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Processing;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Tests;

/// <summary>
/// Values chosen per channel (along an axis with only length-1 axes before it) or, with no clipping, per tensor, of an
/// .npy file are chosen from the file's channels read block by block (and quantized block by block where each block's
/// values are final when it is read), or from the channels read straight from the file: the same values, results,
/// statistics, output bytes and errors as the general path (the whole array read, then split), which a stream input
/// still takes.
/// </summary>
public sealed class ChannelReadTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly long _blockBytes = NpyChannelBlocks.BlockBytes;
    private readonly long _extremesBlockBytes = NpyChannelBlocks.ExtremesBlockBytes;

    public void Dispose()
    {
        NpyChannelBlocks.BlockBytes = _blockBytes;
        NpyChannelBlocks.ExtremesBlockBytes = _extremesBlockBytes;
        _temp.Dispose();
    }

    /// <summary>How a case's values are chosen from the file.</summary>
    public enum Path
    {
        /// <summary>Read, chosen, quantized and written block by block (no clipping per channel: each channel's extremes found as it is read).</summary>
        OnePass,
        /// <summary>
        /// No clipping per tensor, or per channel where the one pass does not apply (channels of fewer than 64 values): each
        /// channel's extremes found in a pass over the file, then the file streamed.
        /// </summary>
        Extremes,
        /// <summary>Chosen block by block, then the file streamed.</summary>
        Blocks,
        /// <summary>Each channel read into its own array (what cannot be chosen block by block).</summary>
        Channels,
        /// <summary>The optimal search per tensor: the tensor's extremes and samples gathered in a pass over the file, then the file streamed.</summary>
        Sample,
    }

    public static TheoryData<QuantizationMethod, ErrorMethod, SelectionSearch, bool, Path> Cases()
    {
        var cases = new TheoryData<QuantizationMethod, ErrorMethod, SelectionSearch, bool, Path>();
        foreach (bool asDouble in new[] { false, true })
        {
            foreach (var method in new[] { QuantizationMethod.Pot, QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
                foreach (var search in new[] { SelectionSearch.Mct, SelectionSearch.Optimal })
                    cases.Add(method, ErrorMethod.NoClipping, search, asDouble, Path.OnePass);
            foreach (var error in new[] { ErrorMethod.Mse, ErrorMethod.Mae, ErrorMethod.Lp, ErrorMethod.Kl })
                cases.Add(QuantizationMethod.Pot, error, SelectionSearch.Mct, asDouble, Path.OnePass);
            cases.Add(QuantizationMethod.Pot, ErrorMethod.Mse, SelectionSearch.Optimal, asDouble, Path.OnePass);
            cases.Add(QuantizationMethod.Pot, ErrorMethod.Percentile, SelectionSearch.Mct, asDouble, Path.Channels);
            foreach (var method in new[] { QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
                foreach (var error in new[] { ErrorMethod.Mse, ErrorMethod.Mae, ErrorMethod.Lp, ErrorMethod.Kl })
                    cases.Add(method, error, SelectionSearch.Mct, asDouble, Path.Blocks);
            cases.Add(QuantizationMethod.Symmetric, ErrorMethod.Mse, SelectionSearch.Optimal, asDouble, Path.Channels);
            cases.Add(QuantizationMethod.Uniform, ErrorMethod.Mse, SelectionSearch.Optimal, asDouble, Path.Channels);
            cases.Add(QuantizationMethod.LutSymmetric, ErrorMethod.Mse, SelectionSearch.Mct, asDouble, Path.Channels);
        }
        return cases;
    }

    [Fact]
    public void Cases_CoverEveryPathInBothPrecisions()
    {
        var cases = Cases().Select(row => ((QuantizationMethod)row[0], (ErrorMethod)row[1], (SelectionSearch)row[2], (bool)row[3], (Path)row[4])).ToArray();
        Assert.Equal(46, cases.Length);
        Assert.Equal(22, cases.Count(c => c.Item5 == Path.OnePass));
        Assert.Equal(12, cases.Count(c => c.Item5 == Path.OnePass && c.Item2 == ErrorMethod.NoClipping));
        Assert.Equal(16, cases.Count(c => c.Item5 == Path.Blocks));
        Assert.Equal(8, cases.Count(c => c.Item5 == Path.Channels));
        Assert.Equal(23, cases.Count(c => c.Item4));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChosenFromChannelsReadFromTheFile_EqualsTheWholeArraysChoice(QuantizationMethod method, ErrorMethod errorMethod, SelectionSearch search, bool asDouble, Path path)
    {
        var random = new Random(20 + (int)method * 7 + (int)errorMethod + (asDouble ? 100 : 0));
        long[] shape = [7, 5, 40];
        var values = Enumerable.Range(0, 7 * 200).Select(i => (random.NextDouble() * 2 - 1) * (1 + i / 200)).ToArray();
        var arguments = new QuantizerArguments { Method = method, NumBits = 4, PerChannel = true, ErrorMethod = errorMethod, Search = search, P = errorMethod == ErrorMethod.Lp ? 3 : null };
        AssertPath(arguments, shape, 0, asDouble, path);
        // Blocks of one to three channels; output chunks that end inside channels. Searches across blocks also on small
        // values, where MCT's search stops early on the mean improvement of all channels.
        foreach (double scale in path == Path.Blocks ? new[] { 1, 1e-5 } : [1])
            foreach (long blockBytes in new long[] { 1, 2 * 200 * (asDouble ? 8 : 4) + 7, 1L << 24 })
            {
                NpyChannelBlocks.BlockBytes = blockBytes;
                AssertSameAsWholeArray(shape, values.Select(v => v * scale).ToArray(), asDouble, arguments, path, chunkBytes: 1000);
            }
        if (errorMethod != ErrorMethod.NoClipping) return;
        // No clipping: blocks of three channels by their own limit (under a larger BlockBytes), each channel read in parts
        // of 33 floats or 16 doubles (shorter than the extremes' vector loop; parts that end inside channels).
        NpyChannelBlocks.BlockBytes = 1L << 24;
        NpyChannelBlocks.ExtremesBlockBytes = 3 * 200 * (asDouble ? 8 : 4) + 1;
        foreach (int chunkBytes in new[] { 132, 1000 })
            AssertSameAsWholeArray(shape, values, asDouble, arguments, path, chunkBytes);
    }

    public static TheoryData<QuantizationMethod, SelectionSearch, int> ExtremesBlockCases()
    {
        var cases = new TheoryData<QuantizationMethod, SelectionSearch, int>();
        foreach (var method in new[] { QuantizationMethod.Pot, QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
            foreach (var search in new[] { SelectionSearch.Mct, SelectionSearch.Optimal })
                foreach (int perBlock in new[] { 1, 3, 10 })
                    cases.Add(method, search, perBlock);
        return cases;
    }

    [Fact]
    public void ExtremesBlockCases_AreEighteen() => Assert.Equal(18, ExtremesBlockCases().Count);

    [Theory]
    [MemberData(nameof(ExtremesBlockCases))]
    public void NoClippingPerChannel_FromBlocksOfExtremes_IsTheChoiceFromAllChannelsExtremes(QuantizationMethod method, SelectionSearch search, int perBlock)
    {
        var random = new Random(11 * (int)method + (int)search + perBlock);
        long[] shape = [10, 50];
        // Channels of both signs, of one sign, of zeros only (both signs of zero) and of one value.
        var channels = Enumerable.Range(0, 10).Select(c => Enumerable.Range(0, 50).Select(i => c switch
        {
            3 => (float)(random.NextDouble() * 2),
            4 => -(float)(random.NextDouble() * 0.01),
            5 => i % 3 == 0 ? -0f : 0f,
            6 => 0.25f,
            _ => (float)((random.NextDouble() - 0.5) * (c + 1)),
        }).ToArray()).ToArray();
        var extremes = channels.Select(c => ChannelBlockSelection<float>.Extremes(c)).ToArray();
        var recipe = new QuantizerArguments { Method = method, NumBits = 5, PerChannel = true, ErrorMethod = ErrorMethod.NoClipping, Search = search }.Check();
        var all = ChannelBlockSelection<float>.For(recipe.Spec, recipe.Selection!, shape, 0)!.CompleteFromExtremes(extremes)!;
        var selection = ChannelBlockSelection<float>.For(recipe.Spec, recipe.Selection!, shape, 0)!;
        Assert.True(selection.FinalPerBlock);
        Assert.True(selection.FromExtremes);
        for (int c = 0; c < 10; c += perBlock)
        {
            int end = Math.Min(10, c + perBlock);
            Assert.Null(selection.Complete()); // not every channel taken yet
            Assert.True(selection.TryAddExtremes(extremes[c..end]));
            // Each block's values are final: those of its channels in the choice from all channels.
            var block = selection.BlockSpec!;
            if (method == QuantizationMethod.Uniform)
            {
                Assert.Equal(all.MinRange!.Skip(c).Take(end - c), block.MinRange!);
                Assert.Equal(all.MaxRange!.Skip(c).Take(end - c), block.MaxRange!);
            }
            else Assert.Equal(all.Threshold!.Skip(c).Take(end - c), block.Threshold!);
            Assert.Equal(all.Signed, block.Signed);
        }
        var joined = selection.Complete()!;
        Assert.Equal(all.ToString(), joined.ToString());
        Assert.Equal(all.Threshold, joined.Threshold);
        Assert.Equal(all.MinRange, joined.MinRange);
        Assert.Equal(all.MaxRange, joined.MaxRange);
        Assert.Equal(all.ChannelAxis, joined.ChannelAxis);
        Assert.Equal(0, joined.ChannelAxis);

        // A channel with no finite value: MCT's choice depends on all channels, so the blocks give up.
        var withoutFinite = ChannelBlockSelection<float>.For(recipe.Spec, recipe.Selection!, shape, 0)!;
        Assert.False(withoutFinite.TryAddExtremes([extremes[0], null]));
        // Per tensor the values come from the tensor's extremes, not from blocks.
        var perTensor = new QuantizerArguments { Method = method, NumBits = 5, ErrorMethod = ErrorMethod.NoClipping, Search = search }.Check();
        var tensor = ChannelBlockSelection<float>.For(perTensor.Spec, perTensor.Selection!, shape, null)!;
        Assert.False(tensor.FinalPerBlock);
        Assert.True(tensor.FromExtremes);
        Assert.Throws<InvalidOperationException>(() => tensor.TryAddExtremes([extremes[0]]));
    }

    [Theory]
    [InlineData(QuantizationMethod.Pot, false, 63)]
    [InlineData(QuantizationMethod.Symmetric, false, 63)]
    [InlineData(QuantizationMethod.Uniform, true, 63)]
    [InlineData(QuantizationMethod.Symmetric, true, 64)]
    [InlineData(QuantizationMethod.Uniform, false, 64)]
    public void PerChannelNoClipping_TakesTheOnePassFromChannelsOf64Values_ElseTheTwoPasses(QuantizationMethod method, bool asDouble, int length)
    {
        // The one pass runs the kernel on whole channel pieces, from 64 values on; shorter channels take two passes, as
        // do output chunks at or above the size the kernel writes around the cache (whose sums depend on alignment).
        var random = new Random(length * 3 + (int)method);
        long[] shape = [9, length];
        var values = Enumerable.Range(0, 9 * length).Select(i => (random.NextDouble() - 0.4) * (1 + i % 4)).ToArray();
        var arguments = new QuantizerArguments { Method = method, NumBits = 6, PerChannel = true, ErrorMethod = ErrorMethod.NoClipping };
        NpyChannelBlocks.ExtremesBlockBytes = 2 * length * (asDouble ? 8 : 4);
        AssertSameAsWholeArray(shape, values, asDouble, arguments, length >= 64 ? Path.OnePass : Path.Extremes, chunkBytes: 100);
        AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.Extremes, chunkBytes: FakeQuantizeKernel.NonTemporalBytes);
    }

    [Theory]
    [InlineData(QuantizationMethod.Symmetric, false)]
    [InlineData(QuantizationMethod.Uniform, false)]
    [InlineData(QuantizationMethod.Symmetric, true)]
    [InlineData(QuantizationMethod.Pot, false)]
    public void ChannelsOfBoundedSearches_EqualTheWholeArraysChoice(QuantizationMethod method, bool asDouble)
    {
        // Channels long enough for the errors to be bounded from histograms (whose bins are shared out by all channels).
        var random = new Random(41 + (int)method);
        long[] shape = [5, 70_000];
        var values = Enumerable.Range(0, 5 * 70_000).Select(i => random.NextDouble() * (i / 70_000 + 1) - 0.3).ToArray();
        NpyChannelBlocks.BlockBytes = 2 * 70_000 * 4;
        AssertSameAsWholeArray(shape, values, asDouble, new QuantizerArguments { Method = method, NumBits = 3, PerChannel = true },
                               method == QuantizationMethod.Pot ? Path.OnePass : Path.Blocks);
    }

    [Theory]
    [InlineData(QuantizationMethod.Symmetric, ErrorMethod.Mse)]
    [InlineData(QuantizationMethod.Uniform, ErrorMethod.Mse)]
    [InlineData(QuantizationMethod.Pot, ErrorMethod.NoClipping)]
    [InlineData(QuantizationMethod.Symmetric, ErrorMethod.NoClipping)]
    public void AnAxisAfterLengthOneAxes_EqualsTheWholeArraysChoice(QuantizationMethod method, ErrorMethod errorMethod)
    {
        var random = new Random(7);
        long[] shape = [1, 6, 100];
        var values = Enumerable.Range(0, 600).Select(i => random.NextDouble() * (i % 7 + 1) - 2).ToArray();
        var arguments = new QuantizerArguments { Method = method, NumBits = 5, PerChannel = true, ChannelAxis = 1, ErrorMethod = errorMethod };
        var path = errorMethod == ErrorMethod.NoClipping ? Path.OnePass : Path.Blocks;
        AssertPath(arguments, shape, 1, asDouble: false, path);
        NpyChannelBlocks.BlockBytes = 1;
        AssertSameAsWholeArray(shape, values, false, arguments, path);
    }

    [Theory]
    [InlineData(QuantizationMethod.Pot, false)]
    [InlineData(QuantizationMethod.Symmetric, false)]
    [InlineData(QuantizationMethod.Uniform, false)]
    [InlineData(QuantizationMethod.Uniform, true)]
    public void PerTensorNoClipping_EqualsTheWholeArraysChoice(QuantizationMethod method, bool asDouble)
    {
        var random = new Random(3 + (int)method);
        long[] shape = [9, 333];
        var values = Enumerable.Range(0, 9 * 333).Select(i => (random.NextDouble() - 0.6) * 3).ToArray();
        var arguments = new QuantizerArguments { Method = method, NumBits = 8, ErrorMethod = ErrorMethod.NoClipping };
        AssertPath(arguments, shape, null, asDouble, Path.Extremes);
        // Chunks that end inside rows, and one chunk for the whole tensor.
        foreach (int chunkBytes in new[] { 1000, 1 << 20 })
            AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.Extremes, chunkBytes);
    }

    public static TheoryData<string, QuantizationMethod, ErrorMethod, bool> NonFiniteCases()
    {
        var cases = new TheoryData<string, QuantizationMethod, ErrorMethod, bool>();
        foreach (string kind in new[] { "nan", "inf", "nan-channel", "zeros" })
            foreach (var (method, error) in new[] { (QuantizationMethod.Pot, ErrorMethod.NoClipping), (QuantizationMethod.Uniform, ErrorMethod.NoClipping),
                                                     (QuantizationMethod.Pot, ErrorMethod.Mse), (QuantizationMethod.Symmetric, ErrorMethod.Mse),
                                                     (QuantizationMethod.Uniform, ErrorMethod.Mae) })
                foreach (bool allow in new[] { false, true })
                    cases.Add(kind, method, error, allow);
        return cases;
    }

    [Fact]
    public void NonFiniteCases_AreFortyInAll() => Assert.Equal(40, NonFiniteCases().Count());

    [Theory]
    [MemberData(nameof(NonFiniteCases))]
    public void NonFiniteValuesAndSignedZeros_GiveTheWholeArraysValuesAndErrors(string kind, QuantizationMethod method, ErrorMethod errorMethod, bool allowNonFinite)
    {
        var random = new Random(kind.Length * 31 + (int)method);
        long[] shape = [6, 80];
        var values = Enumerable.Range(0, 480).Select(i => random.NextDouble() * 2 - 1).ToArray();
        switch (kind)
        {
            case "nan":
                values[85] = double.NaN;
                values[300] = double.NaN;
                break;
            case "inf":
                values[170] = double.PositiveInfinity;
                values[171] = double.NegativeInfinity;
                break;
            case "nan-channel": // no finite value in channel 3: MCT has nothing to choose from there
                for (int i = 240; i < 320; i++) values[i] = double.NaN;
                break;
            default: // channels of zeros only, of both signs in both orders
                for (int i = 80; i < 160; i++) values[i] = i % 2 == 0 ? -0.0 : 0.0;
                for (int i = 160; i < 240; i++) values[i] = i % 3 == 0 ? 0.0 : -0.0;
                for (int i = 400; i < 480; i++) values[i] = Math.Abs(values[i]) * (i % 5) - 0.0;
                values[405] = -0.0;
                break;
        }
        var arguments = new QuantizerArguments { Method = method, NumBits = 4, PerChannel = true, ErrorMethod = errorMethod };
        // A channel with no finite value is left to the channels read whole (MCT's choice then depends on all channels).
        var path = kind == "nan-channel" ? Path.Channels : errorMethod == ErrorMethod.NoClipping || method == QuantizationMethod.Pot ? Path.OnePass : Path.Blocks;
        // Blocks of one channel with chunks shorter than a vector loop, and one block and chunk for all.
        foreach (var (blockBytes, chunkBytes) in new[] { (1L, 100), (1L << 24, 1 << 20) })
        {
            NpyChannelBlocks.BlockBytes = blockBytes;
            AssertSameAsWholeArray(shape, values, false, arguments, path, chunkBytes, allowNonFinite);
            AssertSameAsWholeArray(shape, values, true, arguments, path, chunkBytes, allowNonFinite);
        }
        if (kind == "zeros" && errorMethod == ErrorMethod.NoClipping)
            AssertSameAsWholeArray(shape, values, false, arguments with { PerChannel = false }, Path.Extremes, chunkBytes: 100);
    }

    public static TheoryData<QuantizationMethod, ErrorMethod, bool, string> LargeOptimalCases()
    {
        var cases = new TheoryData<QuantizationMethod, ErrorMethod, bool, string>();
        foreach (bool asDouble in new[] { false, true })
            foreach (var method in new[] { QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
            {
                foreach (var error in new[] { ErrorMethod.Mse, ErrorMethod.Mae, ErrorMethod.Kl })
                    cases.Add(method, error, asDouble, "random");
                foreach (string kind in new[] { "nan", "inf", "zeros" })
                    cases.Add(method, ErrorMethod.Mse, asDouble, kind);
            }
        return cases;
    }

    [Fact]
    public void LargeOptimalCases_AreTwentyFour() => Assert.Equal(24, LargeOptimalCases().Count());

    /// <summary>
    /// The optimal search of a tensor too large for MCT's choice to be a candidate (here every tensor: the limit set to
    /// 0) is each channel's own, so a file's channels are chosen, quantized and written block by block: the same values,
    /// results and bytes as the whole array's choice.
    /// </summary>
    [Theory]
    [MemberData(nameof(LargeOptimalCases))]
    public void OptimalSearchOfALargeTensor_IsChosenBlockByBlockAsFromTheWholeArray(QuantizationMethod method, ErrorMethod errorMethod, bool asDouble, string kind)
    {
        var random = new Random(60 + (int)method * 5 + (int)errorMethod + (asDouble ? 50 : 0) + kind.Length);
        long[] shape = [5, 300];
        var values = Enumerable.Range(0, 1500).Select(i => (random.NextDouble() * 2 - 0.8) * (1 + i / 300)).ToArray();
        switch (kind)
        {
            case "nan":
                values[310] = double.NaN;
                values[1499] = double.NaN;
                break;
            case "inf":
                values[0] = double.PositiveInfinity;
                values[900] = double.NegativeInfinity;
                break;
            case "zeros": // a channel of zeros of both signs, and signed zeros among other values
                for (int i = 300; i < 600; i++) values[i] = i % 3 == 0 ? 0.0 : -0.0;
                for (int i = 1200; i < 1500; i += 7) values[i] = -0.0;
                break;
        }
        var arguments = new QuantizerArguments { Method = method, NumBits = 4, PerChannel = true, ErrorMethod = errorMethod, Search = SelectionSearch.Optimal };
        ParameterSelector.MctCandidateUpToOverride.Value = 0;
        try
        {
            AssertPath(arguments, shape, 0, asDouble, Path.OnePass);
            // Blocks of one and two channels and of all; output chunks that end inside channels.
            foreach (long blockBytes in new long[] { 1, 2 * 300 * (asDouble ? 8 : 4) + 5, 1L << 24 })
            {
                NpyChannelBlocks.BlockBytes = blockBytes;
                foreach (bool allow in kind == "random" ? new[] { false } : [false, true])
                    AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.OnePass, chunkBytes: 1000, allowNonFinite: allow);
            }
        }
        finally
        {
            ParameterSelector.MctCandidateUpToOverride.Value = null;
        }
    }

    [Theory]
    [InlineData(QuantizationMethod.Symmetric, false)]
    [InlineData(QuantizationMethod.Uniform, true)]
    public void OptimalSearchOfALargeTensor_WithChannelsScoredWhole_IsChosenBlockByBlockAsFromTheWholeArray(QuantizationMethod method, bool asDouble)
    {
        // Channels long enough for the coarse scans to be bounded on all values (ParameterSelector.CoarseOnAllFrom).
        var random = new Random(71 + (int)method);
        int length = ParameterSelector.CoarseOnAllFrom + 1000;
        long[] shape = [3, length];
        var values = Enumerable.Range(0, 3 * length).Select(i => random.NextDouble() * (i / length + 1) - 0.3).ToArray();
        var arguments = new QuantizerArguments { Method = method, NumBits = 3, PerChannel = true, Search = SelectionSearch.Optimal };
        ParameterSelector.MctCandidateUpToOverride.Value = 0;
        try
        {
            NpyChannelBlocks.BlockBytes = 2L * length * 4;
            AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.OnePass);
        }
        finally
        {
            ParameterSelector.MctCandidateUpToOverride.Value = null;
        }
    }

    public static TheoryData<QuantizationMethod, ErrorMethod, bool> SampledCases()
    {
        var cases = new TheoryData<QuantizationMethod, ErrorMethod, bool>();
        foreach (var method in new[] { QuantizationMethod.Symmetric, QuantizationMethod.Uniform })
            foreach (var error in new[] { ErrorMethod.Mse, ErrorMethod.Mae, ErrorMethod.Lp })
                foreach (bool asDouble in new[] { false, true })
                    cases.Add(method, error, asDouble);
        return cases;
    }

    [Fact]
    public void SampledCases_AreAllThere() => Assert.Equal(12, SampledCases().Count);

    [Theory]
    [MemberData(nameof(SampledCases))]
    public void OptimalSearchPerTensor_ChosenFromTheFilesSample_EqualsTheWholeArraysChoice(QuantizationMethod method, ErrorMethod errorMethod, bool asDouble)
    {
        // More values than the coarse scans' samples (2^14, 2^16: strided), read in chunks of 1000 bytes that end inside
        // values' runs, on two cores; then with NaN, infinities and signed zeros among them (allowed or refused).
        var random = new Random(83 + (int)method * 5 + (int)errorMethod + (asDouble ? 50 : 0));
        long[] shape = [3, 25_001];
        var values = Enumerable.Range(0, 75_003).Select(i => (random.NextDouble() * 2 - 0.8) * (1 + i % 7) + (i % 11 == 0 ? 3 * random.NextDouble() : 0)).ToArray();
        var arguments = new QuantizerArguments { Method = method, NumBits = 4, ErrorMethod = errorMethod, Search = SelectionSearch.Optimal, P = errorMethod == ErrorMethod.Lp ? 3 : null };
        Assert.Null(ChannelBlockSelection<float>.For(arguments.Check().Spec, arguments.Check().Selection!, shape, null)); // MCT's choice is a candidate here
        ParameterSelector.MctCandidateUpToOverride.Value = 1000;
        try
        {
            AssertPath(arguments, shape, null, asDouble, Path.Sample);
            AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.Sample, chunkBytes: 1000);
            values[5] = double.NaN;
            values[40_000] = double.PositiveInfinity;
            values[70_000] = double.NegativeInfinity;
            values[0] = -0.0;
            values[65_536] = 0.0;
            foreach (bool allow in new[] { false, true })
                AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.Sample, chunkBytes: 1000, allowNonFinite: allow);
        }
        finally
        {
            ParameterSelector.MctCandidateUpToOverride.Value = null;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OptimalSearchPerTensor_OfMoreValuesThanItsLargestSample_IsChosenFromTheFilesSample(bool asDouble)
    {
        // Beyond 2^20 values every sample is strided (the benchmark's case, smaller); an odd count splits the halves unevenly.
        var random = new Random(97);
        long[] shape = [(1 << 20) + 4_097];
        var values = Enumerable.Range(0, (int)shape[0]).Select(_ => random.NextDouble() * random.NextDouble() * (random.Next(2) * 2 - 1)).ToArray();
        var arguments = new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 8, Search = SelectionSearch.Optimal };
        AssertPath(arguments, shape, null, asDouble, Path.Sample);
        AssertSameAsWholeArray(shape, values, asDouble, arguments, Path.Sample);
    }

    [Theory]
    [InlineData(ErrorMethod.Mse)]
    [InlineData(ErrorMethod.NoClipping)]
    public void GroupWiseValues_AreTheWholeArraysChoice(ErrorMethod errorMethod)
    {
        // One set of values per channel and group of the last axis: not whole channels.
        var random = new Random(16);
        long[] shape = [4, 64];
        var values = Enumerable.Range(0, 256).Select(i => (random.NextDouble() - 0.5) * (1 + i % 64 / 16)).ToArray();
        AssertSameAsWholeArray(shape, values, false, new QuantizerArguments { Method = QuantizationMethod.Symmetric, NumBits = 4, GroupSize = 16, ErrorMethod = errorMethod },
                               Path.Channels);
    }

    [Fact]
    public void AnExistingOutput_IsRefusedAsByTheGeneralPath()
    {
        long[] shape = [3, 100];
        var values = Enumerable.Range(0, 300).Select(i => Math.Sin(i)).ToArray();
        string input = _temp.File("e.npy");
        new NpyArray(shape, values.Select(v => (float)v).ToArray()).Write(input);
        string output = _temp.File("e.q.npy");
        File.WriteAllBytes(output, [1, 2, 3]);
        var host = new RecordingHost();
        QuantizeJob.Run(new QuantizeRequest
        {
            Quantizer = new QuantizerArguments { Method = QuantizationMethod.Pot, NumBits = 4, PerChannel = true, ErrorMethod = ErrorMethod.NoClipping },
            OutputPath = output,
        }, [JobInput.File(input)], host);
        Assert.Equal(ErrorIds.OutputExists, Assert.Single(host.Errors).ErrorId);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(output));
    }

    [Theory]
    [InlineData(QuantizationMethod.Symmetric, 15, 3, 1.0)]
    [InlineData(QuantizationMethod.Uniform, 10, 4, 1.0)]
    [InlineData(QuantizationMethod.Symmetric, 40, 1, 1e-5)]
    [InlineData(QuantizationMethod.Uniform, 12, 5, 1e-5)]
    public void JoinedSearchRecords_EqualTheSearchOfAllChannels(QuantizationMethod method, int channelCount, int perBlock, double scale)
    {
        // Small values (errors of about 1e-12): the search of all channels stops early, when their mean improvement is
        // positive and below 1e-11, where running on would still have moved some channels' values.
        var random = new Random(channelCount * 13 + perBlock);
        var channels = Enumerable.Range(0, channelCount).Select(c => Enumerable.Range(0, 300)
            .Select(i => (float)((random.NextDouble() * (c + 1) - c / 2.0) * scale)).ToArray()).ToArray();
        var all = method == QuantizationMethod.Uniform
            ? MctWeightsSelection.UniformRanges(channels, 4, true, ErrorMethod.Mse, 2, false).SelectMany(r => new[] { r.Min, r.Max }).ToArray()
            : MctWeightsSelection.SymmetricThresholds(channels, 4, true, true, ErrorMethod.Mse, 2, false);
        var spec = new QuantizerSpec { Target = QuantizationTarget.Weights, Method = method, NumBits = 4, PerChannel = true, Signed = method == QuantizationMethod.Uniform ? null : true };
        long[] shape = [channelCount, 300];
        var selection = ChannelBlockSelection<float>.For(spec, new SelectionOptions(), shape, 0)!;
        Assert.False(selection.FinalPerBlock);
        for (int c = 0; c < channelCount; c += perBlock)
            Assert.True(selection.TryAdd(channels[c..Math.Min(channelCount, c + perBlock)]));
        var joined = selection.Complete()!;
        var fromAll = ParameterSelector.FromMct(spec with { ChannelAxis = 0 }, method == QuantizationMethod.Uniform
            ? new MctChoice { Ranges = Enumerable.Range(0, channelCount).Select(c => (all[2 * c], all[2 * c + 1])).ToArray() }
            : new MctChoice { Thresholds = all, Signed = true });
        Assert.Equal(fromAll.Threshold, joined.Threshold);
        Assert.Equal(fromAll.MinRange, joined.MinRange);
        Assert.Equal(fromAll.MaxRange, joined.MaxRange);
    }

    private static void AssertPath(QuantizerArguments arguments, long[] shape, int? axis, bool asDouble, Path path)
    {
        var recipe = arguments.Check();
        (bool FinalPerBlock, bool FromExtremes, bool FromSample)? selection = asDouble
            ? ChannelBlockSelection<double>.For(recipe.Spec, recipe.Selection!, shape, axis) is { } d ? (d.FinalPerBlock, d.FromExtremes, d.FromSample) : null
            : ChannelBlockSelection<float>.For(recipe.Spec, recipe.Selection!, shape, axis) is { } f ? (f.FinalPerBlock, f.FromExtremes, f.FromSample) : null;
        Assert.Equal(path, selection switch
        {
            null => Path.Channels,
            { FinalPerBlock: true } => Path.OnePass,
            { FromExtremes: true } => Path.Extremes,
            { FromSample: true } => Path.Sample,
            _ => Path.Blocks,
        });
    }

    /// <summary>Quantizes the file as a file (the paths read from it) and as a stream (the general path): everything equal.</summary>
    private void AssertSameAsWholeArray(long[] shape, double[] values, bool asDouble, QuantizerArguments arguments, Path? path, int chunkBytes = 1 << 20,
                                        bool allowNonFinite = false)
    {
        string input = _temp.File("w.npy");
        if (asDouble) new NpyArray(shape, values).Write(input, force: true);
        else new NpyArray(shape, values.Select(v => (float)v).ToArray()).Write(input, force: true);
        var request = new QuantizeRequest { Quantizer = arguments, ChunkBytes = chunkBytes, AllowNonFinite = allowNonFinite, Force = true };

        (QuantizationResult? Result, QuantShellException? Error, byte[]? Bytes) Run(JobInput job, string output)
        {
            if (File.Exists(output)) File.Delete(output);
            var host = new RecordingHost();
            QuantizeJob.Run(request with { OutputPath = output }, [job], host);
            return (host.Results.SingleOrDefault(), host.Errors.SingleOrDefault(), File.Exists(output) ? File.ReadAllBytes(output) : null);
        }

        var taken = new List<string>();
        NpyChannelBlocks.Taken.Value = taken.Add;
        var fromFile = Run(JobInput.File(input), _temp.File("file.q.npy"));
        NpyChannelBlocks.Taken.Value = null;
        var fromStream = Run(JobInput.Stream("w.npy", () => File.OpenRead(input)), _temp.File("stream.q.npy"));
        // A path that ends in an error is not told (the error is the general path's).
        if (path is { } expectedPath && fromFile.Error is null)
            Assert.Equal(expectedPath switch { Path.OnePass => ["one pass"], Path.Blocks => ["blocks"], Path.Extremes => ["extremes"], Path.Sample => ["sample"], _ => Array.Empty<string>() }, taken);
        Assert.Equal(fromStream.Error?.ErrorId, fromFile.Error?.ErrorId);
        Assert.Equal(fromStream.Error?.Message.Replace(input, "w.npy"), fromFile.Error?.Message.Replace(input, "w.npy"));
        Assert.Equal(fromStream.Bytes, fromFile.Bytes);
        Assert.Equal(fromStream.Result is null, fromFile.Result is null);
        if (fromStream.Result is not { } expected) return;
        var actual = fromFile.Result!;
        Assert.Equal(expected.ChannelAxis, actual.ChannelAxis);
        Assert.Equal(expected.Threshold, actual.Threshold);
        Assert.Equal(expected.MinRange, actual.MinRange);
        Assert.Equal(expected.MaxRange, actual.MaxRange);
        Assert.Equal(expected.LutValues, actual.LutValues);
        Assert.Equal(expected.Signed, actual.Signed);
        Assert.Equal(expected.Scale, actual.Scale);
        Assert.Equal(expected.ZeroPoint, actual.ZeroPoint);
        Assert.Equal(expected.ElementCount, actual.ElementCount);
        Assert.Equal(expected.NonFiniteCount, actual.NonFiniteCount);
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.Mse ?? -1), BitConverter.DoubleToInt64Bits(actual.Mse ?? -1));
        Assert.Equal(BitConverter.DoubleToInt64Bits(expected.SqnrDb ?? -1), BitConverter.DoubleToInt64Bits(actual.SqnrDb ?? -1));
        Assert.Equal(expected.Selection, actual.Selection);
        Assert.Equal(expected.Quantizer?.ToString(), actual.Quantizer?.ToString());
        if (expected.Threshold is { } t) Assert.Equal(t.Select(BitConverter.DoubleToInt64Bits), actual.Threshold!.Select(BitConverter.DoubleToInt64Bits));
        if (expected.MinRange is { } min) Assert.Equal(min.Select(BitConverter.DoubleToInt64Bits), actual.MinRange!.Select(BitConverter.DoubleToInt64Bits));
    }
}
