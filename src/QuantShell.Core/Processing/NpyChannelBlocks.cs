using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using QuantShell.Core.Diagnostics;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.Core.Selection.Mct;

namespace QuantShell.Core.Processing;

/// <summary>
/// A float32 or float64 .npy weight in C order whose values are chosen per channel along an axis with nothing but
/// length-1 axes before it (so each channel is one contiguous run of the file), or per tensor with no clipping or by the
/// optimal search of a large tensor, chosen without reading it whole. No clipping per tensor (or of channels too short for
/// the one pass): each channel's extremes in one pass in chunks, then the file streamed through the complete quantizer;
/// the optimal search per tensor likewise from the tensor's extremes and strided samples (<see cref="TensorSample{T}"/>).
/// No clipping per channel: one pass, each channel's extremes found part by part as it is read. Otherwise blocks of whole channels are read into buffers used again for every block; where
/// each block's values are final once it is read (<see cref="ChannelBlockSelection{T}.FinalPerBlock"/>), each block is
/// quantized and written as soon as its values are chosen (one pass over the file), else the blocks give the values and
/// the file is then streamed. Either way the values, the output bytes and the statistics are those of choosing from the
/// whole tensor (in one pass the kernel runs on the same pieces, in the same order, as when streaming: each chunk of the
/// output split where a channel ends).
/// </summary>
internal static class NpyChannelBlocks
{
    /// <summary>About how many bytes of channels a block holds (at least one channel).</summary>
    internal static long BlockBytes { get; set; } = 16L << 20;

    /// <summary>
    /// No clipping per channel: at most how many bytes of channels a block holds (at least one channel, and no more than
    /// <see cref="BlockBytes"/>): small enough that the block is still in the cache when it is quantized.
    /// </summary>
    internal static long ExtremesBlockBytes { get; set; } = 4L << 20;

    /// <summary>Told "one pass" or "blocks" when a file's values were chosen block by block (for tests; flows with the job).</summary>
    internal static readonly AsyncLocal<Action<string>?> Taken = new();

    private sealed class FallBackException : Exception;

    /// <summary>
    /// Quantizes <paramref name="inputPath"/> into <paramref name="outputPath"/> with values chosen from it block by block;
    /// null when they must be chosen from the whole tensor (the caller's general path then gives the same values or error).
    /// </summary>
    public static QuantizationResult? Quantize<T>(string inputPath, string inputName, string outputPath, NpyHeader header, int? axis, QuantizerRecipe recipe,
                                                  FileQuantizeOptions options, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        if (typeof(T) == typeof(float) && LutApplies(recipe, header))
            return QuantizeLut(inputPath, inputName, outputPath, header, axis, recipe, options, token);
        if (ChannelBlockSelection<T>.For(recipe.Spec, recipe.Selection!, header.Shape, axis) is not { } selection) return null;
        long channels = axis is int a ? header.Shape[a] : 1, inner = header.ElementCount / channels;
        var outputType = header.DType.QuantizedOutput;
        // One pass: the kernel's runs are whole channel pieces (no per-element tables), output in the input's type, chunks
        // below the size the kernel writes around the cache (whose sums depend on the buffer's alignment).
        bool onePass = selection.FinalPerBlock && inner >= 64 && outputType == header.DType && options.ChunkBytes < FakeQuantizeKernel.NonTemporalBytes;
        if (onePass)
        {
            try
            {
                PathChecks.CheckInputAndOutput(inputPath, outputPath, options.Force);
            }
            catch (QuantShellException)
            {
                return null; // the general path reports it, after any error choosing the values
            }
            using var input = NpyFiles.OpenRead(inputPath, inputName);
            try
            {
                var result = AtomicFile.Write(outputPath, options.Output,
                    output => OnePass<T>(input, inputName, output, Path.GetFullPath(outputPath), header, axis!.Value, selection, options, token));
                Taken.Value?.Invoke("one pass");
                return result;
            }
            catch (FallBackException)
            {
                return null;
            }
        }
        QuantizerSpec? spec;
        using (var input = NpyFiles.OpenRead(inputPath, inputName))
            spec = selection.FromExtremes ? ChooseFromExtremes(input, inputName, header, axis, selection, options, token)
                : selection.FromSample ? ChooseFromSample(input, inputName, header, selection, options, token)
                : Choose(input, inputName, header, axis, selection, token);
        if (spec is null) return null;
        InferableQuantizer quantizer;
        try
        {
            quantizer = InferableQuantizer.Create(spec);
        }
        catch (QuantShellException)
        {
            return null;
        }
        Taken.Value?.Invoke(selection.FromExtremes ? "extremes" : selection.FromSample ? "sample" : "blocks");
        return NpyQuantizer.QuantizeFile(inputPath, outputPath, quantizer, options, token);
    }

