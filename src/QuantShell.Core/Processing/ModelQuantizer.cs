using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Processing;

/// <summary>
/// Quantizes the tensors of a model file into a file of the same kind, one decision per tensor: the <c>fake</c> format (a
/// copy whose quantized tensors hold dequantize(quantize(x)), everything else byte for byte) or the <c>int</c> format
/// (integer codes with their scales and zero points or tables, and a record of every quantizer). Tensors whose quantizer
/// is complete stream through the kernel in chunks; those whose values are chosen from their data are read into memory
/// one at a time, so memory stays bounded by the largest such tensor. The formats are those of docs/model-files.md.
/// </summary>
internal static class ModelQuantizer
{
    /// <summary>Writes the <c>fake</c> format of <paramref name="file"/> to <paramref name="output"/>.</summary>
    public static IReadOnlyList<QuantizationResult> WriteFake(TensorFile file, Stream output, string outputPath, Func<StoredTensor, TensorDecision> decide,
                                                              FileQuantizeOptions options, Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        var results = new QuantizationResult?[file.Tensors.Count];
        file.WriteCopy(output, tensor =>
        {
            var decision = decide(tensor);
            if (decision.Recipe is not { } recipe)
            {
                results[tensor.Index] = QuantizationResult.CreateSkipped(JobInput.ResultPathOf(file.Name), outputPath, tensor, decision);
                bytesDone?.Invoke(tensor.ByteCount);
                return null;
            }
            return (t, source, destination) =>
            {
                results[t.Index] = QuantizeTensor(file, t, source, destination, outputPath, recipe, options, cancellationToken);
                bytesDone?.Invoke(t.ByteCount);
            };
        }, cancellationToken);
        return Completed(results, file);
    }

    /// <summary>
    /// Writes the <c>int</c> format: each quantized tensor <c>NAME</c> becomes its integer codes in the smallest type that
    /// holds them, with <c>NAME_scale</c> (float32, shape () per tensor or (C,) per channel) and <c>NAME_zero_point</c>
    /// (int32), or for table quantizers <c>NAME_lut</c> (float32) and <c>NAME_scale</c> (t / 2^(B - signed)); the record of
    /// every quantizer goes into the file's metadata. Every quantizer is resolved before anything is written (the codes'
    /// types go into headers first), so values chosen from data are read twice, one tensor at a time.
    /// </summary>
    public static IReadOnlyList<QuantizationResult> WriteInt(TensorFile file, TensorFileKind kind, Stream output, string outputPath,
                                                             Func<StoredTensor, TensorDecision> decide, FileQuantizeOptions options,
                                                             Action<long>? bytesDone, CancellationToken cancellationToken)
    {
        var names = new HashSet<string>(file.Tensors.Select(t => t.Name), StringComparer.Ordinal);
        var outputs = new List<OutputTensor>();
        var records = new List<QuantizedTensorRecord>();
        var results = new QuantizationResult?[file.Tensors.Count];
        string inputPath = JobInput.ResultPathOf(file.Name);
        foreach (var tensor in file.Tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var decision = decide(tensor);
            if (decision.Recipe is not { } recipe)
            {
                results[tensor.Index] = QuantizationResult.CreateSkipped(inputPath, outputPath, tensor, decision);
                outputs.Add(new OutputTensor(tensor.Name, tensor.DType, tensor.Shape, stream =>
                {
                    using var source = file.OpenTensor(tensor);
                    source.CopyTo(stream);
                    bytesDone?.Invoke(tensor.ByteCount);
                }));
                continue;
            }
            string name = Source(file, tensor);
            var (quantizer, selection) = Resolve(file, tensor, recipe, name);
            var plan = quantizer.CreatePlan(tensor.Shape, name);
            var codeType = CodeType(plan.CodeRange, file.Kind);
            var spec = quantizer.SpecFor(plan);
            int channels = plan.ChannelAxis is null ? 1 : plan.Channels;
            long[] parameterShape = plan.ChannelAxis is null ? [] : plan.GroupSize is null ? [channels] : [plan.OutputChannels, plan.GroupsPerChannel];
            string scaleName = Unique(names, tensor.Name + "_scale", file);
            string? zeroPointName = spec.IsLut ? null : Unique(names, tensor.Name + "_zero_point", file);
            string? lutName = spec.IsLut ? Unique(names, tensor.Name + "_lut", file) : null;
            outputs.Add(new OutputTensor(tensor.Name, codeType, tensor.Shape, stream =>
            {
                results[tensor.Index] = EncodeTensor(file, tensor, stream, outputPath, quantizer, plan, codeType, selection, options, cancellationToken);
                bytesDone?.Invoke(tensor.ByteCount);
            }));
            if (lutName is not null)
                outputs.Add(new OutputTensor(lutName, DType.Float32, [spec.LutValues!.Count], stream => WriteFloats(stream, spec.LutValues!.Select(v => (float)v))));
            outputs.Add(new OutputTensor(scaleName, DType.Float32, parameterShape, stream => WriteFloats(stream, Enumerable.Range(0, channels).Select(c => (float)plan.ScaleOf(c)))));
            if (zeroPointName is not null)
                outputs.Add(new OutputTensor(zeroPointName, DType.Int32, parameterShape, stream => WriteInts(stream, Enumerable.Range(0, channels).Select(plan.ZeroPointOf))));
            records.Add(new QuantizedTensorRecord
            {
                Name = tensor.Name,
                DType = tensor.DType.QuantizedOutput.Name,
                Shape = tensor.Shape,
                Quantizer = spec,
                CodeDType = codeType.Name,
                Scale = scaleName,
                ZeroPoint = zeroPointName,
                Lut = lutName,
            });
        }
        var metadata = new Dictionary<string, string>(file.Metadata)
        {
            [TensorFiles.RecordKey] = new QuantizationRecord { Format = OutputFormat.Int, Tensors = records }.ToJson(),
        };
        TensorFiles.Write(kind, output, outputs, metadata, cancellationToken);
        return Completed(results, file);
    }

