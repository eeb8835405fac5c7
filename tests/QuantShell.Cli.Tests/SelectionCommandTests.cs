using System.Text.Json;
using QuantShell.Core.Formats;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.Cli.Tests;

/// <summary><c>quantize</c> without a threshold or range: values chosen from the data, --calibrate, --save-quantizer.</summary>
public sealed class SelectionCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>n gaussian values (seeded) times <paramref name="sigma"/>, then the outliers.</summary>
    internal static float[] Gaussian(int seed, int n, double sigma, params float[] outliers)
    {
        var random = new Random(seed);
        var values = new List<float>(n + outliers.Length);
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values.Add((float)(sigma * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2)));
        }
        values.AddRange(outliers);
        return values.ToArray();
    }

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

    /// <summary>The MSE of a quantizer on an array, through the core.</summary>
    private static double CoreMse(NpyArray array, QuantizerSpec spec) =>
        QuantizationMetrics.Measure(array, InferableQuantizer.Create(spec), "x.npy").Mse;

    [Fact]
    public void Quantize_PotOptimal_ChoosesTheMseOptimalPowerOfTwo()
    {
        string input = Write("x.npy", Gaussian(1, 1000, 0.7, 9.5f, -6f, 7.25f));
        var root = Json(CliRunner.Run("quantize", input, "--method", "pot", "--search", "optimal", "--json"));
        Assert.True(File.Exists(_temp.File("x.q.npy")));
        Assert.Equal("weights", root.GetProperty("target").GetString());
        Assert.Equal(8, root.GetProperty("numBits").GetInt32());
        Assert.True(root.GetProperty("signed").GetBoolean());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("minRange").ValueKind);
        double chosen = Assert.Single(Numbers(root.GetProperty("threshold")));
        Assert.Equal(chosen, Assert.Single(Numbers(root.GetProperty("quantizer").GetProperty("threshold"))));
        Assert.Equal("mse", root.GetProperty("selection").GetProperty("errorMethod").GetString());
        Assert.Equal("optimal", root.GetProperty("selection").GetProperty("search").GetString());

        var (bestThreshold, best) = BestPowerOfTwo(NpyArray.Read(input), 8);
        Assert.Equal(bestThreshold, chosen);
        // The reported MSE comes from the kernel's short float32 partial sums: equal to 1e-6 relative.
        Assert.Equal(best, root.GetProperty("mse").GetDouble(), best * 1e-6);
    }

    [Fact]
    public void Quantize_Pot4BitsOptimal_ClipsOutliersAsTheBruteForceOptimumDoes()
    {
        string input = Write("x.npy", Gaussian(1, 1000, 0.7, 9.5f, -6f, 7.25f));
        var root = Json(CliRunner.Run("quantize", input, "--method", "pot", "--bits", "4", "--search", "optimal", "--json"));
        double chosen = Assert.Single(Numbers(root.GetProperty("threshold")));
        Assert.Equal(BestPowerOfTwo(NpyArray.Read(input), 4).Threshold, chosen);
        // max |x| = 9.5: the optimum clips the outliers, below the no-clipping threshold 16.
        Assert.True(chosen < 16, $"chose {chosen}");
    }

    /// <summary>Brute force over 2^-30 .. 2^30 through the core; ties go to the larger threshold.</summary>
    private static (double Threshold, double Mse) BestPowerOfTwo(NpyArray array, int bits)
    {
        double best = double.PositiveInfinity, bestThreshold = 0;
        for (int k = -30; k <= 30; k++)
        {
            double t = Math.ScaleB(1.0, k);
            double error = CoreMse(array, new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Pot, NumBits = bits, Threshold = [t] });
            if (error <= best) { best = error; bestThreshold = t; }
        }
        return (bestThreshold, best);
    }

    [Theory]
    [InlineData(new[] { 0.5f, -2.7f, 1f }, 4.0)]
    [InlineData(new[] { 0.5f, 2f, -1f }, 2.0)]
    [InlineData(new[] { 0.001f, -0.003f }, 0.00390625)]
    public void Quantize_PotNoClippingOptimal_ChoosesSmallestPowerOfTwoAtLeastMaxAbs(float[] values, double expected)
    {
        string input = Write("x.npy", values);
        var root = Json(CliRunner.Run("quantize", input, "--method", "pot", "--error-method", "noClipping", "--search", "optimal", "--json"));
        Assert.Equal(expected, Assert.Single(Numbers(root.GetProperty("threshold"))));
        Assert.Equal("noClipping", root.GetProperty("selection").GetProperty("errorMethod").GetString());
    }

    [Fact]
    public void Quantize_SymmetricOptimal_IsWithinOnePercentOfBruteForce()
    {
        string input = Write("x.npy", Gaussian(2, 1000, 1.0, 11f, -9f, 14f));
        var root = Json(CliRunner.Run("quantize", input, "--method", "symmetric", "--bits", "4", "--search", "optimal", "--json"));
        double cliMse = root.GetProperty("mse").GetDouble();

        var array = NpyArray.Read(input);
        double best = double.PositiveInfinity;
        for (int i = 1; i <= 2000; i++)
        {
            double t = 14.5 * i / 2000;
            best = Math.Min(best, CoreMse(array, new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Symmetric, NumBits = 4, Threshold = [t] }));
        }
        Assert.True(cliMse <= best * 1.01, $"CLI MSE {cliMse} vs brute force {best} (threshold {root.GetProperty("threshold")[0]})");
    }

    [Fact]
    public void Quantize_UniformOptimal_IsWithinOnePercentOfBruteForce()
    {
        string input = Write("x.npy", Gaussian(3, 1000, 1.0, 8f, -12f, 10f).Select(v => v + 0.5f).ToArray());
        var root = Json(CliRunner.Run("quantize", input, "--method", "uniform", "--bits", "4", "--search", "optimal", "--json"));
        double cliMse = root.GetProperty("mse").GetDouble();
        Assert.Equal(JsonValueKind.Null, root.GetProperty("threshold").ValueKind);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("signed").ValueKind);
        double min = Assert.Single(Numbers(root.GetProperty("minRange"))), max = Assert.Single(Numbers(root.GetProperty("maxRange")));
        Assert.True(min < 0 && max > 0);

        var array = NpyArray.Read(input);
        double best = double.PositiveInfinity;
        const int steps = 120;
        for (int i = 1; i <= steps; i++)
            for (int j = 1; j <= steps; j++)
            {
                double low = -11.6 * i / steps, high = 10.6 * j / steps;
                best = Math.Min(best, CoreMse(array, new QuantizerSpec { Target = QuantizationTarget.Weights, Method = QuantizationMethod.Uniform, NumBits = 4, MinRange = [low], MaxRange = [high] }));
            }
        Assert.True(cliMse <= best * 1.01, $"CLI MSE {cliMse} vs brute force {best} (range [{min}, {max}])");
    }

    [Fact]
    public void Quantize_Calibrate_AppliesOneQuantizerEqualToTheOneOfTheConcatenatedData()
    {
        float[] a = Gaussian(4, 600, 0.5, 3f), b = Gaussian(5, 400, 1.5, -5f);
        string first = Write("a.npy", a), second = Write("b.npy", b), both = Write("ab.npy", [.. a, .. b]);
        var run = CliRunner.Run("quantize", first, second, "--method", "symmetric", "--calibrate", "--output-dir", _temp.File("out"), "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Equal(2, run.StdoutLines.Length);
        var results = run.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement).ToArray();
        Assert.Equal(Numbers(results[0].GetProperty("scale")), Numbers(results[1].GetProperty("scale")));
        Assert.Equal(Numbers(results[0].GetProperty("threshold")), Numbers(results[1].GetProperty("threshold")));
        Assert.True(results[0].GetProperty("selection").GetProperty("calibrated").GetBoolean());

        var concatenated = Json(CliRunner.Run("quantize", both, "--method", "symmetric", "--json"));
        Assert.Equal(Numbers(concatenated.GetProperty("threshold")), Numbers(results[0].GetProperty("threshold")));

        // Without --calibrate each input gets its own threshold.
        var separate = CliRunner.Run("quantize", first, second, "--method", "symmetric", "--output-dir", _temp.File("sep"), "--json");
        Assert.True(separate.Code == ExitCode.Success, separate.ToString());
        var thresholds = separate.StdoutLines.Select(line => JsonDocument.Parse(line).RootElement.GetProperty("threshold")[0].GetDouble()).ToArray();
        Assert.NotEqual(thresholds[0], thresholds[1]);
    }

    [Theory]
    [InlineData("pot")]
    [InlineData("symmetric")]
    [InlineData("uniform")]
    public void Quantize_SaveQuantizerThenQuantizer_ReproducesTheSameBytes(string method)
    {
        string input = Write("x.npy", Gaussian(6, 499, 0.3, 2f), 50, 10);
        string quantizer = _temp.File("q.json"), first = _temp.File("first.npy"), second = _temp.File("second.npy");
        var run = CliRunner.Run("quantize", input, "--method", method, "--per-channel", "--save-quantizer", quantizer, "-o", first);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        // Per channel without an axis: chosen along axis 0 (50 channels), and the file says which axis.
        var saved = QuantizerFile.Read(quantizer);
        Assert.Equal(50, saved.ValueCount);
        Assert.Equal(0, saved.ChannelAxis);

        var again = CliRunner.Run("quantize", input, "--quantizer", quantizer, "-o", second);
        Assert.True(again.Code == ExitCode.Success, again.ToString());
        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));

        // An existing quantizer file is kept without --force and replaced with it.
        var refused = CliRunner.Run("quantize", input, "--method", method, "--save-quantizer", quantizer, "-o", _temp.File("third.npy"));
        Assert.Equal(ExitCode.IOError, refused.Code);
        Assert.False(File.Exists(_temp.File("third.npy")));
        var forced = CliRunner.Run("quantize", input, "--method", method, "--save-quantizer", quantizer, "-o", _temp.File("third.npy"), "--force");
        Assert.True(forced.Code == ExitCode.Success, forced.ToString());
        Assert.Equal(1, QuantizerFile.Read(quantizer).ValueCount);
    }

    [Fact]
    public void Quantize_SaveQuantizerWithCalibrate_WritesTheSharedQuantizer()
    {
        string first = Write("a.npy", Gaussian(7, 100, 1.0)), second = Write("b.npy", Gaussian(8, 100, 2.0));
        string quantizer = _temp.File("q.json");
        var run = CliRunner.Run("quantize", first, second, "--method", "pot", "--calibrate", "--save-quantizer", quantizer, "--json");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        double threshold = JsonDocument.Parse(run.StdoutLines[0]).RootElement.GetProperty("threshold")[0].GetDouble();
        Assert.Equal(threshold, Assert.Single(QuantizerFile.Read(quantizer).Threshold!));
    }

    [Theory]
    [InlineData(new[] { 0.5f, 1.5f, 0f, 3f }, false)]
    [InlineData(new[] { 0.5f, -1.5f, 0f, 3f }, true)]
    public void Quantize_ActivationSignedness_FollowsTheData(float[] values, bool signed)
    {
        string input = Write("x.npy", values);
        var activation = Json(CliRunner.Run("quantize", input, "--target", "activation", "--method", "pot", "--json"));
        Assert.Equal(signed, activation.GetProperty("signed").GetBoolean());
        Assert.Equal(signed ? -128 : 0, activation.GetProperty("quantMin").GetInt32());
        Assert.Equal(signed, activation.GetProperty("quantizer").GetProperty("signed").GetBoolean());

        // Weights stay signed; an explicit --unsigned wins for activations.
        var weights = Json(CliRunner.Run("quantize", input, "--method", "pot", "--json", "--force"));
        Assert.True(weights.GetProperty("signed").GetBoolean());
        var unsigned = Json(CliRunner.Run("quantize", input, "--target", "activation", "--method", "symmetric", "--unsigned", "--json", "--force"));
        Assert.False(unsigned.GetProperty("signed").GetBoolean());
    }

    [Fact]
    public void Quantize_SignedOnNonNegativeActivations_ForcesTheSignedRange()
    {
        // Non-negative activations are unsigned when the data decides; --signed overrides that, and the grid shows it.
        string input = Write("relu.npy", [0.5f, 1.5f, 0f, 3f]);
        var chosen = Json(CliRunner.Run("quantize", input, "--target", "activation", "--method", "symmetric", "--json"));
        Assert.False(chosen.GetProperty("signed").GetBoolean());
        var forced = Json(CliRunner.Run("quantize", input, "--target", "activation", "--method", "symmetric", "--signed", "--json", "--force"));
        Assert.True(forced.GetProperty("signed").GetBoolean());
        Assert.Equal(-128, forced.GetProperty("quantMin").GetInt32());
        Assert.Equal(127, forced.GetProperty("quantMax").GetInt32());
        Assert.True(forced.GetProperty("quantizer").GetProperty("signed").GetBoolean());
        // Signed halves the resolution for the same threshold: scale t / 128 instead of t / 256.
        double threshold = forced.GetProperty("threshold")[0].GetDouble();
        Assert.Equal((float)(threshold / 128), forced.GetProperty("scale")[0].GetSingle());
    }

    [Theory]
    [InlineData("--signed", "false", false)]
    [InlineData("--signed", "true", true)]
    [InlineData("--unsigned", "false", true)]
    [InlineData("--unsigned", "true", false)]
    public void Quantize_SignednessWrittenAsAValue_IsTheSameAsPowerShells(string option, string value, bool signed)
    {
        // '--signed false' is -Signed:$false (unsigned), not the default: on data with negative values the default is signed,
        // on non-negative data unsigned, so each case differs from the default on one of the two inputs.
        foreach (var (name, data) in new[] { ("neg.npy", new[] { 0.5f, -1.5f, 0f, 3f }), ("relu.npy", new[] { 0.5f, 1.5f, 0f, 3f }) })
        {
            var run = Json(CliRunner.Run("quantize", Write(name, data), "--target", "activation", "--method", "symmetric", option, value, "--json", "--force"));
            Assert.Equal(signed, run.GetProperty("signed").GetBoolean());
        }
        var both = CliRunner.Run("quantize", Write("x.npy", [1f]), "--target", "activation", "--method", "symmetric", "--signed", "false", "--unsigned", "--force");
        Assert.Equal(ExitCode.InvalidArguments, both.Code);
        Assert.Contains("[OptionConflict]", both.Stderr);
    }

    [Fact]
    public void Quantize_TextLine_ReportsTheChosenThreshold()
    {
        string input = Write("x.npy", [0.5f, -2.7f, 1f]);
        var run = CliRunner.Run("quantize", input, "--method", "pot", "--error-method", "noClipping");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        Assert.Contains("weights pot 8-bit, threshold 4, signed (chosen from the data, noClipping, search mct)", Assert.Single(run.StdoutLines));
    }

    [Fact]
    public void Quantize_StdinWithChosenThreshold_Works()
    {
        string input = Write("x.npy", [0.5f, -2.7f, 1f]);
        var run = CliRunner.RunWith(File.ReadAllBytes(input), default, "quantize", "-", "--method", "pot", "--error-method", "noClipping", "-o", "-");
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        string written = _temp.File("out.npy");
        File.WriteAllBytes(written, run.StdoutBytes);
        Assert.Equal(new[] { 0.5f, -2.6875f, 1f }, (float[])NpyArray.Read(written).Data);
    }

    [Fact]
    public void Quantize_LpWithP_IsAccepted()
    {
        string input = Write("x.npy", Gaussian(9, 300, 1.0, 6f));
        var root = Json(CliRunner.Run("quantize", input, "--method", "symmetric", "--error-method", "lp", "--p", "3", "--json"));
        Assert.Equal(3, root.GetProperty("selection").GetProperty("p").GetDouble());
    }

    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["--method", "pot", "--p", "3"], "[ParameterNotApplicable]" },
        { ["--method", "pot", "--error-method", "mse", "--p", "3"], "[ParameterNotApplicable]" },
        { ["--method", "pot", "--error-method", "lp", "--p", "0"], "[ErrorExponentInvalid]" },
        { ["--method", "pot", "--threshold", "2", "--error-method", "mae"], "[SelectionOptionNotApplicable]" },
        { ["--method", "uniform", "--min", "-1", "--max", "1", "--calibrate"], "[SelectionOptionNotApplicable]" },
        { ["--method", "uniform", "--min", "-1"], "[RangeMissing]" },
        { ["--method", "pot", "--bits", "0"], "[NumBitsOutOfRange]" },
        { ["--target", "activation", "--method", "pot", "--per-channel"], "[PerChannelActivationNotSupported]" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public void Quantize_BadSelectionOptions_ExitTwoWithOneLine(string[] options, string errorId)
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
    public void Quantize_PWithMse_NamesTheProblem()
    {
        string input = Write("x.npy", [0.5f]);
        var run = CliRunner.Run("quantize", input, "--method", "pot", "--p", "3");
        Assert.Equal("dotnet-quant: error: --p is the exponent of --error-method lp; it does not apply to --error-method mse. [ParameterNotApplicable]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Quantize_BadErrorMethodValue_IsParseError()
    {
        string input = Write("x.npy", [0.5f]);
        var run = CliRunner.Run("quantize", input, "--method", "pot", "--error-method", "l2");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        // The error is one line; parse errors are followed by the usual "--help" hint, as for every option.
        Assert.Equal("dotnet-quant: error: --error-method must be one of no-clipping, mse, mae, lp, kl, percentile but is 'l2'. [OptionValueInvalid]", run.StderrLines[0]);
        Assert.Equal("Run 'dotnet-quant quantize --help' for usage.", run.StderrLines[1]);
    }

    [Fact]
    public void Quantize_SaveQuantizerWithTwoInputsWithoutCalibrate_IsInvalidArguments()
    {
        string first = Write("a.npy", [0.5f, 1f]), second = Write("b.npy", [2f, -1f]);
        var run = CliRunner.Run("quantize", first, second, "--method", "pot", "--save-quantizer", _temp.File("q.json"));
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        string line = Assert.Single(run.StderrLines);
        Assert.Contains("--export-quantizer", line); // --save-quantizer is its alias
        Assert.Contains("--calibrate", line);
        Assert.EndsWith("[ExportQuantizerNeedsOneQuantizer]", line);
        Assert.False(File.Exists(_temp.File("q.json")));
        Assert.False(File.Exists(_temp.File("a.q.npy")));

        // A complete quantizer is one quantizer for both.
        var complete = CliRunner.Run("quantize", first, second, "--method", "pot", "--threshold", "2", "--save-quantizer", _temp.File("q.json"));
        Assert.True(complete.Code == ExitCode.Success, complete.ToString());
        Assert.Equal(2.0, Assert.Single(QuantizerFile.Read(_temp.File("q.json")).Threshold!));
    }

    [Fact]
    public void Quantize_SelectionOptionsWithQuantizerFile_IsInvalidArguments()
    {
        string input = Write("x.npy", [0.5f]);
        string quantizer = _temp.File("q.json");
        File.WriteAllText(quantizer, """{"target": "weights", "method": "pot", "numBits": 8, "threshold": [1]}""");
        var run = CliRunner.Run("quantize", input, "--quantizer", quantizer, "--calibrate");
        Assert.Equal(ExitCode.InvalidArguments, run.Code);
        Assert.EndsWith("[SelectionOptionNotApplicable]", Assert.Single(run.StderrLines));
    }

    [Fact]
    public void Quantize_SeveralInputsOneMissing_ChoosesForTheOthersAndExitsOne()
    {
        string good = Write("a.npy", [0.5f, 1f]);
        var run = CliRunner.Run("quantize", good, _temp.File("missing.npy"), "--method", "pot");
        Assert.Equal(ExitCode.Failure, run.Code);
        Assert.EndsWith("[InputFileNotFound]", Assert.Single(run.StderrLines));
        Assert.True(File.Exists(_temp.File("a.q.npy")));
    }
}
