namespace QuantShell.Core.Serialization;

/// <summary>The kinds of JSON document QuantShell writes, each with one schema.</summary>
public enum JsonDocumentKind
{
    /// <summary>A line of <c>dotnet quant quantize --json</c>: <see cref="Jobs.Quantize.QuantizationReport"/> (a tensor's result or a model's summary).</summary>
    Quantize,
    /// <summary>A line of <c>dotnet quant measure --json</c>: <see cref="Jobs.Measure.MeasurementResult"/>.</summary>
    Measure,
    /// <summary>A line of <c>dotnet quant inspect --json</c>: <see cref="Jobs.Inspect.TensorInfo"/>.</summary>
    Inspect,
    /// <summary>A line of <c>dotnet quant dequantize --json</c>: <see cref="Jobs.Dequantize.DequantizationResult"/>.</summary>
    Dequantize,
    /// <summary>A quantizer file.</summary>
    Quantizer,
    /// <summary>A line of <c>dotnet quant lower --json</c>: <see cref="Jobs.Lower.LowerResult"/>.</summary>
    Lower,
    /// <summary>A line of <c>dotnet quant calibrate --json</c>: <see cref="Jobs.Calibrate.CalibrationResult"/>.</summary>
    Calibrate,
    /// <summary>A line of <c>dotnet quant compare --json</c>: <see cref="Jobs.Compare.ComparisonResult"/>.</summary>
    Compare,
    /// <summary>A rules file (what <c>dotnet quant calibrate</c> writes, what <c>--rules</c> reads).</summary>
    Rules,
}