    /// <summary>
    /// The fake format of one tensor: streamed through its quantizer, given or chosen per channel from its channels read
    /// alone; from memory where the quantizer is chosen from the whole tensor, or the tensor is in Fortran order.
    /// </summary>
    internal static QuantizationResult QuantizeTensor(TensorFile file, StoredTensor tensor, Stream source, Stream destination, string outputPath,
                                                     QuantizerRecipe recipe, FileQuantizeOptions options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        string name = Source(file, tensor);
        var outputType = tensor.DType.QuantizedOutput;
        var stats = new KernelStats();
        InferableQuantizer quantizer;
        QuantizationPlan plan;
        SelectionInfo? selection = null;
        long firstNonFinite;
        if (tensor.FortranOrder || recipe.ChoosesFromData && ChannelsAxis(tensor, recipe) is null)
        {
            (quantizer, plan, selection, firstNonFinite) = QuantizeInMemory(tensor, source, destination, name, outputType, recipe, options, ref stats, cancellationToken);
            WholeTensorMemory.Release(tensor.ByteCount); // the values are unreachable once QuantizeInMemory has returned
        }
        else
        {
            // Values chosen per channel from the channels read alone (then dropped), and the tensor streamed through the
            // complete quantizer: the tensor is never held twice.
            (quantizer, selection) = Resolve(file, tensor, recipe, name, source);
            options = options with { Selection = selection };
            plan = quantizer.CreatePlan(tensor.Shape, name);
            Func<Exception> truncated = () => new TensorFormatException(file.Name, $"tensor '{tensor.Name}': the data ends early.", ErrorIds.TensorDataTruncated);
            firstNonFinite = tensor.DType.IsDouble
                ? StreamingQuantizer.Run<double>(source, tensor.DType, tensor.ElementCount, destination, outputType, plan, options, ref stats, truncated, cancellationToken)
                : StreamingQuantizer.Run<float>(source, tensor.DType, tensor.ElementCount, destination, outputType, plan, options, ref stats, truncated, cancellationToken);
        }
        if (stats.NonFinite > 0 && !options.AllowNonFinite)
            throw NonFiniteInput.Create(name, stats.NonFinite, NonFiniteInput.Unravel(firstNonFinite, tensor.Shape));
        var layout = new TensorLayout(tensor.Shape, tensor.DType, outputType, tensor.FortranOrder);
        return QuantizationResult.Create(JobInput.ResultPathOf(file.Name), outputPath, tensor.Name, layout, quantizer, plan, stats, selection, clock.Elapsed);
    }