    /// <summary>
    /// MCT's weights LUT (float32, thresholds chosen): its thresholds depend only on each channel's extremes, and its table
    /// on the values scaled by them, aggregated (<see cref="LutWeightBins"/>), so one pass finds the extremes, one more
    /// the table's points, and the file is then streamed through the complete quantizer.
    /// </summary>
    private static bool LutApplies(QuantizerRecipe recipe, NpyHeader header) =>
        recipe.Spec is { IsLut: true, Threshold: null, Target: QuantizationTarget.Weights, GroupSize: null }
        && recipe.Selection is { Search: SelectionSearch.Mct } selection && selection.ErrorMethod != ErrorMethod.Percentile
        && recipe.Spec.EffectiveLutValuesBitwidth is >= 2 and <= 16
        && header.ElementCount >= MctLutSelection.AggregateFrom && header.ElementCount <= LutWeightBins.MaxValues;

    private static QuantizationResult? QuantizeLut(string inputPath, string inputName, string outputPath, NpyHeader header, int? axis, QuantizerRecipe recipe,
                                                   FileQuantizeOptions options, CancellationToken token)
    {
        var incomplete = recipe.Spec;
        QuantizerSpec spec;
        using (var input = NpyFiles.OpenRead(inputPath, inputName))
        {
            float[]? mins, maxs;
            using (Timeline.Time(TimelinePhase.Choose))
            {
                if (ChannelExtremes<float>(input, inputName, header, axis, options, token) is not { } extremes || extremes.Any(e => e is null)) return null;
                mins = extremes.Select(e => e![0]).ToArray();
                maxs = extremes.Select(e => e![1]).ToArray();
            }
            bool perChannel = incomplete.PerChannel;
            var thresholds = MctLutSelection.WeightsThresholds(mins, maxs, incomplete.NumBits, incomplete.Method == QuantizationMethod.LutPot, perChannel);
            var table = incomplete.LutValues?.ToArray();
            if (table is null)
            {
                var bins = new LutWeightBins(thresholds, perChannel, incomplete.NumBits, incomplete.EffectiveLutValuesBitwidth, incomplete.EffectiveEps);
                input.Position = header.DataOffset;
                using (Timeline.Time(TimelinePhase.Choose))
                {
                    foreach (var block in Blocks<float>(input, inputName, header, axis, token))
                        if (!bins.Add(block)) return null;
                    // Fewer values are each a point of their own (the whole tensor's path).
                    if (bins.Values < MctLutSelection.AggregateFrom) return null;
                    table = bins.Table(incomplete.NumBits, incomplete.EffectiveLutValuesBitwidth);
                }
            }
            try
            {
                var along = incomplete with { ChannelAxis = incomplete.ChannelAxis ?? axis };
                spec = ParameterSelector.FromMct(along, new MctChoice { Thresholds = thresholds, LutValues = table, Signed = true });
            }
            catch (QuantShellException)
            {
                return null;
            }
        }
        InferableQuantizer quantizer;
        try
        {
            quantizer = InferableQuantizer.Create(spec);
        }
        catch (QuantShellException)
        {
            return null;
        }
        Taken.Value?.Invoke("lut bins");
        return NpyQuantizer.QuantizeFile(inputPath, outputPath, quantizer, options, token);
    }

