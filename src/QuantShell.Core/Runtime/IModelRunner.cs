using System.Globalization;
using System.Runtime.InteropServices;
using QuantShell.Core.Formats.Onnx;

namespace QuantShell.Core.Runtime;

/// <summary>
/// What the core needs of an inference runtime to calibrate activations and compare models: open a model and run it on
/// named inputs. The core references no runtime; a face passes an implementation in (QuantShell.OnnxRuntime's
/// <c>OnnxRuntimeModelRunner</c>, which wraps ONNX Runtime on the CPU). Implementations report failures as
/// <see cref="Errors.QuantShellException"/>s with the core's error ids (<see cref="Errors.ErrorIds.OnnxRuntimeCannotLoad"/>,
/// <see cref="Errors.ErrorIds.OnnxRuntimeRunFailed"/>, <see cref="Errors.ErrorIds.OnnxRuntimeUnavailable"/>).
/// </summary>
public interface IModelRunner
{
    /// <summary>Opens a model for running; the session is disposed by the caller.</summary>
    IModelSession Open(ModelSource model, ModelSessionOptions options);
}

/// <summary>One model opened by a runtime.</summary>
public interface IModelSession : IDisposable
{
    /// <summary>The model's inputs as the runtime sees them (initializers that may be fed are not listed).</summary>
    IReadOnlyList<ModelValueInfo> Inputs { get; }

    /// <summary>The model's outputs, in the model's order.</summary>
    IReadOnlyList<ModelValueInfo> Outputs { get; }

    /// <summary>Runs the model once on <paramref name="inputs"/> and returns the outputs named in <paramref name="outputNames"/>, in that order.</summary>
    IReadOnlyList<ModelTensor> Run(IReadOnlyList<ModelTensor> inputs, IReadOnlyList<string> outputNames);
}

/// <summary>A model to open: a file, or a model's bytes (a copy changed in memory) with the folder its external data is in.</summary>
public sealed record ModelSource
{
    private ModelSource(string name, string? path, byte[]? bytes, string? directory)
    {
        Name = name;
        Path = path;
        Bytes = bytes;
        Directory = directory;
    }

    /// <summary>How messages name the model (the path as the user gave it).</summary>
    public string Name { get; }

    /// <summary>The model file, when the model is opened from one.</summary>
    public string? Path { get; }

    /// <summary>The model's serialized bytes, when opened from memory.</summary>
    public byte[]? Bytes { get; }

    /// <summary>Where the external data files of a model opened from memory are.</summary>
    public string? Directory { get; }

    public static ModelSource File(string path, string name) => new(name, System.IO.Path.GetFullPath(path), null, null);

    public static ModelSource Memory(byte[] bytes, string name, string? directory) => new(name, null, bytes ?? throw new ArgumentNullException(nameof(bytes)), directory);
}

/// <summary>How a model is run.</summary>
public sealed record ModelSessionOptions
{
    /// <summary>The runtime's graph optimizations (fusions, integer kernels for QuantizeLinear/DequantizeLinear pairs).</summary>
    public ModelOptimization Optimization { get; init; } = ModelOptimization.All;

    /// <summary>Threads one run may use; null leaves it to the runtime (every core).</summary>
    public int? Threads { get; init; }

    /// <summary>When set, the runtime writes the model as it optimized it to this file (to see which kernels it chose).</summary>
    public string? OptimizedModelPath { get; init; }
}

/// <summary>The runtime's graph optimization levels.</summary>
public enum ModelOptimization
{
    /// <summary>No rewrite: every node runs as written.</summary>
    None,
    /// <summary>Rewrites that keep the graph's operators (constant folding, redundant nodes removed).</summary>
    Basic,
    /// <summary>Basic plus fusions into the runtime's own operators.</summary>
    Extended,
    /// <summary>Everything, layout changes included: what a deployed model gets.</summary>
    All,
}

/// <summary>An input or output of a model: its name, element type and dimensions (-1 where the model leaves one open).</summary>
public sealed record ModelValueInfo
{
    public required string Name { get; init; }

    /// <summary>The element type; <see cref="OnnxDataType.Undefined"/> for a value that is not a tensor (a sequence, a map).</summary>
    public required OnnxDataType ElementType { get; init; }