    /// <summary>The fake format of a tensor read whole: its values chosen from them (or reordered from Fortran order).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)] // the array dies with this frame
    private static (InferableQuantizer, QuantizationPlan, SelectionInfo?, long) QuantizeInMemory(StoredTensor tensor, Stream source, Stream destination, string name, DType outputType,
                                                                                                QuantizerRecipe recipe, FileQuantizeOptions options, ref KernelStats stats,
                                                                                                CancellationToken cancellationToken)
    {
        var array = TensorValues.Read(source, tensor, name);
        var quantizer = recipe.ResolveFor([array], name);
        var selection = recipe.Describe(1);
        var plan = quantizer.CreatePlan(tensor.Shape, name);
        var tensorOptions = options with { Selection = selection };
        long firstNonFinite = array.Data is double[] values
            ? StreamingQuantizer.Run(values, destination, outputType, plan, tensorOptions, ref stats, cancellationToken)
            : StreamingQuantizer.Run((float[])array.Data, destination, outputType, plan, tensorOptions, ref stats, cancellationToken);
        return (quantizer, plan, selection, firstNonFinite);
    }

    /// <summary>The int format of one tensor: its codes, and the error of the values they stand for.</summary>
    internal static QuantizationResult EncodeTensor(TensorFile file, StoredTensor tensor, Stream destination, string outputPath, InferableQuantizer quantizer,
                                                    QuantizationPlan plan, DType codeType, SelectionInfo? selection, FileQuantizeOptions options,
                                                    CancellationToken cancellationToken, OutputFormat format = OutputFormat.Int)
    {
        var clock = Stopwatch.StartNew();
        string name = Source(file, tensor);
        using var source = file.OpenTensor(tensor);
        var array = tensor.FortranOrder ? TensorValues.Read(source, tensor, name) : null;
        var stats = new KernelStats();
        long firstNonFinite = tensor.DType.IsDouble
            ? EncodeChunks<double>(source, array, tensor, destination, plan, codeType, options, ref stats, cancellationToken)
            : EncodeChunks<float>(source, array, tensor, destination, plan, codeType, options, ref stats, cancellationToken);
        if (stats.NonFinite > 0)
        {
            // An integer code cannot stand for NaN, whatever AllowNonFinite says; ±infinity saturates when allowed.
            if (!options.AllowNonFinite || firstNonFinite >= 0)
                throw NonFiniteInput.Create(name, stats.NonFinite, NonFiniteInput.Unravel(Math.Max(0, firstNonFinite), tensor.Shape));
        }
        var layout = new TensorLayout(tensor.Shape, tensor.DType, codeType, tensor.FortranOrder);
        return QuantizationResult.Create(JobInput.ResultPathOf(file.Name), outputPath, tensor.Name, layout, quantizer, plan, stats, selection, clock.Elapsed, format);
    }