    /// <summary>
    /// No clipping: the complete spec from each channel's least and greatest finite values, found in one pass over the
    /// file in chunks (a buffer that stays in cache: the values are then streamed again through the quantizer, which
    /// moves less memory than holding blocks of channels between choosing and quantizing), or null.
    /// </summary>
    private static QuantizerSpec? ChooseFromExtremes<T>(FileStream input, string inputName, NpyHeader header, int? axis, ChannelBlockSelection<T> selection,
                                                        FileQuantizeOptions options, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        using var timer = Timeline.Time(TimelinePhase.Choose);
        return selection.CompleteFromExtremes(ChannelExtremes<T>(input, inputName, header, axis, options, token));
    }

    /// <summary>
    /// The optimal search per tensor: the spec from the tensor's extremes and strided samples (<see cref="TensorSample{T}"/>),
    /// gathered in one pass over the file in chunks, its halves read and gathered on two cores at once; or null (also
    /// where the file cannot be read: the general path then reports it).
    /// </summary>
    private static QuantizerSpec? ChooseFromSample<T>(FileStream input, string inputName, NpyHeader header, ChannelBlockSelection<T> selection,
                                                      FileQuantizeOptions options, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        using var timer = Timeline.Time(TimelinePhase.Choose);
        int size = Marshal.SizeOf<T>();
        long count = header.ElementCount;
        var sample = selection.NewSample();
        int chunk = (int)Math.Max(1, Math.Min(count, Math.Max(1, options.ChunkBytes) / size));
        var parts = sample.Split(count >= 4L * chunk ? Math.Min(2, Environment.ProcessorCount) : 1);
        var handle = input.SafeFileHandle;
        try
        {
            Parallel.For(0, parts.Length, new ParallelOptions { CancellationToken = token }, k =>
            {
                var part = parts[k];
                var buffer = new T[(int)Math.Min(chunk, part.End - part.Start)];
                for (long position = part.Start; position < part.End;)
                {
                    token.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(buffer.Length, part.End - position);
                    var values = buffer.AsSpan(0, n);
                    using (Timeline.Time(TimelinePhase.Read))
                        TensorFileHandles.ReadExactly(handle, MemoryMarshal.AsBytes(values), header.DataOffset + position * size, inputName, "its data");
                    part.Add(values);
                    position += n;
                }
            });
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex) when (ex is QuantShellException or AggregateException or IOException)
        {
            return null;
        }
        sample.Join(parts);
        return selection.CompleteFromSample(sample);
    }

    /// <summary>Each channel's least and greatest finite values (<see cref="ChannelBlockSelection{T}.Extremes(ReadOnlySpan{T})"/>; null: none), in one pass in chunks.</summary>
    private static T[]?[] ChannelExtremes<T>(FileStream input, string inputName, NpyHeader header, int? axis, FileQuantizeOptions options, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int size = Marshal.SizeOf<T>();
        long count = header.ElementCount, channels = axis is int a ? header.Shape[a] : 1, inner = count / channels;
        var extremes = new T[]?[channels];
        var buffer = new T[Math.Max(1, Math.Min(count, Math.Max(1, options.ChunkBytes) / size))];
        input.Position = header.DataOffset;
        for (long position = 0; position < count;)
        {
            token.ThrowIfCancellationRequested();
            int n = (int)Math.Min(buffer.Length, count - position);
            var values = buffer.AsSpan(0, n);
            NpyFiles.ReadExactly(input, MemoryMarshal.AsBytes(values), inputName, header);
            // Split where channels end.
            for (int offset = 0; offset < n;)
            {
                long channel = position / inner;
                int part = (int)Math.Min(n - offset, inner - position % inner);
                extremes[channel] = ChannelBlockSelection<T>.JoinExtremes(extremes[channel], ChannelBlockSelection<T>.Extremes(values.Slice(offset, part)));
                offset += part;
                position += part;
            }
        }
        return extremes;
    }

