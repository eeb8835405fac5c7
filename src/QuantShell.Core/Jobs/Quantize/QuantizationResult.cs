using System.Text.Json.Serialization;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>
/// What quantizing one tensor did: the result object of Invoke-Quantize for an .npy file, one of a model's
/// <see cref="ModelQuantizationSummary.Tensors"/>, and, serialized, a <c>"kind": "tensor"</c> line of
/// <c>dotnet quant quantize --json</c> (camelCase names of these properties).
/// </summary>
public sealed record QuantizationResult : QuantizationReport
{
    public required string InputPath { get; init; }
    public required string OutputPath { get; init; }

    /// <summary>The tensor's name in a model file; null for an .npy file (one tensor).</summary>
    public string? TensorName { get; init; }

    /// <summary>
    /// True for an activation of an ONNX model: a value of its graph (named by <see cref="TensorName"/>), quantized when the
    /// model runs by the nodes put before its readers (<see cref="Format"/>: QuantizeLinear/DequantizeLinear for qdq, float ops
    /// for fake). Its shape is the graph's to decide (empty here), and no error is measured.
    /// </summary>
    public bool Activation { get; init; }

    public required long[] Shape { get; init; }

    /// <summary>The input's dtype name (float32, int16, ...).</summary>
    [JsonPropertyName("dtype")]
    public required string DType { get; init; }

    /// <summary>The output's dtype name (float16, float32 or float64).</summary>
    [JsonPropertyName("outputDtype")]
    public required string OutputDType { get; init; }
    public required bool FortranOrder { get; init; }
    /// <summary>True when the tensor was copied unchanged (see <see cref="SkipReason"/>); the quantizer fields are then null.</summary>
    public bool Skipped { get; init; }

    /// <summary>Why the tensor was copied unchanged: no rule matched, a rule skips it, it is not floating, ...</summary>
    public string? SkipReason { get; init; }

    /// <summary>
    /// <see cref="SkipReason"/> without the tensor's particulars ("int64 values (not floating)", "read by no operator"): the
    /// heading under which <see cref="ModelQuantizationSummary.Skipped"/> counts it.
    /// </summary>
    public string? SkipCategory { get; init; }

    public QuantizationTarget? Target { get; init; }
    public QuantizationMethod? Method { get; init; }
    public int? NumBits { get; init; }
    public bool? PerChannel { get; init; }

    /// <summary>The resolved (non-negative) channel axis for per-channel quantizers, else null.</summary>
    public int? ChannelAxis { get; init; }

    /// <summary>Group-wise: elements of the last axis per group (values are then per channel and group, channel-major); else null.</summary>
    public int? GroupSize { get; init; }

    /// <summary>The threshold(s) applied (POT, symmetric, LUT), given or chosen from the data; null for uniform.</summary>
    public IReadOnlyList<double>? Threshold { get; init; }

    /// <summary>The range(s) applied (uniform), given or chosen from the data; null otherwise.</summary>
    public IReadOnlyList<double>? MinRange { get; init; }
    public IReadOnlyList<double>? MaxRange { get; init; }

    /// <summary>The table applied (LUT quantizers); null otherwise.</summary>
    public IReadOnlyList<double>? LutValues { get; init; }

    /// <summary>Signed integer range; null for uniform.</summary>
    public bool? Signed { get; init; }

    /// <summary>The step between levels per tensor or per channel (grid scale; LUT: t / 2^(B - signed)).</summary>
    public float[]? Scale { get; init; }
    public int[]? ZeroPoint { get; init; }

    /// <summary>The integer range of grid quantizers; null for LUT ones.</summary>
    public int? QuantMin { get; init; }
    public int? QuantMax { get; init; }
    public required long ElementCount { get; init; }

    /// <summary>NaN/±inf inputs (only non-zero with AllowNonFinite).</summary>
    public required long NonFiniteCount { get; init; }

    /// <summary>Mean squared error between input and output over finite elements.</summary>
    public double? Mse { get; init; }

    /// <summary>Signal-to-quantization-noise ratio in dB (+∞ when lossless).</summary>
    public double? SqnrDb { get; init; }

    /// <summary>The quantizer applied, as a quantizer file holds it.</summary>
    public QuantizerSpec? Quantizer { get; init; }

    /// <summary>What the output holds for this tensor: fake-quantized values, or integer codes with their scales; null when copied.</summary>
    public OutputFormat? Format { get; init; }

    /// <summary>How the quantizer's values were chosen from data; null when they were given.</summary>
    public SelectionInfo? Selection { get; init; }

    public required double ElapsedMs { get; init; }

    [JsonIgnore]
    public string ShapeText => NpyHeader.FormatShape(Shape);

    /// <summary>Sum of x² over the finite inputs (with <see cref="SumSquaredError"/>: the SQNR of several tensors together).</summary>
    [JsonIgnore]
    internal double SumSquaredSignal { get; init; }