    /// <summary>The dimensions; -1 for a dimension the model leaves open (a symbolic batch size).</summary>
    public required long[] Dimensions { get; init; }

    /// <summary>The names of open dimensions (empty where the model gives none).</summary>
    public IReadOnlyList<string> SymbolicDimensions { get; init; } = [];

    public bool IsTensor => ElementType != OnnxDataType.Undefined;

    /// <summary>The dimensions as text: <c>[batch, 3, 48, 192]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Dimensions.Select((d, i) =>
        d >= 0 ? d.ToString(CultureInfo.InvariantCulture)
        : i < SymbolicDimensions.Count && SymbolicDimensions[i].Length > 0 ? SymbolicDimensions[i] : "?")) + "]";
}

/// <summary>A tensor going into or coming out of a model: its elements as little-endian bytes in C order.</summary>
public sealed class ModelTensor
{
    public ModelTensor(string name, OnnxDataType elementType, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = shape.Aggregate(1L, (a, b) => checked(a * b));
        long bytes = OnnxDataTypes.RawBytes(elementType, count);
        if (bytes != data.LongLength)
            throw new ArgumentException($"'{name}': {data.LongLength} bytes for {count} {OnnxDataTypes.Name(elementType)} elements (shape [{string.Join(", ", shape)}]) need {bytes}.", nameof(data));
        Name = name;
        ElementType = elementType;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }
    public OnnxDataType ElementType { get; }
    public long[] Shape { get; }

    /// <summary>The elements, little-endian, in C order.</summary>
    public byte[] Data { get; }

    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>The elements as float64 (numeric types; float16 and bfloat16 widened exactly).</summary>
    public double[] ToDoubles()
    {
        var span = Data.AsSpan();
        var values = new double[ElementCount];
        switch (ElementType)
        {
            case OnnxDataType.Float:
                var f = MemoryMarshal.Cast<byte, float>(span);
                for (int i = 0; i < values.Length; i++) values[i] = f[i];
                break;
            case OnnxDataType.Double:
                MemoryMarshal.Cast<byte, double>(span).CopyTo(values);
                break;
            case OnnxDataType.Float16:
                var h = MemoryMarshal.Cast<byte, Half>(span);
                for (int i = 0; i < values.Length; i++) values[i] = (double)h[i];
                break;
            case OnnxDataType.BFloat16:
                var b = MemoryMarshal.Cast<byte, ushort>(span);
                for (int i = 0; i < values.Length; i++) values[i] = BitConverter.Int32BitsToSingle(b[i] << 16);
                break;
            case OnnxDataType.Int8: for (int i = 0; i < values.Length; i++) values[i] = (sbyte)span[i]; break;
            case OnnxDataType.UInt8 or OnnxDataType.Bool: for (int i = 0; i < values.Length; i++) values[i] = span[i]; break;
            case OnnxDataType.Int16: var s16 = MemoryMarshal.Cast<byte, short>(span); for (int i = 0; i < values.Length; i++) values[i] = s16[i]; break;
            case OnnxDataType.UInt16: var u16 = MemoryMarshal.Cast<byte, ushort>(span); for (int i = 0; i < values.Length; i++) values[i] = u16[i]; break;
            case OnnxDataType.Int32: var s32 = MemoryMarshal.Cast<byte, int>(span); for (int i = 0; i < values.Length; i++) values[i] = s32[i]; break;
            case OnnxDataType.UInt32: var u32 = MemoryMarshal.Cast<byte, uint>(span); for (int i = 0; i < values.Length; i++) values[i] = u32[i]; break;
            case OnnxDataType.Int64: var s64 = MemoryMarshal.Cast<byte, long>(span); for (int i = 0; i < values.Length; i++) values[i] = s64[i]; break;
            case OnnxDataType.UInt64: var u64 = MemoryMarshal.Cast<byte, ulong>(span); for (int i = 0; i < values.Length; i++) values[i] = u64[i]; break;
            default: throw new NotSupportedException($"'{Name}': {OnnxDataTypes.Name(ElementType)} elements are not numbers QuantShell reads.");
        }
        return values;
    }

    public override string ToString() => $"{Name} {OnnxDataTypes.Name(ElementType)} {ShapeText}";
}