    /// <summary>The complete spec from the file's blocks, or null.</summary>
    private static QuantizerSpec? Choose<T>(FileStream input, string inputName, NpyHeader header, int? axis, ChannelBlockSelection<T> selection, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        input.Position = header.DataOffset;
        using var timer = Timeline.Time(TimelinePhase.Choose);
        foreach (var block in Blocks<T>(input, inputName, header, axis, token))
            if (!selection.TryAdd(block)) return null;
        return selection.Complete();
    }

    /// <summary>
    /// The file's values in blocks of whole channels (per tensor: in parts), in order; the arrays are the same ones each
    /// time, so a block is done with before the next is taken. With <paramref name="extremes"/>, blocks of at most
    /// <see cref="ExtremesBlockBytes"/>, each channel read in parts whose extremes it takes while they are in the cache.
    /// </summary>
    private static IEnumerable<T[][]> Blocks<T>(FileStream input, string inputName, NpyHeader header, int? axis, CancellationToken token,
                                               BlockExtremes<T>? extremes = null)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int size = Marshal.SizeOf<T>();
        long channels, inner;
        if (axis is int a)
        {
            channels = header.Shape[a];
            inner = header.ElementCount / channels;
        }
        else
        {
            // Per tensor: parts of the one channel, as many as the block holds.
            inner = Math.Max(1, Math.Min(header.ElementCount, Math.Min(BlockBytes / size, Array.MaxLength)));
            channels = (header.ElementCount + inner - 1) / inner;
        }
        long blockBytes = extremes is null ? BlockBytes : Math.Min(BlockBytes, ExtremesBlockBytes);
        int perBlock = (int)Math.Clamp(blockBytes / Math.Max(1, inner * size), 1, Math.Max(1, channels));
        var buffers = new T[perBlock][];
        for (int i = 0; i < perBlock; i++) buffers[i] = LargeArrays.Allocate<T>((int)inner);
        extremes?.Hold(perBlock);
        long left = header.ElementCount;
        for (long c = 0; c < channels; c += perBlock)
        {
            token.ThrowIfCancellationRequested();
            int count = (int)Math.Min(perBlock, channels - c);
            var block = count == perBlock ? buffers : buffers[..count];
            for (int i = 0; i < count; i++)
            {
                if (left < block[i].Length) block[i] = new T[left]; // the last part of a tensor read per tensor
                if (extremes is null)
                {
                    using (Timeline.Time(TimelinePhase.Read)) NpyFiles.ReadExactly(input, MemoryMarshal.AsBytes(block[i].AsSpan()), inputName, header);
                }
                else
                {
                    extremes.Of[i] = null;
                    for (int offset = 0; offset < block[i].Length; offset += extremes.PartValues)
                    {
                        var part = block[i].AsSpan(offset, Math.Min(extremes.PartValues, block[i].Length - offset));
                        using (Timeline.Time(TimelinePhase.Read)) NpyFiles.ReadExactly(input, MemoryMarshal.AsBytes(part), inputName, header);
                        using (Timeline.Time(TimelinePhase.Choose)) extremes.Of[i] = ChannelBlockSelection<T>.JoinExtremes(extremes.Of[i], ChannelBlockSelection<T>.Extremes(part));
                    }
                }
                left -= block[i].Length;
            }
            yield return block;
        }
    }

    /// <summary>
    /// Each channel's least and greatest finite values, of a block as <see cref="Blocks{T}"/> reads it: its parts' of
    /// <paramref name="partValues"/> values (<see cref="ChannelBlockSelection{T}.Extremes(ReadOnlySpan{T})"/>) joined in order.
    /// </summary>
    private sealed class BlockExtremes<T>(int partValues) where T : unmanaged
    {
        public int PartValues { get; } = Math.Max(1, partValues);

        /// <summary>Each channel's of the block (null: no finite value), the first of them those of the block's channels.</summary>
        public T[]?[] Of { get; private set; } = [];

        public void Hold(int channels)
        {
            if (Of.Length < channels) Of = new T[]?[channels];
        }
    }

    /// <summary>Reads, chooses, quantizes and writes block by block (see the class).</summary>
    private static QuantizationResult OnePass<T>(FileStream input, string inputName, Stream output, string outputName, NpyHeader header, int axis,
                                                 ChannelBlockSelection<T> selection, FileQuantizeOptions options, CancellationToken token)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var clock = Stopwatch.StartNew();
        int size = Marshal.SizeOf<T>();
        long count = header.ElementCount;
        var outputType = header.DType.QuantizedOutput;
        NpyHeader.Write(output, outputType, header.Shape);
        int perChunk = (int)Math.Max(1, Math.Min(options.ChunkBytes / size, Math.Max(1, count)));
        var stats = new KernelStats();
        long firstNonFinite = -1, position = 0, chunkStart = 0;
        int chunkFilled = 0, chunkLength = 0;
        byte[]? chunk = null;
        input.Position = header.DataOffset;
        using (var writer = ChunkWriter.Create(output, perChunk * size, background: count > 4L * perChunk))
        {
            // No clipping: each channel's extremes found part by part as it is read, each part still in the cache.
            var extremes = selection.FromExtremes ? new BlockExtremes<T>((int)Math.Min(int.MaxValue, perChunk)) : null;
            foreach (var block in Blocks<T>(input, inputName, header, axis, token, extremes))
            {
                bool added;
                using (Timeline.Time(TimelinePhase.Choose)) added = extremes is null ? selection.TryAdd(block) : selection.TryAddExtremes(extremes.Of[..block.Length]);
                if (!added) throw new FallBackException();
                var shape = header.Shape.ToArray();
                shape[axis] = block.Length;
                Grid<T>[] grids;
                try
                {
                    grids = ((GridPlan)InferableQuantizer.Create(selection.BlockSpec!).CreatePlan(shape, inputName)).Grids<T>();
                }
                catch (QuantShellException)
                {
                    throw new FallBackException();
                }
                // The pieces the streaming path gives the kernel: each output chunk split where a channel ends.
                for (int c = 0; c < block.Length; c++)
                {
                    var values = block[c];
                    int offset = 0;
                    while (offset < values.Length)
                    {
                        if (chunk is null)
                        {
                            using (Timeline.Time(TimelinePhase.WaitForWriter)) chunk = writer.Rent();
                            chunkFilled = 0;
                            chunkLength = (int)Math.Min(perChunk, count - chunkStart);
                        }
                        int n = Math.Min(values.Length - offset, chunkLength - chunkFilled);
                        var source = values.AsSpan(offset, n);
                        long before = stats.NonFinite;
                        using (Timeline.Time(TimelinePhase.Kernel))
                            FakeQuantizeKernel.Apply<T>(source, MemoryMarshal.Cast<byte, T>(chunk.AsSpan(chunkFilled * size, n * size)), grids[c], ref stats);
                        if (stats.NonFinite > before && firstNonFinite < 0) firstNonFinite = position + NonFiniteInput.IndexOf<T>(source);
                        offset += n;
                        position += n;
                        chunkFilled += n;
                        if (chunkFilled == chunkLength)
                        {
                            writer.Submit(chunk, chunkLength * size);
                            chunk = null;
                            chunkStart += chunkLength;
                        }
                    }
                }
            }
            writer.Complete();
        }
        if (selection.Complete() is not { } spec) throw new FallBackException();
        InferableQuantizer quantizer;
        try
        {
            quantizer = InferableQuantizer.Create(spec);
        }
        catch (QuantShellException)
        {
            throw new FallBackException();
        }
        if (stats.NonFinite > 0 && !options.AllowNonFinite)
            throw NonFiniteInput.Create(inputName, stats.NonFinite, NonFiniteInput.Unravel(firstNonFinite, header.Shape));
        var plan = quantizer.CreatePlan(header.Shape, inputName);
        var layout = new TensorLayout(header.Shape, header.DType, outputType, header.FortranOrder);
        return QuantizationResult.Create(JobInput.ResultPathOf(inputName), outputName, null, layout, quantizer, plan, stats, options.Selection, clock.Elapsed);
    }
}
