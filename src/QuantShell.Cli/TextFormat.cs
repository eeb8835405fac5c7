using System.Globalization;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Jobs.Inspect;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Jobs.Measure;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.Core.Jobs.Calibrate;
using QuantShell.Core.Jobs.Compare;

namespace QuantShell.Cli;

/// <summary>How results read as text on a terminal (the JSON form is the result objects themselves).</summary>
internal static class TextFormat
{
    /// <summary>One line per quantized tensor: where it went, the quantizer applied, its values, the error.</summary>
    public static void WriteQuantized(TextWriter output, QuantizationResult result)
    {
        string tensor = result.TensorName is null ? "" : $" [{result.TensorName}]";
        if (result.Skipped)
        {
            output.WriteLine($"{result.InputPath}{tensor} -> {result.OutputPath}: {result.DType} {result.ShapeText}, copied unchanged ({result.SkipReason})");
            return;
        }
        var spec = result.Quantizer!;
        if (result.Activation)
        {
            string how = result.Format == OutputFormat.Qdq ? $"QuantizeLinear/DequantizeLinear ({result.OutputDType})" : "fake-quantized in float ops";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.InputPath} [{result.TensorName}] -> {result.OutputPath}: activation {EnumNames.Kebab(spec.Method)} {spec.NumBits}-bit, {AppliedValues(spec)}, " +
                $"scale {Number(result.Scale![0])}, zero point {result.ZeroPoint![0]}, {how}"));
            return;
        }
        string howChosen = result.Selection is null ? "" : $" ({result.Selection})";
        string nonFinite = result.NonFiniteCount > 0 ? $", {result.NonFiniteCount} non-finite kept/saturated" : "";
        string form = result.Format is { } written && written != OutputFormat.Fake ? $", {EnumNames.Kebab(written)} codes" : "";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.InputPath}{tensor} -> {result.OutputPath}: {result.OutputDType} {result.ShapeText}, " +
            $"{Describe(spec, result.ChannelAxis)}{howChosen}, " +
            $"scale {List(result.Scale!.Select(s => (double)s).ToArray())}, MSE {result.Mse:G6}, SQNR {Decibels(result.SqnrDb ?? double.NaN)}{nonFinite}{form}"));
    }

    /// <summary>
    /// What <c>new --output-path</c> wrote, one line: <c>/abs/q.json: weights pot 8-bit per-channel (axis 0), threshold [4,
    /// 8, 16, 16, ... 64 values], signed</c> (with no file to write, the JSON itself is the output).
    /// </summary>
    public static void WriteCreated(TextWriter output, string path, QuantizerSpec spec) =>
        output.WriteLine($"{path}: {Describe(spec, spec.ChannelAxis)}");

    /// <summary>
    /// A weights quantizer as the lines name it: <c>weights pot 8-bit per-channel (axis 0), threshold [4, 8, ... 64 values],
    /// signed</c>; <paramref name="axis"/> is the channel axis it applies along (a quantizer file may leave it out).
    /// </summary>
    private static string Describe(QuantizerSpec spec, int? axis)
    {
        string along = axis is int a ? $"axis {a}" : "";
        string channels = !spec.PerChannel ? ""
            : spec.GroupSize is int g ? $" group-wise ({along}{(along.Length > 0 ? ", " : "")}groups of {g})"
            : along.Length > 0 ? $" per-channel ({along})" : " per-channel";
        return string.Create(CultureInfo.InvariantCulture,
            $"{EnumNames.Kebab(spec.Target)} {EnumNames.Kebab(spec.Method)} {spec.NumBits}-bit{channels}, {AppliedValues(spec)}");
    }

    /// <summary>
    /// An .npy file's line; a model's summary line, after one line per tensor when <paramref name="verbose"/>:
    /// <c>IN -> OUT: 53 of 117 tensors quantized (fake), SQNR 38.21 dB, 4.51 MiB -> 4.51 MiB, 0.41 s; 64 skipped: 64 int64 values (not floating)</c>.
    /// </summary>
    public static void WriteQuantizeReport(TextWriter output, QuantizationReport report, bool verbose)
    {
        if (report is QuantizationResult result)
        {
            WriteQuantized(output, result);
            return;
        }
        var summary = (ModelQuantizationSummary)report;
        if (verbose)
            foreach (var tensor in summary.Tensors) WriteQuantized(output, tensor);
        string activations = summary.ActivationCount > 0 ? $" and {summary.ActivationCount} activation{(summary.ActivationCount == 1 ? "" : "s")}" : "";
        string sqnr = summary.SqnrDb is double db ? $", SQNR {Decibels(db)}" : "";
        string size = summary.InputBytes is long before && summary.OutputBytes is long after ? $", {Megabytes(before)} -> {Megabytes(after)}" : "";
        string skipped = summary.SkippedCount == 0 ? ""
            : $"; {summary.SkippedCount} skipped: {string.Join(", ", summary.Skipped)}";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{summary.InputPath} -> {summary.OutputPath}: {summary.QuantizedCount} of {summary.TensorCount} tensors{activations} quantized ({EnumNames.Kebab(summary.Format)}){sqnr}{size}, " +
            $"{Seconds(summary.ElapsedMs)}{skipped}"));
    }

    private static string Seconds(double milliseconds) => milliseconds >= 1000
        ? (milliseconds / 1000).ToString("F2", CultureInfo.InvariantCulture) + " s"
        : milliseconds.ToString("F0", CultureInfo.InvariantCulture) + " ms";

    /// <summary>One line per activation: its statistics and the quantizer chosen, or why none was.</summary>
    public static void WriteCalibrated(TextWriter output, CalibrationResult result)
    {
        string where = result.Graph is null ? "" : $" in {result.Graph}";
        if (result.Skipped)
        {
            output.WriteLine($"{result.TensorName}{where}: skipped ({result.SkipReason})");
            return;
        }
        var spec = result.Quantizer!;
        string exact = result.QdqExact == true ? "exact as QuantizeLinear" : "QuantizeLinear may differ by one step at ties";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.TensorName}{where} {result.DType} {result.ShapeText}: min {result.Min:G6}, max {result.Max:G6} over {result.Count} values in {result.Samples} sample{(result.Samples == 1 ? "" : "s")} -> " +
            $"{EnumNames.Kebab(spec.Method)} {spec.NumBits}-bit, {AppliedValues(spec)}, scale {Number(result.Scale!.Value)}, zero point {result.ZeroPoint} ({result.QdqType}, {exact})"));
    }

    /// <summary>One line per output: how far the candidate's is from the reference's, the sizes and latencies.</summary>
    public static void WriteCompared(TextWriter output, ComparisonResult result)
    {
        string top1 = result.Top1Agreement is double agreement ? $", top-1 agreement {agreement * 100:F2}% of {result.Top1Rows} rows" : "";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.OutputName} {result.DType} [{string.Join(", ", result.Shape)}]: SQNR {Decibels(result.SqnrDb)}, max abs error {result.MaxAbsError:G5}, mean abs error {result.MeanAbsError:G5}, " +
            $"cosine {result.CosineSimilarity:F6}{top1} over {result.Samples} sample{(result.Samples == 1 ? "" : "s")}; " +
            $"size {Megabytes(result.ReferenceBytes)} -> {Megabytes(result.CandidateBytes)}, median latency {result.ReferenceMedianMs:F2} -> {result.CandidateMedianMs:F2} ms"));
    }

    private static string Megabytes(long bytes) => bytes >= 1 << 20
        ? (bytes / 1048576.0).ToString("F2", CultureInfo.InvariantCulture) + " MiB"
        : (bytes / 1024.0).ToString("F1", CultureInfo.InvariantCulture) + " KiB";

    /// <summary>One line per tensor of a dequantized file.</summary>
    public static void WriteDequantized(TextWriter output, DequantizationResult result) =>
        output.WriteLine(result.Dequantized
            ? $"{result.InputPath} [{result.TensorName}] -> {result.OutputPath}: {result.CodeDType} codes -> {result.DType} {result.ShapeText}"
            : $"{result.InputPath} [{result.TensorName}] -> {result.OutputPath}: {result.DType} {result.ShapeText}, copied unchanged");

    /// <summary>
    /// A dequantized file's summary line, after one line per tensor when <paramref name="verbose"/>:
    /// <c>IN -> OUT: 64 of 342 tensors dequantized (int8 codes -> float32), 278 copied unchanged</c>.
    /// </summary>
    public static void WriteDequantizedFile(TextWriter output, IReadOnlyList<DequantizationResult> results, bool verbose)
    {
        if (results.Count == 0) return;
        if (verbose)
            foreach (var result in results) WriteDequantized(output, result);
        var dequantized = results.Where(r => r.Dequantized).ToList();
        string kinds = string.Join(", ", dequantized.Select(r => $"{r.CodeDType} codes -> {r.DType}").Distinct());
        int copied = results.Count - dequantized.Count;
        // A model folder's tensors come from several shards: the line names the folders.
        static string Where(IEnumerable<string> paths)
        {
            var distinct = paths.Distinct().ToList();
            return distinct.Count == 1 ? distinct[0] : Path.GetDirectoryName(distinct[0]) ?? distinct[0];
        }
        output.WriteLine($"{Where(results.Select(r => r.InputPath))} -> {Where(results.Select(r => r.OutputPath))}: {dequantized.Count} of {results.Count} tensor{(results.Count == 1 ? "" : "s")} dequantized" +
                         (kinds.Length > 0 ? $" ({kinds})" : "") + (copied > 0 ? $", {copied} copied unchanged" : ""));
    }

    /// <summary>One line per lowered model: where it went, what was replaced and by what, the opset.</summary>
    public static void WriteLowered(TextWriter output, LowerResult result)
    {
        string opset = result.Opset == result.OpsetBefore ? $"opset {result.Opset}" : $"opset {result.OpsetBefore} -> {result.Opset}";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.InputPath} -> {result.OutputPath}: {result.WeightsQuantized} weight quantizer{(result.WeightsQuantized == 1 ? "" : "s")} as {EnumNames.Kebab(result.Weights)}, " +
            $"{result.ActivationsLowered} activation quantizer{(result.ActivationsLowered == 1 ? "" : "s")} as {EnumNames.Kebab(result.Activations)}, " +
            $"{result.NodeCountBefore} -> {result.NodeCount} nodes, {opset}, {result.ElapsedMs:F0} ms"));
    }

    /// <summary>
    /// An .npy file: a header line, then a row for the tensor. A model file: one table, its header before the first tensor,
    /// then a row per tensor ending with its name and quantizer. Rows per channel follow a tensor's row only with
    /// <paramref name="perChannelDetail"/>. <paramref name="tableOf"/> is the model whose table is open.
    /// </summary>
    public static void WriteMeasured(TextWriter output, MeasurementResult result, bool perChannelDetail, ref string? tableOf)
    {
        if (result.TensorName is null)
        {
            tableOf = null;
            string channels = result.PerChannel ? $" per-channel (axis {result.ChannelAxis})" : "";
            string howChosen = result.Selection is null ? "" : $" ({result.Selection})";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.InputPath}: {result.ShapeText}, {EnumNames.Kebab(result.Target)} {EnumNames.Kebab(result.Method)} {result.NumBits}-bit{channels}, " +
                $"{AppliedValues(result.Quantizer)}{howChosen}"));
            output.WriteLine(Row("", "count", "MSE", "MAE", "max error", "SQNR", "clipped", "levels", "scale", "zero", "range"));
            output.WriteLine(Row("tensor", TensorMetrics(result)));
            if (perChannelDetail)
                foreach (var channel in result.Channels) output.WriteLine(Row($"ch {channel.Channel}", channel));
        }
        else
        {
            if (tableOf != result.InputPath)
            {
                tableOf = result.InputPath;
                output.WriteLine($"{result.InputPath}:");
                output.WriteLine(Row("", "count", "MSE", "MAE", "max error", "SQNR", "clipped", "levels", "scale", "zero", "range") + "  tensor: quantizer");
            }
            string channels = result.PerChannel ? $" per-channel (axis {result.ChannelAxis})" : "";
            output.WriteLine(Row("", TensorMetrics(result)) +
                $"  {result.TensorName} {result.ShapeText}: {EnumNames.Kebab(result.Method)} {result.NumBits}-bit{channels}");
            if (perChannelDetail)
                foreach (var channel in result.Channels) output.WriteLine(Row($"ch {channel.Channel}", channel));
        }
        if (result.PlotPath is not null) output.WriteLine($"  plot: {result.PlotPath}");
    }

    private static ChannelMetrics TensorMetrics(MeasurementResult result) => new()
    {
        Count = result.Count, Mse = result.Mse, Mae = result.Mae, MaxError = result.MaxError, SqnrDb = result.SqnrDb,
        ClippedFraction = result.ClippedFraction, DistinctLevels = result.DistinctLevels, LevelsAvailable = result.LevelsAvailable,
        Scale = result.Scale, ZeroPoint = result.ZeroPoint, RangeMin = result.RangeMin, RangeMax = result.RangeMax,
    };

    /// <summary>The facts of a tensor, one per line.</summary>
    public static void WriteInspected(TextWriter output, TensorInfo info)
    {
        void Line(string label, string value) => output.WriteLine($"{label,-12}{value}");
        Line("Path:", info.Path);
        if (info.TensorName is not null) Line("Tensor:", info.TensorName);
        Line("Format:", info.Format);
        Line("DType:", $"{info.DType} ({info.Descr})");
        Line("Shape:", info.ShapeText);
        Line("Order:", info.Order);
        Line("Elements:", info.ElementCount.ToString(CultureInfo.InvariantCulture));
        Line("Bytes:", info.ByteCount.ToString(CultureInfo.InvariantCulture));
        if (info.FiniteCount is null) return;
        // Min and max are values of the file's type: printed as that type prints (float32 0.1 as 0.1).
        bool wide = info.DType == "float64";
        Line("Min:", Statistic(info.Min, exact: true, wide));
        Line("Max:", Statistic(info.Max, exact: true, wide));
        Line("Mean:", Statistic(info.Mean, exact: false, wide));
        Line("Std:", Statistic(info.Std, exact: false, wide));
        Line("Non-finite:", $"{info.NonFiniteCount} (NaN {info.NaNCount}, +inf {info.PositiveInfinityCount}, -inf {info.NegativeInfinityCount})");
    }

    /// <summary>
    /// An input's inspected tensors: an .npy file's facts one per line (<see cref="WriteInspected"/>); a model file's as a
    /// line for the file (format, tensor count, bytes by dtype) and a table, a row per tensor (with its statistics when
    /// they were read), or each tensor's facts one per line when <paramref name="verbose"/>.
    /// </summary>
    public static void WriteInspectedFile(TextWriter output, IReadOnlyList<TensorInfo> results, bool verbose)
    {
        if (results.Count == 0) return;
        if (verbose || results.Count == 1 && results[0].TensorName is null)
        {
            for (int i = 0; i < results.Count; i++)
            {
                if (i > 0) output.WriteLine();
                WriteInspected(output, results[i]);
            }
            return;
        }
        var first = results[0];
        long bytes = results.Sum(r => r.ByteCount);
        string dtypes = string.Join(", ", results.GroupBy(r => r.DType).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key}"));
        output.WriteLine($"{first.Path}: {first.Format}, {results.Count} tensor{(results.Count == 1 ? "" : "s")} ({dtypes}), {Megabytes(bytes)} of values");
        bool statistics = results.Any(r => r.FiniteCount is not null);
        int nameWidth = Math.Max("tensor".Length, results.Max(r => (r.TensorName ?? "").Length));
        int shapeWidth = Math.Max("shape".Length, results.Max(r => r.ShapeText.Length));
        int dtypeWidth = Math.Max("dtype".Length, results.Max(r => r.DType.Length));
        string Columns(string name, string dtype, string shape, string size, string stats) =>
            $"  {name.PadRight(nameWidth)}  {dtype.PadRight(dtypeWidth)}  {shape.PadRight(shapeWidth)}  {size,12}{stats}".TrimEnd();
        output.WriteLine(Columns("tensor", "dtype", "shape", "bytes",
            statistics ? $"  {"min",15} {"max",15} {"mean",13} {"std",13}  non-finite" : ""));
        foreach (var info in results)
        {
            string stats = "";
            if (statistics && info.FiniteCount is not null)
            {
                bool wide = info.DType == "float64";
                string Cell(double? value, bool exact) => value is null ? "n/a" : Statistic(value, exact, wide);
                stats = $"  {Cell(info.Min, exact: true),15} {Cell(info.Max, exact: true),15} {Cell(info.Mean, exact: false),13} " +
                        $"{Cell(info.Std, exact: false),13}  {info.NonFiniteCount}";
            }
            output.WriteLine(Columns(info.TensorName ?? "", info.DType, info.ShapeText, info.ByteCount.ToString(CultureInfo.InvariantCulture), stats));
        }
    }

    /// <summary>"threshold 4, signed", "threshold [2, 4, 1], unsigned", "threshold 0.5, signed, table [-3, 0, 2]" or "range [-1.5, 2.5]" / "ranges [[-1, 1], ...]".</summary>
    public static string AppliedValues(QuantizerSpec spec)
    {
        if (spec.Method == QuantizationMethod.Uniform)
        {
            var ranges = spec.MinRange!.Zip(spec.MaxRange!, (min, max) => $"[{Number(min)}, {Number(max)}]").ToArray();
            return ranges.Length == 1 ? $"range {ranges[0]}" : $"ranges {ListOf(ranges)}";
        }
        // A table is at most 2^numBits entries; print it whole up to 16 (4 bits), the way it was given.
        string table = !spec.IsLut ? ""
            : spec.LutValues!.Count <= 16 ? $", table [{string.Join(", ", spec.LutValues.Select(Number))}]" : $", table {List(spec.LutValues)}";
        if (spec.IsLut && spec.EffectiveLutValuesBitwidth != QuantizerSpec.DefaultLutValuesBitwidth)
            table += $" ({spec.EffectiveLutValuesBitwidth}-bit LUT)";
        return $"threshold {List(spec.Threshold!)}, {(spec.IsSigned ? "signed" : "unsigned")}{table}";
    }

    private static string Row(string label, ChannelMetrics m)
    {
        bool oneGrid = m.Scale is not null;
        return Row(label,
            m.Count.ToString(CultureInfo.InvariantCulture),
            Metric(m.Mse), Metric(m.Mae), Metric(m.MaxError),
            Decibels(m.SqnrDb).Replace(" (lossless)", "", StringComparison.Ordinal),
            (m.ClippedFraction * 100).ToString("F2", CultureInfo.InvariantCulture) + "%",
            $"{m.DistinctLevels}/{m.LevelsAvailable}",
            oneGrid ? Number((float)m.Scale!.Value) : "per-channel",
            oneGrid ? m.ZeroPoint?.ToString(CultureInfo.InvariantCulture) ?? "-" : "-",
            $"[{m.RangeMin.ToString("G7", CultureInfo.InvariantCulture)}, {m.RangeMax.ToString("G7", CultureInfo.InvariantCulture)}]");
    }

    private static string Row(string label, string count, string mse, string mae, string maxError, string sqnr, string clipped,
                              string levels, string scale, string zero, string range) =>
        $"  {label,-8} {count,10} {mse,11} {mae,11} {maxError,11} {sqnr,10} {clipped,8} {levels,11} {scale,13} {zero,5}  {range}";

    private static string Metric(double value) => value.ToString("G5", CultureInfo.InvariantCulture);

    private static string List(IReadOnlyList<double> values) =>
        values.Count == 1 ? Number(values[0]) : ListOf(values.Select(Number).ToArray());

    private static string ListOf(IReadOnlyList<string> items) =>
        $"[{string.Join(", ", items.Take(4))}{(items.Count > 4 ? $", ... {items.Count} values" : "")}]";

    // Chosen thresholds and ranges are float32 values: print them as float32 prints (0.57178533, not 0.5717853307723999).
    public static string Number(double value) => (double)(float)value == value
        ? ((float)value).ToString("R", CultureInfo.InvariantCulture)
        : value.ToString("R", CultureInfo.InvariantCulture);

    public static string Decibels(double value) => double.IsFinite(value)
        ? value.ToString("F2", CultureInfo.InvariantCulture) + " dB"
        : double.IsPositiveInfinity(value) ? "inf dB (lossless)" : value.ToString(CultureInfo.InvariantCulture);

    private static string Statistic(double? value, bool exact, bool wide)
    {
        if (value is not double v) return "n/a (no finite values)";
        if (!exact) return v.ToString("G7", CultureInfo.InvariantCulture);
        return wide ? v.ToString("R", CultureInfo.InvariantCulture) : ((float)v).ToString("R", CultureInfo.InvariantCulture);
    }
}
