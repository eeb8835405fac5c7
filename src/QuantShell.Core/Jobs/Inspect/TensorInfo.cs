using System.Text.Json.Serialization;
using QuantShell.Core.Formats;

namespace QuantShell.Core.Jobs.Inspect;

/// <summary>
/// A stored tensor as <c>dotnet quant inspect</c> and Get-QuantTensor describe it: format facts and, when the values are
/// read, their statistics over finite values (in float64; std is the population one, NumPy's default).
/// </summary>
public sealed record TensorInfo
{
    public required string Path { get; init; }

    /// <summary>The tensor's name in a model file; null for an .npy file.</summary>
    public string? TensorName { get; init; }

    /// <summary>The file's format and version, e.g. <c>NPY 1.0</c>.</summary>
    public required string Format { get; init; }
    [JsonPropertyName("dtype")]
    public required string DType { get; init; }

    /// <summary>The dtype as the file spells it, e.g. <c>&lt;f4</c>.</summary>
    public required string Descr { get; init; }
    public required long[] Shape { get; init; }
    public required bool FortranOrder { get; init; }
    public required long ElementCount { get; init; }

    /// <summary>Bytes of data the tensor holds in the file.</summary>
    public required long ByteCount { get; init; }

    // Statistics: null when the values were not read, or none of them is finite.
    public double? Min { get; init; }
    public double? Max { get; init; }
    public double? Mean { get; init; }
    public double? Std { get; init; }
    public long? FiniteCount { get; init; }
    [JsonPropertyName("nanCount")]
    public long? NaNCount { get; init; }
    public long? PositiveInfinityCount { get; init; }
    public long? NegativeInfinityCount { get; init; }

    public long? NonFiniteCount => NaNCount + PositiveInfinityCount + NegativeInfinityCount;

    [JsonIgnore]
    public string ShapeText => NpyHeader.FormatShape(Shape);

    /// <summary>"C" or "Fortran".</summary>
    public string Order => FortranOrder ? "Fortran" : "C";

    internal static TensorInfo FromNpy(string path, NpyHeader header, NpyArray? values)
    {
        var info = new TensorInfo
        {
            Path = path,
            Format = $"NPY {header.MajorVersion}.0",
            DType = header.DType.Name,
            Descr = header.DType.Descr,
            Shape = header.Shape,
            FortranOrder = header.FortranOrder,
            ElementCount = header.ElementCount,
            ByteCount = header.DataBytes,
        };
        return values is null ? info : info.WithStatistics(values.Data);
    }

    internal static TensorInfo FromStored(string path, string format, StoredTensor tensor, NpyArray? values)
    {
        var info = new TensorInfo
        {
            Path = path,
            TensorName = tensor.Name,
            Format = format,
            DType = tensor.DType.Name,
            Descr = tensor.StoredDType,
            Shape = tensor.Shape,
            FortranOrder = tensor.FortranOrder,
            ElementCount = tensor.ElementCount,
            ByteCount = tensor.ByteCount,
        };
        return values is null ? info : info.WithStatistics(values.Data);
    }

    private TensorInfo WithStatistics(Array data)
    {
        double[] values = data switch
        {
            Half[] h => Array.ConvertAll(h, v => (double)v),
            float[] f => Array.ConvertAll(f, v => (double)v),
            double[] d => d,
            _ => throw new ArgumentException(data.GetType().Name, nameof(data)),
        };
        long nan = 0, positiveInfinity = 0, negativeInfinity = 0, finite = 0;
        double min = double.PositiveInfinity, max = double.NegativeInfinity, sum = 0;
        foreach (double v in values)
        {
            if (double.IsNaN(v)) nan++;
            else if (double.IsPositiveInfinity(v)) positiveInfinity++;
            else if (double.IsNegativeInfinity(v)) negativeInfinity++;
            else
            {
                finite++;
                sum += v;
                if (v < min) min = v;
                if (v > max) max = v;
            }
        }
        var counted = this with { FiniteCount = finite, NaNCount = nan, PositiveInfinityCount = positiveInfinity, NegativeInfinityCount = negativeInfinity };
        if (finite == 0) return counted;
        double mean = sum / finite;
        // Two passes: the mean first, then squared deviations, which keeps the variance accurate.
        double squares = 0;
        foreach (double v in values)
            if (double.IsFinite(v)) squares += (v - mean) * (v - mean);
        return counted with { Min = min, Max = max, Mean = mean, Std = Math.Sqrt(squares / finite) };
    }
}
