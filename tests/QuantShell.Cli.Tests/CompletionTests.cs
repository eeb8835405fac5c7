namespace QuantShell.Cli.Tests;

/// <summary>
/// Shell completion: dotnet-suggest (the global tool the bash/zsh/PowerShell shims call) runs
/// <c>dotnet-quant "[suggest:N]" "&lt;command line&gt;"</c> and offers the lines it prints. These run that directive
/// in-process, as dotnet-suggest would run the tool.
/// </summary>
public sealed class CompletionTests
{
    private static string[] Suggest(string commandLine)
    {
        var run = CliRunner.Run($"[suggest:{commandLine.Length}]", commandLine);
        Assert.True(run.Code == ExitCode.Success, run.ToString());
        return run.StdoutLines;
    }

    [Theory]
    [InlineData("quantize x.npy --method ", "lut-pot lut-symmetric pot symmetric uniform")]
    [InlineData("quantize x.npy --method lut", "lut-pot lut-symmetric")]
    [InlineData("measure x.npy --error-method ", "kl lp mae mse no-clipping percentile")]
    [InlineData("new --target ", "activation weights")]
    [InlineData("quantize m.safetensors --format ", "compressed-tensors fake int qdq")]
    [InlineData("lower m.onnx --weights ", "fake qdq")]
    [InlineData("lower m.onnx --activations ", "exact qdq")]
    [InlineData("schema ", "calibrate compare dequantize inspect lower measure quantize quantizer rules")]
    [InlineData("calibrate m.onnx --data d --method ", "lut-pot lut-symmetric pot symmetric uniform")]
    public void SuggestsValuesInTheSpellingTheParserTakes(string commandLine, string expected)
    {
        // Where a value goes, the help options are offered too (System.CommandLine's choice); the values are what matters.
        var values = Suggest(commandLine).Where(line => !line.StartsWith('-') && !line.StartsWith('/'));
        Assert.Equal(expected.Split(' '), values.Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void SuggestsCommandsAndCompletesAHalfTypedOption()
    {
        Assert.Equal(["calibrate", "compare", "dequantize", "inspect", "lower", "measure", "new", "quantize", "schema"],
                     Suggest("").Where(line => !line.StartsWith('-') && !line.StartsWith('/')).Order(StringComparer.Ordinal).ToArray());
        // A half-typed option is what completion is for; it is not refused as an unknown option.
        Assert.Equal(["--per-channel", "--percentile"], Suggest("quantize x.npy --per").Order(StringComparer.Ordinal).ToArray());
        Assert.Contains("--channel-axis", Suggest("measure x.npy --ch"));
    }

    [Fact]
    public void EverySuggestedMethodIsAccepted()
    {
        var methods = Suggest("new --method ");
        Assert.Equal(5, methods.Length);
        foreach (string method in methods)
        {
            string[] values = method switch
            {
                "uniform" => ["--min-range", "-1", "--max-range", "1"],
                "lut-pot" or "lut-symmetric" => ["--threshold", "1", "--lut-values", "-8,0,7"],
                _ => ["--threshold", "1"],
            };
            var run = CliRunner.Run(["new", "--method", method, "--num-bits", "4", .. values]);
            Assert.True(run.Code == ExitCode.Success, $"{method}: {run}");
        }
    }
}
