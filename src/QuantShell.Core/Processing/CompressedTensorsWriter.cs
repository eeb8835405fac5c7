using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics;
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
/// Writes a safetensors shard in compressed-tensors' pack-quantized layout (docs/model-folders.md): each quantized Linear
/// weight <c>M.weight</c> (out, in) becomes <c>M.weight_packed</c> (int32, (out, ceil(in*b/32)): element i of a row at bit
/// i*b of the row's bits, least significant first, words little-endian, a code stored as code + 2^(b-1)),
/// <c>M.weight_scale</c> ((out, groups) or (out, 1), in the weight's dtype), <c>M.weight_shape</c> (int64 [out, in]) and,
/// for a uniform (asymmetric) quantizer, <c>M.weight_zero_point</c> (the zero points in the same signed form, packed along
/// the output channels: int32 (ceil(out*b/32), groups)). Every other tensor is copied byte for byte.
/// </summary>
internal static class CompressedTensorsWriter
{
    public const int MinBits = 2;
    public const int MaxBits = 8;

    public static IReadOnlyList<QuantizationResult> Write(TensorFile file, Stream output, string outputPath, Func<StoredTensor, TensorDecision> decide,
                                                          FileQuantizeOptions options, List<CompressedModule> modules, List<string> ignored,
                                                          Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(file.Tensors.Select(t => t.Name), StringComparer.Ordinal);
        var outputs = new List<OutputTensor>();
        var results = new QuantizationResult?[file.Tensors.Count];
        string inputPath = JobInput.ResultPathOf(file.Name);
        foreach (var tensor in file.Tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var decision = decide(tensor);
            if (decision.Recipe is not { } recipe)
            {
                results[tensor.Index] = QuantizationResult.CreateSkipped(inputPath, outputPath, tensor, decision);
                // Linear layers left as they were are named in the config's ignore list (embeddings are not Linear layers).
                if (tensor.Rank == 2 && tensor.Name.EndsWith(".weight", StringComparison.Ordinal) && !TensorPolicy.IsEmbedding(tensor.Name[..^".weight".Length]))
                    ignored.Add(tensor.Name[..^".weight".Length]);
                outputs.Add(new OutputTensor(tensor.Name, tensor.DType, tensor.Shape, stream =>
                {
                    using var source = file.OpenTensor(tensor);
                    StreamCopy.CopyExactly(source, stream, tensor.ByteCount, cancellationToken);
                    bytesDone?.Invoke(tensor.ByteCount);
                }));
                continue;
            }
            string name = ModelQuantizer.Source(file, tensor);
            CheckApplicable(tensor, recipe.Spec, name);
            var rowQuantizer = new RowQuantizer(file, tensor, recipe, name);
            int bits = recipe.Spec.NumBits;
            long rows = tensor.Shape[0], columns = tensor.Shape[1];
            int groups = recipe.Spec.GroupSize is int groupSize ? (int)((columns + groupSize - 1) / groupSize) : 1;
            string module = tensor.Name[..^".weight".Length];
            bool symmetric = recipe.Spec.Method != QuantizationMethod.Uniform;
            modules.Add(new CompressedModule(module, bits, symmetric, recipe.Spec.GroupSize));
            outputs.Add(new OutputTensor(Unique(names, module + ".weight_packed", file), DType.Int32, [rows, PackedWords(columns, bits)], stream =>
            {
                results[tensor.Index] = Pack(file, tensor, stream, outputPath, rowQuantizer, options, cancellationToken);
                bytesDone?.Invoke(tensor.ByteCount);
            }));
            // The scales and zero points are written after the codes, so values chosen row by row are all known by then.
            outputs.Add(new OutputTensor(Unique(names, module + ".weight_scale", file), tensor.DType, [rows, groups], stream =>
            {
                var plan = rowQuantizer.Plan;
                float[] scales;
                if (plan is GridPlan { Parameters.Scales: float[] grid } && grid.Length == plan.Channels) scales = grid;
                else
                {
                    scales = new float[plan.Channels];
                    for (int c = 0; c < scales.Length; c++) scales[c] = (float)plan.ScaleOf(c);
                }
                int length = scales.Length * tensor.DType.ItemSize;
                var bytes = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    if (tensor.DType.IsDouble) ElementConverter.Encode<double>(scales.Select(s => (double)s).ToArray(), tensor.DType, bytes.AsSpan(0, length));
                    else ElementConverter.Encode<float>(scales, tensor.DType, bytes.AsSpan(0, length));
                    stream.Write(bytes, 0, length);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(bytes);
                }
            }));
            outputs.Add(new OutputTensor(Unique(names, module + ".weight_shape", file), DType.Int64, [2], stream =>
            {
                Span<byte> bytes = stackalloc byte[16];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, rows);
                BinaryPrimitives.WriteInt64LittleEndian(bytes[8..], columns);
                stream.Write(bytes);
            }));
            if (!symmetric)
            {
                outputs.Add(new OutputTensor(Unique(names, module + ".weight_zero_point", file), DType.Int32, [PackedWords(rows, bits), groups], stream =>
                    WriteZeroPoints(stream, rowQuantizer.Plan, rows, groups, bits)));
            }
        }
        TensorFiles.Write(TensorFileKind.Safetensors, output, outputs, new Dictionary<string, string>(file.Metadata), cancellationToken);
        return ModelQuantizer.Completed(results, file);
    }

    /// <summary>int32 words holding <paramref name="count"/> codes of <paramref name="bits"/> bits.</summary>
    public static long PackedWords(long count, int bits) => (count * bits + 31) / 32;

    /// <summary>What the layout can hold: a 2-D <c>*.weight</c>, channels on axis 0 (per channel or by groups that divide the row), 2-8 bits, signed grids.</summary>
    private static void CheckApplicable(StoredTensor tensor, QuantizerSpec spec, string name)
    {
        string? problem = null;
        if (tensor.Rank != 2 || !tensor.Name.EndsWith(".weight", StringComparison.Ordinal))
            problem = $"the pack-quantized layout holds the weights of Linear layers (2-D '*.weight'); this is a rank-{tensor.Rank} tensor (skip it with a rule)";
        else if (spec.Target != QuantizationTarget.Weights || spec.IsLut)
            problem = $"the pack-quantized layout holds integer grids (POT, symmetric, uniform weights), not {spec.MethodName} {EnumNames.Json(spec.Target)}";
        else if (spec.NumBits < MinBits || spec.NumBits > MaxBits)
            problem = $"the pack-quantized layout takes {MinBits} to {MaxBits} bits, not {spec.NumBits}";
        else if (!spec.PerChannel || (spec.ChannelAxis ?? QuantizerSpec.DefaultChannelAxis) is not (0 or -2))
            problem = "the pack-quantized layout has one scale per output channel (axis 0) or per channel and group; give PerChannel with ChannelAxis 0 (the default for model folders), or GroupSize";
        else if (spec.Method != QuantizationMethod.Uniform && spec.Signed == false)
            problem = "compressed-tensors' symmetric integers are signed; leave Signed out or use the uniform method";
        else if (spec.GroupSize is int g && tensor.Shape[1] % g != 0)
            problem = $"its {tensor.Shape[1]} input features are not a multiple of GroupSize {g} (the last group would hold {tensor.Shape[1] % g}); compressed-tensors' group strategy refuses a ragged group, so choose a group size that divides {tensor.Shape[1]} or skip the tensor with a rule";
        else if (tensor.DType.Kind is not (DTypeKind.Float or DTypeKind.BFloat))
            problem = $"its dtype {tensor.DType.Name} is not a float type";
        if (problem is not null)
            throw new QuantShellException($"{name}: cannot be written in the compressed-tensors format: {problem}.", ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidArgument, name);
    }

    /// <summary>
    /// The quantizer of one weight, row by row. Given values: one quantizer and plan for the whole tensor. Values chosen
    /// from the data with MCT's no-clipping rule: the layout has its channels on axis 0 (per row, or per row and group),
    /// each channel's value is a function of its own values only, so they are chosen from the rows being written, chunk by
    /// chunk: one read of the tensor, never all of it in memory (a test holds this equal to choosing from the whole
    /// tensor). Other error methods are chosen from the whole tensor first: MCT's per-channel searches are not channel by
    /// channel (they stop on the channels' mean improvement and share a precision), so a chunk's choice could differ.
    /// </summary>
    private sealed class RowQuantizer(TensorFile file, StoredTensor tensor, QuantizerRecipe recipe, string name)
    {
        private readonly List<double> _min = [], _max = [];
        // The thresholds chosen so far: one per channel (and group), in an array of the whole weight's size, given to its quantizer as it is.
        private double[]? _threshold;
        private int _thresholds;
        // Their scales alongside, as the quantizer's grid computes them (RangeMath.SymmetricScale), for a symmetric weight: the
        // fused route has them at hand, so the grid is not computed again, one channel after another, once the rows are written.
        private float[]? _scales;
        private bool _noScales;
        private QuantizerSpec? _last;
        private InferableQuantizer? _quantizer;
        private QuantizationPlan? _plan;
        private SelectionInfo? _selection;

        /// <summary>Whether the values are chosen chunk by chunk from the rows written.</summary>
        public bool Chooses { get; } = recipe.ChoosesFromData && recipe.Selection is { ErrorMethod: ErrorMethod.NoClipping, Search: SelectionSearch.Mct };

        /// <summary>Values per row: one per group, or one.</summary>
        public int Groups => recipe.Spec.GroupSize is int g ? (int)((tensor.Shape[1] + g - 1) / g) : 1;

        /// <summary>The recipe's spec: the method and bits (its values may be missing).</summary>
        public QuantizerSpec Spec => recipe.Spec;

        /// <summary>The quantizer of the whole tensor (known once every row is written when values are chosen row by row).</summary>
        public InferableQuantizer Quantizer => _quantizer ??= Finish();

        public QuantizationPlan Plan => _plan ??= Quantizer.CreatePlan(tensor.Shape, name);

        public SelectionInfo? Selection => Chooses ? recipe.Describe(1) : _selection;

        /// <summary>The plan for the <paramref name="n"/> rows whose values are in <paramref name="values"/>; <paramref name="firstIndex"/> is where they start in the plan (-1: at their place in the tensor).</summary>
        public QuantizationPlan PlanFor<T>(T[] values, int n, out long firstIndex) where T : unmanaged
        {
            if (!Chooses)
            {
                firstIndex = -1;
                return Plan;
            }
            firstIndex = 0;
            var array = new NpyArray([n, tensor.Shape[1]], values);
            var spec = ExactScales.For(recipe.ResolveFor([array], name).Spec, tensor.DType, chosen: true, name);
            Keep(spec);
            return InferableQuantizer.Create(spec).CreatePlan([n, tensor.Shape[1]], name);
        }

        /// <summary>The fast path for this weight (rows of <paramref name="rowsPerChunk"/>), or null.</summary>
        public NoClippingRows? FastRows(int rowsPerChunk) => Chooses ? NoClippingRows.For(tensor, recipe, rowsPerChunk) : null;

        /// <summary>
        /// The spec <see cref="PlanFor{T}"/> chooses for <paramref name="n"/> rows of finite values whose channels (groups)
        /// have these minima and maxima, not yet kept (<see cref="Keep"/>), and the grid of each channel its plan applies.
        /// An error here only sends the chunk to the general path, which gives its own error, named as it names it.
        /// </summary>
        public (QuantizerSpec Spec, Grid<float>[] Grids) ChooseFromExtremes(float[] mins, float[] maxs, int n)
        {
            if (Volatile.Read(ref _direct) == 1 && _template is { } template && Direct(template, mins, maxs) is { } direct)
            {
                Interlocked.Increment(ref _directBlocks);
                return direct;
            }
            var general = ChooseGenerally(mins, maxs, n);
            if (Volatile.Read(ref _direct) == 0)
            {
                lock (_gate)
                {
                    if (_direct == 0)
                    {
                        // The direct choice is taken only once it has given what the general one gives for a first block.
                        var check = Direct(general.Spec, mins, maxs);
                        bool same = check is { } c && c.Spec.Threshold!.SequenceEqual(general.Spec.Threshold!) && c.Grids.Length == general.Grids.Length
                                    && c.Grids.Zip(general.Grids).All(p => BitConverter.SingleToInt32Bits(p.First.Scale) == BitConverter.SingleToInt32Bits(p.Second.Scale)
                                                                           && p.First.QuantMin == p.Second.QuantMin && p.First.QuantMax == p.Second.QuantMax && p.First.ZeroPoint == p.Second.ZeroPoint);
                        _template = general.Spec;
                        Volatile.Write(ref _direct, same ? 1 : -1);
                    }
                }
            }
            return general;
        }

        private readonly object _gate = new();
        private int _direct;
        private QuantizerSpec? _template;
        private long _directBlocks;

        /// <summary>Blocks whose values were chosen by <see cref="Direct"/> (for tests).</summary>
        public long DirectBlocks => Interlocked.Read(ref _directBlocks);

        /// <summary>
        /// The symmetric choice of <see cref="ChooseGenerally"/> group by group, with the same arithmetic and no spec built
        /// per block: get_tensor_max in float32 (max(-min, max·f)), raised to MCT's least threshold, rounded to float32
        /// (<see cref="ParameterSelector.FromMct"/>), its scale moved to one the dtype holds (<see cref="ExactScales.For"/>).
        /// Null where the general choice could fail (it then gives its own error) or for other methods.
        /// </summary>
        private (QuantizerSpec Spec, Grid<float>[] Grids)? Direct(QuantizerSpec template, float[] mins, float[] maxs)
        {
            if (GroupChoice(template) is not { } choice) return null;
            var thresholds = new double[mins.Length];
            var grids = new Grid<float>[mins.Length];
            for (int c = 0; c < mins.Length; c++)
            {
                if (!choice.TryChoose(mins[c], maxs[c], out thresholds[c], out float scale)) return null;
                grids[c] = new Grid<float>(scale, 0, choice.QuantMin, choice.QuantMax);
            }
            return (template with { Threshold = thresholds }, grids);
        }

        /// <summary>The direct choice of one group at a time, for a symmetric weight's <paramref name="template"/>; null for other methods.</summary>
        private SymmetricGroupChoice? GroupChoice(QuantizerSpec template) =>
            template.Method != QuantizationMethod.Symmetric || !template.PerChannel || template.Threshold is null || recipe.Spec.Method != QuantizationMethod.Symmetric
                ? null
                : new SymmetricGroupChoice(template.NumBits, template.IsSigned, tensor.DType);

        /// <summary>
        /// The direct choice once it has been taken for this weight (it gave what the general choice gives for the first
        /// block), for the fused route (<see cref="NoClippingRows.TryDirect"/>); null before, or when it was not taken.
        /// </summary>
        public SymmetricGroupChoice? DirectChoice => Volatile.Read(ref _direct) == 1 && _template is { } template ? GroupChoice(template) : null;

        /// <summary>
        /// Where the thresholds of the next <paramref name="count"/> channels go (the whole weight's array, from
        /// <paramref name="offset"/> on), for the fused route to write them in place; kept by <see cref="KeepDirect"/>.
        /// </summary>
        public double[] NextThresholds(int count, out int offset, out float[] scales)
        {
            Reserve(count);
            offset = _thresholds;
            scales = _scales!;
            return _threshold!;
        }

        /// <summary>Keeps the <paramref name="count"/> thresholds the direct choice wrote (<see cref="NextThresholds"/>; their spec otherwise the first block's).</summary>
        public void KeepDirect(int count)
        {
            _thresholds += count;
            _last = _template;
        }

        private (QuantizerSpec Spec, Grid<float>[] Grids) ChooseGenerally(float[] mins, float[] maxs, int n)
        {
            long[] shape = [n, tensor.Shape[1]];
            var chosen = ParameterSelector.SelectNoClipping(recipe.Spec, mins, maxs, recipe.Spec.ResolveSelectionAxis(shape));
            chosen.ValidateComplete();
            var spec = ExactScales.For(chosen, tensor.DType, chosen: true, name);
            // The grids GridPlan builds from the quantizer's parameters, after the same check of the shape.
            var parameters = QuantizationParameters.For(spec);
            spec.ResolveChannels(shape, parameters.Count);
            var grids = new Grid<float>[parameters.Count];
            for (int c = 0; c < grids.Length; c++)
                grids[c] = new Grid<float>(parameters.Scales[c], parameters.ZeroPoints[c], parameters.QuantMin, parameters.QuantMax);
            return (spec, grids);
        }

        private void AddThresholds(ReadOnlySpan<double> values)
        {
            Reserve(values.Length);
            values.CopyTo(_threshold.AsSpan(_thresholds));
            _thresholds += values.Length;
        }

        private void Reserve(int count)
        {
            long whole = tensor.Shape[0] * Groups;
            if (_threshold is null || _thresholds + count > _threshold.Length)
            {
                int length = (int)Math.Max(Math.Min(whole, int.MaxValue), _thresholds + (long)count);
                // A weight's thresholds and scales (a million groups: 12 MiB) mapped in one call, not a page fault at a time.
                var thresholds = new double[length];
                var scales = new float[length];
                LargeArrays.Prefault(thresholds);
                LargeArrays.Prefault(scales);
                _threshold?.AsSpan(0, _thresholds).CopyTo(thresholds);
                _scales?.AsSpan(0, _thresholds).CopyTo(scales);
                _threshold = thresholds;
                _scales = scales;
            }
        }

        /// <summary>Keeps the values chosen for the next rows.</summary>
        public void Keep(QuantizerSpec spec)
        {
            if (spec.Threshold is { } t)
            {
                var values = t as double[] ?? t.ToArray();
                int from = _thresholds;
                AddThresholds(values);
                if (spec.Method != QuantizationMethod.Symmetric) _noScales = true;
                else
                {
                    for (int c = 0; c < values.Length; c++) _scales![from + c] = RangeMath.SymmetricScale(values[c], spec.NumBits, spec.IsSigned);
                }
            }
            if (spec.MinRange is { } min) _min.AddRange(min);
            if (spec.MaxRange is { } max) _max.AddRange(max);
            _last = spec;
        }

        private InferableQuantizer Finish()
        {
            if (!Chooses)
            {
                var (chosen, selection) = ModelQuantizer.Resolve(file, tensor, recipe, name);
                _selection = selection;
                return InferableQuantizer.Create(ExactScales.For(chosen.Spec, tensor.DType, recipe.ChoosesFromData, name));
            }
            if (_last is null) throw new InvalidOperationException($"{name}: no row has been written yet.");
            var spec = _last with
            {
                Threshold = _last.Threshold is null ? null : _thresholds == _threshold?.Length ? _threshold : (_threshold ?? []).AsSpan(0, _thresholds).ToArray(),
                MinRange = _last.MinRange is null ? null : _min.ToArray(),
                MaxRange = _last.MaxRange is null ? null : _max.ToArray(),
            };
            if (spec is { Target: QuantizationTarget.Weights, Method: QuantizationMethod.Symmetric } && !_noScales && _scales is { } scales && ReferenceEquals(spec.Threshold, _threshold))
            {
                var (qmin, qmax) = RangeMath.SymmetricRange(spec.NumBits, spec.IsSigned);
                return new WeightsSymmetricInferableQuantizer(spec, new QuantizationParameters(scales, new int[scales.Length], qmin, qmax));
            }
            return InferableQuantizer.Create(spec);
        }
    }

    /// <summary>Codes of whole rows at a time, packed row by row; the fake values are computed alongside for the error measured.</summary>
    private static QuantizationResult Pack(TensorFile file, StoredTensor tensor, Stream destination, string outputPath, RowQuantizer rows,
                                           FileQuantizeOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        string name = ModelQuantizer.Source(file, tensor);
        var stats = new KernelStats();
        long firstNaN = tensor.DType.IsDouble
            ? PackRows<double>(file, tensor, destination, rows, options, ref stats, cancellationToken)
            : PackRows<float>(file, tensor, destination, rows, options, ref stats, cancellationToken);
        if (stats.NonFinite > 0 && (!options.AllowNonFinite || firstNaN >= 0))
            throw NonFiniteInput.Create(name, stats.NonFinite, NonFiniteInput.Unravel(Math.Max(0, firstNaN), tensor.Shape));
        var layout = new TensorLayout(tensor.Shape, tensor.DType, DType.Int32, false);
        return QuantizationResult.Create(JobInput.ResultPathOf(file.Name), outputPath, tensor.Name, layout, rows.Quantizer, rows.Plan, stats, rows.Selection, clock.Elapsed, OutputFormat.CompressedTensors);
    }

    private static long PackRows<T>(TensorFile file, StoredTensor tensor, Stream destination, RowQuantizer rowQuantizer,
                                    FileQuantizeOptions options, ref KernelStats stats, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int bits = rowQuantizer.Spec.NumBits;
        int offset = rowQuantizer.Spec.Method == QuantizationMethod.Uniform ? 0 : 1 << (bits - 1);
        int words = (int)PackedWords(tensor.Shape[1], bits);
        long rows = tensor.Shape[0];
        int columns = checked((int)tensor.Shape[1]);
        int itemSize = tensor.DType.ItemSize;
        int rowsPerChunk = (int)Math.Clamp(options.ChunkBytes / Math.Max(1L, (long)columns * itemSize), 1, Math.Max(1, rows));
        int perChunk = checked(rowsPerChunk * columns);
        var raw = ArrayPool<byte>.Shared.Rent(perChunk * itemSize);
        // The common case's own path (float32 values only); the general path's buffers are made when a chunk needs them.
        using var fast = typeof(T) == typeof(float) && !options.GeneralPathOnly ? rowQuantizer.FastRows(rowsPerChunk) : null;
        T[]? values = null, quantized = null;
        int[]? codes = null;
        byte[]? packed = null;
        ChunkWriter? writer = null;
        long firstNaN = -1;
        try
        {
            using var source = file.OpenTensor(tensor);
            // The fused route reads at positions from every core (a stream per unit of work); the rows it declines, and
            // those before a weight's direct choice is taken, go chunk by chunk below.
            bool positional = source is FileWindowStream;
            long fusedFrom = 0;
            for (long row = 0; row < rows; row += rowsPerChunk)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (fast is not null && firstNaN < 0 && positional && row >= fusedFrom && rowQuantizer.DirectChoice is { } choice)
                {
                    long windowRows = Math.Min((long)WindowChunks * rowsPerChunk, rows - row);
                    writer ??= ChunkWriter.Create(destination, WindowChunks * rowsPerChunk * words * 4, background: true);
                    int channels = checked((int)(windowRows * rowQuantizer.Groups));
                    var thresholds = rowQuantizer.NextThresholds(channels, out int at, out var scales);
                    var buffer = writer.Rent();
                    bool fused;
                    using (Timeline.Time(TimelinePhase.Kernel))
                        fused = fast.TryDirect(() => file.OpenTensor(tensor), row, rowsPerChunk, WindowChunks, rows, choice, thresholds, scales, at, buffer, words, offset, bits, ParallelValues, ref stats);
                    if (fused)
                    {
                        rowQuantizer.KeepDirect(channels);
                        writer.Submit(buffer, (int)(windowRows * words * 4));
                        row += windowRows - rowsPerChunk;
                        continue;
                    }
                    writer.Submit(buffer, 0);
                    fusedFrom = row + windowRows;
                }
                if (writer is not null)
                {
                    // What the fused route wrote goes first.
                    writer.Complete();
                    writer.Dispose();
                    writer = null;
                }
                int n = (int)Math.Min(rowsPerChunk, rows - row);
                int count = n * columns;
                if (positional) source.Position = row * columns * itemSize;
                using (Timeline.Time(TimelinePhase.Read, count * itemSize)) source.ReadExactly(raw, 0, count * itemSize);
                if (fast is not null && firstNaN < 0)
                {
                    packed ??= ArrayPool<byte>.Shared.Rent(rowsPerChunk * words * 4);
                    bool written;
                    using (Timeline.Time(TimelinePhase.Kernel)) written = fast.TryChunk(raw, n, rowQuantizer.ChooseFromExtremes, rowQuantizer.Keep, packed, words, offset, bits, ParallelValues, ref stats);
                    if (written)
                    {
                        using (Timeline.Time(TimelinePhase.Write, n * words * 4)) destination.Write(packed, 0, n * words * 4);
                        continue;
                    }
                }
                // Values chosen from the rows: the selection takes an array of exactly the chunk's values.
                if (rowQuantizer.Chooses) { if (values?.Length != count) values = new T[count]; }
                else values ??= ArrayPool<T>.Shared.Rent(perChunk);
                quantized ??= ArrayPool<T>.Shared.Rent(perChunk);
                codes ??= ArrayPool<int>.Shared.Rent(perChunk);
                T[] chunkValues = values, chunkQuantized = quantized;
                int[] chunkCodes = codes;
                var chunk = values.AsSpan(0, count);
                ElementConverter.Decode<T>(raw.AsSpan(0, count * itemSize), tensor.DType, chunk);
                if (firstNaN < 0)
                {
                    int nan = FirstNaN<T>(chunk);
                    if (nan >= 0) firstNaN = row * columns + nan;
                }
                if (firstNaN >= 0)
                {
                    // The tensor fails; reading on counts every non-finite value (of the given quantizer's plan).
                    if (!rowQuantizer.Chooses) rowQuantizer.Plan.Apply<T>(chunk, quantized.AsSpan(0, count), row * columns, ref stats);
                    else stats.NonFinite += CountNonFinite(chunk);
                    continue;
                }
                var plan = rowQuantizer.PlanFor(values, n, out long first);
                long start = first < 0 ? row * columns : first;
                byte[] chunkPacked = packed ??= ArrayPool<byte>.Shared.Rent(rowsPerChunk * words * 4);
                // Two halves of the rows at once (always two, so that the error sums add up in the same order on every
                // machine): the fake values (for the error), the codes and the packed words of each.
                var halves = new KernelStats[2];
                int middle = count >= ParallelValues ? n / 2 : n;
                Parallel.Invoke(
                    () => halves[0] = EncodeRows(plan, chunkValues, chunkQuantized, chunkCodes, chunkPacked, 0, middle, columns, start, words, offset, bits),
                    () => halves[1] = EncodeRows(plan, chunkValues, chunkQuantized, chunkCodes, chunkPacked, middle, n, columns, start, words, offset, bits));
                foreach (var half in halves)
                {
                    stats.NonFinite += half.NonFinite;
                    stats.Finite += half.Finite;
                    stats.SumSquaredError += half.SumSquaredError;
                    stats.SumSquaredSignal += half.SumSquaredSignal;
                }
                destination.Write(packed, 0, n * words * 4);
            }
            writer?.Complete();
            if (fast is not null) options.PathCounter?.Add(fast.Chunks, fast.Declined, rowQuantizer.DirectBlocks, fast.FusedChunks);
            return firstNaN;
        }
        finally
        {
            writer?.Dispose();
            ArrayPool<byte>.Shared.Return(raw);
            if (!rowQuantizer.Chooses && values is not null) ArrayPool<T>.Shared.Return(values);
            if (quantized is not null) ArrayPool<T>.Shared.Return(quantized);
            if (codes is not null) ArrayPool<int>.Shared.Return(codes);
            if (packed is not null) ArrayPool<byte>.Shared.Return(packed);
        }
    }

    // Chunks of at least this many values are encoded in two halves at once.
    private const int ParallelValues = 1 << 16;

    // Chunks the fused route does at once (their halves spread over the cores), written while it does the next ones.
    private const int WindowChunks = 4;

    /// <summary>Rows [<paramref name="from"/>, <paramref name="to"/>) of a chunk: fake values (for the error), codes, packed words.</summary>
    private static KernelStats EncodeRows<T>(QuantizationPlan plan, T[] values, T[] quantized, int[] codes, byte[] packed, int from, int to, int columns,
                                             long start, int words, int offset, int bits)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        var stats = new KernelStats();
        if (from >= to) return stats;
        int first = from * columns, count = (to - from) * columns;
        plan.Apply<T>(values.AsSpan(first, count), quantized.AsSpan(first, count), start + first, ref stats);
        plan.Encode<T>(values.AsSpan(first, count), codes.AsSpan(first, count), start + first);
        var output = packed.AsSpan(from * words * 4, (to - from) * words * 4);
        output.Clear();
        for (int r = from; r < to; r++)
            PackRow(codes.AsSpan(r * columns, columns), offset, bits, output.Slice((r - from) * words * 4, words * 4));
        return stats;
    }

    private static int FirstNaN<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < values.Length; i++)
            if (T.IsNaN(values[i])) return i;
        return -1;
    }

    private static long CountNonFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        long count = 0;
        foreach (var value in values)
            if (!T.IsFinite(value)) count++;
        return count;
    }

    /// <summary>Element i of <paramref name="codes"/> (plus <paramref name="offset"/>, as b unsigned bits) at bit i*b of the little-endian words.</summary>
    internal static void PackRow(ReadOnlySpan<int> codes, int offset, int bits, Span<byte> words)
    {
        uint mask = (1u << bits) - 1;
        ulong pending = 0;
        int held = 0, word = 0;
        for (int i = 0; i < codes.Length; i++)
        {
            pending |= (ulong)((uint)(codes[i] + offset) & mask) << held;
            held += bits;
            if (held >= 32)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(words.Slice(word++ * 4, 4), (uint)pending);
                pending >>= 32;
                held -= 32;
            }
        }
        if (held > 0) BinaryPrimitives.WriteUInt32LittleEndian(words.Slice(word * 4, 4), (uint)pending);
    }

    /// <summary>The zero points (z - 2^(b-1) stored as z) of each group column, packed along the output channels.</summary>
    private static void WriteZeroPoints(Stream stream, QuantizationPlan plan, long rows, int groups, int bits)
    {
        int words = (int)PackedWords(rows, bits);
        var columns = new byte[groups][];
        var column = new int[rows];
        for (int g = 0; g < groups; g++)
        {
            for (long r = 0; r < rows; r++) column[r] = plan.ZeroPointOf((int)(r * groups + g));
            columns[g] = new byte[words * 4];
            PackRow(column, 0, bits, columns[g]);
        }
        var row = new byte[groups * 4];
        for (int w = 0; w < words; w++)
        {
            for (int g = 0; g < groups; g++) columns[g].AsSpan(w * 4, 4).CopyTo(row.AsSpan(g * 4));
            stream.Write(row);
        }
    }

    private static string Unique(HashSet<string> names, string name, TensorFile file)
    {
        if (!names.Add(name))
            throw new QuantShellException($"{file.Name}: the compressed-tensors format needs a tensor named '{name}', but the file already has one.", ErrorIds.OutputFormatNotSupported, QuantShellErrorKind.InvalidData, file.Name);
        return name;
    }
}