    // Returns the index of the first NaN (which has no code), or -1.
    private static long EncodeChunks<T>(Stream source, NpyArray? inMemory, StoredTensor tensor, Stream destination, QuantizationPlan plan, DType codeType,
                                        FileQuantizeOptions options, ref KernelStats stats, CancellationToken cancellationToken)
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        int itemSize = tensor.DType.ItemSize;
        int perChunk = (int)Math.Max(1, Math.Min(options.ChunkBytes / itemSize, Math.Max(1, tensor.ElementCount)));
        var sink = new CodeSink<T>(inMemory is null ? tensor.DType : null, perChunk, destination, plan, codeType, stats);
        try
        {
            if (inMemory is not null) TensorChunks.FromMemory<T, CodeSink<T>>((T[])inMemory.Data, perChunk, ref sink, cancellationToken);
            else TensorChunks.FromStream(source, itemSize, tensor.ElementCount, perChunk, ref sink, truncated: null, cancellationToken);
            stats = sink.Stats;
            return sink.FirstNaN;
        }
        finally
        {
            sink.Dispose();
        }
    }

    /// <summary>Quantizes each chunk into its integer codes and writes them.</summary>
    private struct CodeSink<T> : IChunkSink, IDisposable
        where T : unmanaged, IFloatingPointIeee754<T>, IMinMaxValue<T>
    {
        private readonly DType? _storedType;
        private readonly Stream _destination;
        private readonly QuantizationPlan _plan;
        private readonly DType _codeType;
        private T[]? _values, _quantized;
        private int[]? _codes;
        private byte[]? _encoded;

        /// <summary>What the kernel saw so far.</summary>
        public KernelStats Stats;

        /// <summary>Chunks stored as <paramref name="storedType"/> are decoded into the compute type; null: they are it already.</summary>
        public CodeSink(DType? storedType, int perChunk, Stream destination, QuantizationPlan plan, DType codeType, KernelStats stats)
        {
            _storedType = storedType;
            _destination = destination;
            _plan = plan;
            _codeType = codeType;
            Stats = stats;
            FirstNaN = -1;
            _values = storedType is null ? null : ArrayPool<T>.Shared.Rent(perChunk);
            _quantized = ArrayPool<T>.Shared.Rent(perChunk);
            _codes = ArrayPool<int>.Shared.Rent(perChunk);
            _encoded = ArrayPool<byte>.Shared.Rent(perChunk * codeType.ItemSize);
        }

        /// <summary>The index of the first NaN, which has no code, or -1.</summary>
        public long FirstNaN { get; private set; }

        public void Take(ReadOnlySpan<byte> bytes, long start, int n)
        {
            ReadOnlySpan<T> chunk;
            if (_storedType is null) chunk = MemoryMarshal.Cast<byte, T>(bytes);
            else
            {
                ElementConverter.Decode(bytes, _storedType, _values.AsSpan(0, n));
                chunk = _values.AsSpan(0, n);
            }
            _plan.Apply<T>(chunk, _quantized.AsSpan(0, n), start, ref Stats);
            if (FirstNaN < 0)
            {
                for (int i = 0; i < n; i++)
                {
                    if (T.IsNaN(chunk[i])) { FirstNaN = start + i; break; }
                }
            }
            if (FirstNaN >= 0) return; // the tensor fails; reading on counts every non-finite value
            _plan.Encode<T>(chunk, _codes.AsSpan(0, n), start);
            WriteCodes(_codes.AsSpan(0, n), _codeType, _encoded.AsSpan(0, n * _codeType.ItemSize));
            _destination.Write(_encoded!, 0, n * _codeType.ItemSize);
        }

        public void Dispose()
        {
            if (_values is not null) ArrayPool<T>.Shared.Return(_values);
            if (_quantized is not null) ArrayPool<T>.Shared.Return(_quantized);
            if (_codes is not null) ArrayPool<int>.Shared.Return(_codes);
            if (_encoded is not null) ArrayPool<byte>.Shared.Return(_encoded);
            _values = _quantized = null;
            _codes = null;
            _encoded = null;
        }
    }

    /// <summary>
    /// The smallest integer type that holds every code, unsigned when no code is negative (as ONNX's QDQ types): uint8,
    /// int8, uint16, int16, else int32. A PyTorch checkpoint has no uint16 storage (torch 1.13 reads none), so there
    /// codes of 256..65535 are int16 when they fit, else int32.
    /// </summary>
    internal static DType CodeType((int Min, int Max) range, TensorFileKind kind) => range switch
    {
        ( >= 0, <= byte.MaxValue) => DType.UInt8,
        ( >= sbyte.MinValue, <= sbyte.MaxValue) => DType.Int8,
        ( >= 0, <= ushort.MaxValue) when kind != TensorFileKind.PyTorch => DType.UInt16,
        ( >= short.MinValue, <= short.MaxValue) => DType.Int16,
        _ => DType.Int32,
    };

    internal static void WriteCodes(ReadOnlySpan<int> codes, DType codeType, Span<byte> destination)
    {
        switch (codeType.ItemSize, codeType.Kind)
        {
            case (1, _):
                for (int i = 0; i < codes.Length; i++) destination[i] = (byte)codes[i];
                break;
            case (2, _):
                for (int i = 0; i < codes.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(destination[(2 * i)..], (short)codes[i]);
                break;
            default:
                for (int i = 0; i < codes.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(destination[(4 * i)..], codes[i]);
                break;
        }
    }

    /// <summary>
    /// The quantizer of <paramref name="tensor"/>: the recipe's, or one chosen from the tensor's values, read from
    /// <paramref name="source"/> where it is given and seekable (left where it was), else from the file.
    /// </summary>
    internal static (InferableQuantizer Quantizer, SelectionInfo? Selection) Resolve(TensorFile file, StoredTensor tensor, QuantizerRecipe recipe, string name,
                                                                                     Stream? source = null)
    {
        if (!recipe.ChoosesFromData) return (recipe.Complete, null);
        InferableQuantizer quantizer;
        if (source is { CanSeek: true })
        {
            long start = source.Position;
            quantizer = ChooseFromValues(source, tensor, recipe, name);
            source.Position = start;
        }
        else
        {
            using var opened = file.OpenTensor(tensor);
            quantizer = ChooseFromValues(opened, tensor, recipe, name);
        }
        WholeTensorMemory.Release(tensor.ByteCount);
        return (quantizer, recipe.Describe(1));
    }

    /// <summary>Told the name of each tensor whose values are chosen from its channels read alone (tests).</summary>
    internal static readonly AsyncLocal<Action<string>?> ChannelsRead = new();

    /// <summary>Makes every tensor's values chosen from the whole tensor read, as before channels were read alone (tests: the reference).</summary>
    internal static readonly AsyncLocal<bool> WholeTensorOnly = new();

    /// <summary>
    /// The channel axis along which a per-channel recipe's values are chosen from the tensor's channels read alone (a
    /// C-order tensor whose channels are runs of its data, <see cref="QuantizerRecipe.ChannelRunAxis"/>); null where they
    /// are chosen from the whole tensor.
    /// </summary>
    private static int? ChannelsAxis(StoredTensor tensor, QuantizerRecipe recipe) =>
        recipe.ChoosesFromData && !WholeTensorOnly.Value && !tensor.FortranOrder && tensor.DType.Kind != DTypeKind.Opaque ? recipe.ChannelRunAxis(tensor.Shape) : null;

    [MethodImpl(MethodImplOptions.NoInlining)] // the values die with this frame
    private static InferableQuantizer ChooseFromValues(Stream source, StoredTensor tensor, QuantizerRecipe recipe, string name)
    {
        if (ChannelsAxis(tensor, recipe) is not int axis) return recipe.ResolveFor([TensorValues.Read(source, tensor, name)], name);
        ChannelsRead.Value?.Invoke(tensor.Name);
        return tensor.DType.IsDouble
            ? recipe.ResolveForChannels(TensorValues.ReadChannels<double>(source, tensor, axis), axis, tensor.Shape, name)
            : recipe.ResolveForChannels(TensorValues.ReadChannels<float>(source, tensor, axis), axis, tensor.Shape, name);
    }

    private static string Unique(HashSet<string> names, string name, TensorFile file)
    {
        if (!names.Add(name))
            throw new QuantShellException($"{file.Name}: the int format needs a tensor named '{name}', but the file already has one.", ErrorIds.OutputTensorNameTaken, QuantShellErrorKind.InvalidData, file.Name);
        return name;
    }

    private static void WriteFloats(Stream stream, IEnumerable<float> values)
    {
        Span<byte> bytes = stackalloc byte[4];
        foreach (float value in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
            stream.Write(bytes);
        }
    }

    private static void WriteInts(Stream stream, IEnumerable<int> values)
    {
        Span<byte> bytes = stackalloc byte[4];
        foreach (int value in values)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
            stream.Write(bytes);
        }
    }

    /// <summary>How errors name a tensor of a file.</summary>
    internal static string Source(TensorFile file, StoredTensor tensor) => $"{file.Name}: tensor '{tensor.Name}'";

    internal static IReadOnlyList<QuantizationResult> Completed(QuantizationResult?[] results, TensorFile file)
    {
        for (int i = 0; i < results.Length; i++)
        {
            if (results[i] is null)
                throw new InvalidOperationException($"{file.Name}: the writer did not visit tensor '{file.Tensors[i].Name}'.");
        }
        return results!;
    }
}
