using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.Kernels;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Tests;

/// <summary>The LUT quantizers and the Kl/Percentile selection methods through the command line.</summary>
public sealed class LutCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private string Write(string name, float[] values, params long[] shape)
    {
        string path = _temp.File(name);
        new NpyArray(shape.Length == 0 ? [values.Length] : shape, values).Write(path);
        return path;
    }

    private static JsonElement Json(CliRun run)
    {
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        using var document = JsonDocument.Parse(Assert.Single(run.StdoutLines));
        return document.RootElement.Clone();
    }

    private static double[] Numbers(JsonElement element) => element.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    /// <summary>The output file equals the quantizer the result reports, applied by the core.</summary>
    private static void AssertOutputIs(string input, string output, QuantizerSpec spec)
    {
        var x = (float[])NpyArray.Read(input).Data;
        var expected = new float[x.Length];
        var stats = new KernelStats();
        InferableQuantizer.Create(spec).CreatePlan(NpyArray.Read(input).Shape).Apply<float>(x, expected, 0, ref stats);
        Assert.Equal(expected, (float[])NpyArray.Read(output).Data);
    }

    [Fact]
    public void Quantize_LutPotWithBitsOnly_ChoosesAndPrintsTheTableAndThreshold()
    {
        string input = Write("w.npy", SelectionCommandTests.Gaussian(21, 4096, 0.08), 16, 256);
        var run = CliRunner.Run("quantize", input, "--method", "lut-pot", "--bits", "3");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        string line = Assert.Single(run.StdoutLines);
        Assert.Contains("weights lut-pot 3-bit", line);
        Assert.Matches(@"threshold [0-9.]+, signed, table \[-?\d+(, -?\d+){1,7}\] \(chosen from the data, mse, search mct\)", line);

        var json = Json(CliRunner.Run("quantize", input, "--method", "lut-pot", "--bits", "3", "--json", "--force"));
        var table = Numbers(json.GetProperty("lutValues"));
        double threshold = Assert.Single(Numbers(json.GetProperty("threshold")));
        Assert.InRange(table.Length, 2, 8);
        Assert.Contains(0.0, table);
        Assert.True(double.IsPow2(threshold));
        Assert.Contains($"table [{string.Join(", ", table)}]", line);
        Assert.Equal(threshold / 128, json.GetProperty("scale")[0].GetDouble());
        AssertOutputIs(input, _temp.File("w.q.npy"), new QuantizerSpec
        {
            Target = QuantizationTarget.Weights, Method = QuantizationMethod.LutPot, NumBits = 3, Threshold = [threshold], LutValues = table,
        });
    }

    [Fact]
    public void Quantize_GivenLut_MatchesTheCoreBitForBit()
    {
        string input = Write("x.npy", SelectionCommandTests.Gaussian(22, 600, 1.5), 20, 30);
        string output = _temp.File("y.npy");
        var run = CliRunner.Run("quantize", input, "--method", "lut-symmetric", "--num-bits", "2", "--lut-values", "-20,3,-7,3,25",
            "--threshold", "1.5,2.25", "--per-channel", "--channel-axis", "0", "--lut-values-bitwidth", "6", "--eps", "0.001", "--output-path", output);
        Assert.False(run.Code == ExitCode.Success, "20 channels but 2 thresholds must fail");
        Assert.EndsWith("[ChannelCountMismatch]", Assert.Single(run.StderrLines));

        var thresholds = Enumerable.Range(0, 30).Select(c => 0.5 + c * 0.1).ToArray();
        run = CliRunner.Run("quantize", input, "--method", "lut-symmetric", "--num-bits", "2", "--lut-values", "-20,3,-7,3,25",
            "--threshold", string.Join(",", thresholds.Select(t => t.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            "--per-channel", "--lut-values-bitwidth", "6", "--eps", "0.001", "--output-path", output);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Contains("table [-20, 3, -7, 3, 25] (6-bit LUT)", Assert.Single(run.StdoutLines));
        AssertOutputIs(input, output, new QuantizerSpec
        {
            Target = QuantizationTarget.Weights, Method = QuantizationMethod.LutSymmetric, NumBits = 2, LutValues = [-20, 3, -7, 3, 25],
            Threshold = thresholds, PerChannel = true, LutValuesBitwidth = 6, Eps = 0.001,
        });
    }

    [Fact]
    public void New_Lut_WritesTheQuantizerFile_WithTheLutFields()
    {
        var run = CliRunner.Run("new", "--target", "activation", "--method", "lut-pot", "--bits", "2", "--lut-values", "3,0,-2,3",
            "--threshold", "0.5", "--lut-values-bitwidth", "4", "--eps", "0.0001", "--unsigned");
        Assert.EndsWith("[LutValuesInvalid]", Assert.Single(run.StderrLines)); // -2 in an unsigned table

        run = CliRunner.Run("new", "--target", "activation", "--method", "lut-pot", "--bits", "2", "--lut-values", "3,0,-2,3",
            "--threshold", "0.5", "--lut-values-bitwidth", "4", "--eps", "0.0001");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        var spec = QuantizerFile.Parse(run.Stdout);
        Assert.Equal(QuantizationMethod.LutPot, spec.Method);
        Assert.Equal(new double[] { 3, 0, -2, 3 }, spec.LutValues);
        Assert.Equal(4, spec.LutValuesBitwidth);
        Assert.Equal(0.0001, spec.Eps);
        Assert.True(spec.IsSigned);
        Assert.IsType<ActivationLutPOTInferableQuantizer>(InferableQuantizer.Create(spec));
    }

    [Fact]
    public void Measure_Lut_CountsTableEntriesAsLevels_AndPlotsThem()
    {
        // Values at 0.25 and 0.5 land on table entries 32 and 64 of 4 (t = 1, k = 128): 2 of 4 levels used.
        string input = Write("m.npy", [0.25f, 0.5f, 0.25f, 0.5f, 0.26f]);
        string plot = _temp.File("m.png");
        var json = Json(CliRunner.Run("measure", input, "--method", "lut-pot", "--bits", "2", "--lut-values", "-64,0,32,64", "--threshold", "1",
            "--json", "--plot-path", plot));
        Assert.Equal(2, json.GetProperty("distinctLevels").GetInt32());
        Assert.Equal(4, json.GetProperty("levelsAvailable").GetInt32());
        Assert.Equal(-0.5, json.GetProperty("rangeMin").GetDouble());
        Assert.Equal(0.5, json.GetProperty("rangeMax").GetDouble());
        Assert.Equal(new double[] { -64, 0, 32, 64 }, Numbers(json.GetProperty("lutValues")));
        Assert.True(new FileInfo(plot).Length > 100);
    }

    [Fact]
    public void Quantize_KlAndPercentile_AreReportedInTheSelection()
    {
        string input = Write("k.npy", SelectionCommandTests.Gaussian(23, 3000, 1.0, 9f, -8f));
        var kl = Json(CliRunner.Run("quantize", input, "--method", "symmetric", "--error-method", "kl", "--json"));
        Assert.Equal("kl", kl.GetProperty("selection").GetProperty("errorMethod").GetString());
        Assert.True(Assert.Single(Numbers(kl.GetProperty("threshold"))) < 9);

        var percentile = Json(CliRunner.Run("quantize", input, "--method", "symmetric", "--error-method", "percentile", "--percentile", "100", "--json", "--force"));
        Assert.Equal(100, percentile.GetProperty("selection").GetProperty("percentile").GetDouble());
        Assert.Equal(9.0, Assert.Single(Numbers(percentile.GetProperty("threshold"))));

        var defaultPercentile = Json(CliRunner.Run("quantize", input, "--method", "lut-symmetric", "--bits", "4", "--error-method", "percentile", "--json", "--force"));
        Assert.Equal(99.99, defaultPercentile.GetProperty("selection").GetProperty("percentile").GetDouble());
    }

    public static TheoryData<string[], string> LutUsageErrors => new()
    {
        { ["--method", "pot", "--lut-values", "1,2"], "[ParameterNotApplicable]" },
        { ["--method", "uniform", "--eps", "0.1"], "[ParameterNotApplicable]" },
        { ["--method", "lut-pot", "--bits", "2", "--lut-values", "1,2,3,4,5"], "[LutValuesInvalid]" },
        { ["--method", "lut-pot", "--bits", "2", "--lut-values", "1.5"], "[LutValuesInvalid]" },
        { ["--method", "lut-pot", "--bits", "2", "--lut-values", "200"], "[LutValuesInvalid]" },
        { ["--method", "lut-pot", "--bits", "5", "--lut-values-bitwidth", "4"], "[LutValuesBitwidthInvalid]" },
        { ["--method", "lut-pot", "--bits", "2", "--eps", "-1"], "[EpsInvalid]" },
        { ["--method", "lut-pot", "--bits", "2", "--threshold", "3"], "[ThresholdNotPowerOfTwo]" },
        { ["--target", "activation", "--method", "lut-symmetric"], "[MethodInvalid]" },
        { ["--method", "lut-pot", "--unsigned"], "[ParameterNotApplicable]" },
        { ["--method", "pot", "--error-method", "percentile", "--percentile", "0"], "[PercentileInvalid]" },
        { ["--method", "pot", "--error-method", "percentile", "--percentile", "101"], "[PercentileInvalid]" },
        { ["--method", "pot", "--percentile", "99"], "[ParameterNotApplicable]" },
    };

    [Theory]
    [MemberData(nameof(LutUsageErrors))]
    public void Quantize_BadLutOrSelectionOptions_ExitTwoWithOneLine(string[] options, string errorId)
    {
        string input = Write("x.npy", [0.5f, -2.7f, 1f]);
        var run = CliRunner.Run(["quantize", input, .. options]);
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        string line = Assert.Single(run.StderrLines);
        Assert.StartsWith("dotnet-quant: error: ", line);
        Assert.EndsWith(errorId, line);
        Assert.False(File.Exists(_temp.File("x.q.npy")));
    }

    [Fact]
    public void Quantize_PercentileWithMse_NamesTheOptionsAndTheMethods()
    {
        string input = Write("x.npy", [0.5f]);
        var run = CliRunner.Run("quantize", input, "--method", "pot", "--percentile", "99");
        Assert.Equal("dotnet-quant: error: --percentile is the share --error-method percentile covers; it does not apply to --error-method mse. [ParameterNotApplicable]",
            Assert.Single(run.StderrLines));
    }
}
