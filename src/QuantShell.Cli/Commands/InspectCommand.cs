using System.CommandLine;
using System.Globalization;
using QuantShell.Core.IO;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant inspect</c>: header facts and value statistics of an .npy file.</summary>
internal sealed class InspectCommand
{
    public static readonly Argument<string> File = new("file")
    {
        Description = "The .npy file to inspect; '-' reads it from stdin.",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print a JSON object instead of text.",
    };

    public static readonly Command Command = CreateCommand();

    private readonly CliInvocation _invocation;

    private InspectCommand(CliInvocation invocation) => _invocation = invocation;

    private static Command CreateCommand()
    {
        var command = new Command("inspect", "Show an .npy file's format version, dtype, shape, order and value statistics (min, max, mean, std, NaN/inf counts).")
        {
            File, Json,
        };
        command.SetAction((parseResult, cancellationToken) =>
            Task.FromResult((int)new InspectCommand(CliInvocation.From(parseResult)).Execute(parseResult, cancellationToken)));
        return command;
    }

    private ExitCode Execute(ParseResult parseResult, CancellationToken cancellationToken)
    {
        string path = parseResult.GetValue(File)!;
        var report = path == QuantizeCommand.StandardStream ? ReadStandardInput() : ReadFile(path);
        cancellationToken.ThrowIfCancellationRequested();
        var stdout = _invocation.Output;
        if (parseResult.GetValue(Json)) stdout.WriteLine(report.ToJson());
        else report.WriteText(stdout);
        return ExitCode.Success;
    }

    private static NpyReport ReadFile(string path)
    {
        NpyHeader header;
        using (var stream = QuantizeCommand.OpenInput(path))
            header = NpyHeader.Read(stream, path);
        return NpyReport.Create(Path.GetFullPath(path), header, NpyArray.Read(path));
    }

    private NpyReport ReadStandardInput()
    {
        // The header and the values are read in two passes, so stdin is held in memory (the array is anyway).
        using var buffer = new MemoryStream();
        _invocation.OpenStandardInput().CopyTo(buffer);
        buffer.Position = 0;
        var header = NpyHeader.Read(buffer, QuantizeCommand.StandardInputName);
        buffer.Position = 0;
        return NpyReport.Create(QuantizeCommand.StandardStream, header, NpyArray.Read(buffer, QuantizeCommand.StandardInputName));
    }
}

/// <summary>What <c>inspect</c> reports. Statistics are over finite values only, in float64; std is the population one (NumPy's default).</summary>
internal sealed record NpyReport(string Path, NpyHeader Header, long FiniteCount, double? Min, double? Max, double? Mean, double? Std,
                                 long NaNCount, long PositiveInfinityCount, long NegativeInfinityCount)
{
    public long NonFiniteCount => NaNCount + PositiveInfinityCount + NegativeInfinityCount;

    public string Version => $"{Header.MajorVersion}.0";

    public string Order => Header.FortranOrder ? "Fortran" : "C";

    public static NpyReport Create(string path, NpyHeader header, NpyArray array)
    {
        double[] values = array.Data switch
        {
            Half[] h => Array.ConvertAll(h, v => (double)v),
            float[] f => Array.ConvertAll(f, v => (double)v),
            double[] d => d,
            _ => throw new InvalidOperationException($"Unexpected array type {array.Data.GetType()}."),
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
        if (finite == 0) return new NpyReport(path, header, 0, null, null, null, null, nan, positiveInfinity, negativeInfinity);
        double mean = sum / finite;
        // Two passes: the mean first, then squared deviations, which keeps the variance accurate.
        double squares = 0;
        foreach (double v in values)
            if (double.IsFinite(v)) squares += (v - mean) * (v - mean);
        return new NpyReport(path, header, finite, min, max, mean, Math.Sqrt(squares / finite), nan, positiveInfinity, negativeInfinity);
    }

    public void WriteText(TextWriter output)
    {
        void Line(string label, string value) => output.WriteLine($"{label,-12}{value}");
        Line("Path:", Path);
        Line("Format:", $"NPY {Version}");
        Line("DType:", $"{Header.DType.Name} ({Header.DType.Descr})");
        Line("Shape:", Header.ShapeText);
        Line("Order:", Order);
        Line("Elements:", Header.ElementCount.ToString(CultureInfo.InvariantCulture));
        Line("Min:", Format(Min, exact: true));
        Line("Max:", Format(Max, exact: true));
        Line("Mean:", Format(Mean, exact: false));
        Line("Std:", Format(Std, exact: false));
        Line("Non-finite:", $"{NonFiniteCount} (NaN {NaNCount}, +inf {PositiveInfinityCount}, -inf {NegativeInfinityCount})");
    }

    public string ToJson() => Commands.ResultJson.Write(writer =>
    {
        writer.WriteStartObject();
        writer.WriteString("path", Path);
        writer.WriteString("formatVersion", Version);
        writer.WriteString("dtype", Header.DType.Name);
        writer.WriteString("descr", Header.DType.Descr);
        writer.WriteStartArray("shape");
        foreach (long dimension in Header.Shape) writer.WriteNumberValue(dimension);
        writer.WriteEndArray();
        writer.WriteString("order", Order);
        writer.WriteBoolean("fortranOrder", Header.FortranOrder);
        writer.WriteNumber("elementCount", Header.ElementCount);
        WriteOptional(writer, "min", Min);
        WriteOptional(writer, "max", Max);
        WriteOptional(writer, "mean", Mean);
        WriteOptional(writer, "std", Std);
        writer.WriteNumber("finiteCount", FiniteCount);
        writer.WriteNumber("nonFiniteCount", NonFiniteCount);
        writer.WriteNumber("nanCount", NaNCount);
        writer.WriteNumber("positiveInfinityCount", PositiveInfinityCount);
        writer.WriteNumber("negativeInfinityCount", NegativeInfinityCount);
        writer.WriteEndObject();
    });

    private static void WriteOptional(System.Text.Json.Utf8JsonWriter writer, string name, double? value)
    {
        if (value is double v) Commands.ResultJson.WriteNumber(writer, name, v);
        else writer.WriteNull(name);
    }

    // Min and max are values of the file's type: print them as that type prints (float32 0.1 as 0.1, not 0.10000000149).
    private string Format(double? value, bool exact)
    {
        if (value is not double v) return "n/a (no finite values)";
        if (!exact) return v.ToString("G7", CultureInfo.InvariantCulture);
        return Header.DType.Kind == NpyKind.Float && Header.DType.ItemSize == 8
            ? v.ToString("R", CultureInfo.InvariantCulture)
            : ((float)v).ToString("R", CultureInfo.InvariantCulture);
    }
}