    /// <summary>Sum of (x - y)² over the finite inputs.</summary>
    [JsonIgnore]
    internal double SumSquaredError { get; init; }

    public override IReadOnlyList<QuantizationResult> TensorResults() => [this];

    /// <summary>
    /// One line: how PowerShell shows a result inside another object (a model's <see cref="ModelQuantizationSummary.Tensors"/>
    /// in <c>Format-List</c>), where the record's own text listed every property of every tensor.
    /// </summary>
    public override string ToString()
    {
        string what = TensorName ?? System.IO.Path.GetFileName(InputPath);
        if (Skipped) return $"{what} {ShapeText}: copied, {SkipCategory ?? SkipReason}";
        string quantizer = $"{Target} {Method} {NumBits}-bit";
        return Activation
            ? $"{what}: activation, {quantizer} ({Format})"
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{what} {ShapeText}: {quantizer}, SQNR {SqnrDb:0.00} dB");
    }

    /// <summary>A tensor copied unchanged.</summary>
    internal static QuantizationResult CreateSkipped(string inputPath, string outputPath, StoredTensor tensor, Rules.TensorDecision decision) => new()
    {
        InputPath = inputPath,
        OutputPath = outputPath,
        TensorName = tensor.Name,
        Shape = tensor.Shape,
        DType = tensor.DType.Name,
        OutputDType = tensor.DType.Name,
        FortranOrder = tensor.FortranOrder,
        ElementCount = tensor.ElementCount,
        NonFiniteCount = 0,
        Skipped = true,
        SkipReason = decision.SkipReason,
        SkipCategory = decision.SkipCategory,
        ElapsedMs = 0,
    };

    // Plain loops: a model-folder weight has millions of channels (groups).
    private static float[] ScalesOf(QuantizationPlan plan, int channels)
    {
        // A grid's own array, shared (a weight's groups can be a million values; plans never change their parameters).
        if (plan is GridPlan { Parameters.Scales: float[] grid } && grid.Length == channels) return grid;
        var scales = new float[channels];
        for (int c = 0; c < channels; c++) scales[c] = (float)plan.ScaleOf(c);
        return scales;
    }

    private static int[] ZeroPointsOf(QuantizationPlan plan, int channels)
    {
        if (plan is GridPlan { Parameters.ZeroPoints: int[] grid } && grid.Length == channels) return grid;
        var zeroPoints = new int[channels];
        for (int c = 0; c < channels; c++) zeroPoints[c] = plan.ZeroPointOf(c);
        return zeroPoints;
    }

    /// <summary>The result of applying <paramref name="plan"/> of <paramref name="quantizer"/> to one tensor.</summary>
    internal static QuantizationResult Create(string inputPath, string outputPath, string? tensorName, TensorLayout layout,
                                              InferableQuantizer quantizer, QuantizationPlan plan, in KernelStats stats,
                                              SelectionInfo? selection, TimeSpan elapsed, OutputFormat format = OutputFormat.Fake)
    {
        var spec = quantizer.SpecFor(plan);
        int channels = plan.ChannelAxis is null ? 1 : plan.Channels;
        var grid = plan as GridPlan;
        return new QuantizationResult
        {
            InputPath = inputPath,
            OutputPath = outputPath,
            TensorName = tensorName,
            Shape = layout.Shape,
            DType = layout.DType.Name,
            OutputDType = layout.OutputDType.Name,
            FortranOrder = layout.FortranOrder,
            Target = spec.Target,
            Method = spec.Method,
            NumBits = spec.NumBits,
            PerChannel = spec.PerChannel,
            ChannelAxis = plan.ChannelAxis,
            GroupSize = spec.GroupSize,
            Threshold = spec.ThresholdOfMethod,
            MinRange = spec.MinRangeOfMethod,
            MaxRange = spec.MaxRangeOfMethod,
            LutValues = spec.LutValuesOfMethod,
            Signed = spec.SignedOfMethod,
            Scale = ScalesOf(plan, channels),
            ZeroPoint = ZeroPointsOf(plan, channels),
            QuantMin = grid?.Parameters.QuantMin,
            QuantMax = grid?.Parameters.QuantMax,
            ElementCount = plan.ElementCount,
            NonFiniteCount = stats.NonFinite,
            Mse = stats.MeanSquaredError,
            SqnrDb = stats.SqnrDecibels,
            SumSquaredSignal = stats.SumSquaredSignal,
            SumSquaredError = stats.SumSquaredError,
            Quantizer = spec,
            Selection = selection,
            Format = format,
            ElapsedMs = elapsed.TotalMilliseconds,
        };
    }
}

/// <summary>The facts of a stored tensor that a result reports: shape, dtype in and out, memory order.</summary>
internal readonly record struct TensorLayout(long[] Shape, DType DType, DType OutputDType, bool FortranOrder);
