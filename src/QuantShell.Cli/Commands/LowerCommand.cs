using System.CommandLine;
using QuantShell.Core.Formats.Onnx.Mct;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Lower;
using QuantShell.Core.Quantization;
using QuantShell.Core.Serialization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant lower</c>: options into a <see cref="LowerRequest"/>, results into lines or JSON.</summary>
internal static class LowerCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "ONNX models exported by MCT (custom mct_quantizers ops) to lower to standard ONNX.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static readonly Option<string?> OutputPath = new("--output-path", "--output", "-o")
    {
        Description = "The output file, for a single input. Default: model.lowered.onnx beside model.onnx. External data goes to OUTPUT.data.",
        HelpName = "FILE",
    };

    public static readonly Option<WeightsForm?> Weights = new("--weights")
    {
        Description = "What weight quantizers become. One of fake (the weights hold their quantized values) or qdq (int8/uint8 codes with " +
                      "scale and zero point into DequantizeLinear, per axis when per channel; LUT weights a Gather over the table). " +
                      $"Default: {EnumNames.Kebab(LowerRequest.DefaultWeights)}.",
        HelpName = QuantizerOptionSet.Choices<WeightsForm>(),
        CustomParser = QuantizerOptionSet.ParseEnum<WeightsForm>,
    };

    public static readonly Option<ActivationsForm?> Activations = new("--activations")
    {
        Description = "What activation quantizers become. One of exact (Mul, Round, Add, Clip, Sub, Mul: PyTorch's fake-quantize bit for bit) or qdq " +
                      "(QuantizeLinear + DequantizeLinear, accelerated by runtimes; may land one step off near ties). " +
                      $"Default: {EnumNames.Kebab(LowerRequest.DefaultActivations)}.",
        HelpName = QuantizerOptionSet.Choices<ActivationsForm>(),
        CustomParser = QuantizerOptionSet.ParseEnum<ActivationsForm>,
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace existing output files (never an input).",
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per model (JSON Lines) instead of a line of text.",
    };

    public static Command Create()
    {
        var command = new Command("lower",
            "Lower MCT's exported ONNX models to standard ONNX: every mct_quantizers node becomes standard ops (weights quantized " +
            "bit for bit as MCT), so any ONNX runtime runs the model.")
        {
            Inputs, OutputPath, Weights, Activations, Force, QuantizeCommand.Fsync, Json,
        };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        var request = new LowerRequest
        {
            OutputPath = parseResult.GetValue(OutputPath),
            Weights = parseResult.GetValue(Weights),
            Activations = parseResult.GetValue(Activations),
            Force = parseResult.GetValue(Force),
            Fsync = parseResult.GetValue(QuantizeCommand.Fsync),
        };
        var host = new ConsoleHost<LowerResult>(cli.Output, cli.Error, parseResult.GetValue(Json), () => QuantShellJson.Compact.LowerResult, TextFormat.WriteLowered);
        // Models are files: '-' is a file name here, not stdin.
        var job = LowerJob.Run(request, parseResult.GetValue(Inputs)!.Select(JobInput.File), host, cancellationToken);
        return host.ExitCode(job);
    }
}
