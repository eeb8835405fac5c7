using System.CommandLine;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.Core.Serialization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant dequantize</c>: int outputs back into fake ones (a <see cref="DequantizeRequest"/>).</summary>
internal static class DequantizeCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "Model files of integer codes, the int format that quantizing writes (with --format int), or ONNX models in the qdq format (--format qdq). A Hugging Face model folder is one input, written as a folder (docs/model-folders.md).",
        Arity = ArgumentArity.OneOrMore,
    };

    public static Command Create()
    {
        var command = new Command("dequantize",
            "Turn the integer codes of 'quantize --format int' outputs (and ONNX models' --format qdq) back into values, in each tensor's original dtype: bit for bit " +
            "the fake output. Default output: m.int.pt -> m.q.pt beside it.")
        {
            Inputs, QuantizeCommand.OutputPath, QuantizeCommand.OutputDirectory, QuantizeCommand.Force, QuantizeCommand.Fsync, QuantizeCommand.Verbose, QuantizeCommand.Json,
        };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        var request = new DequantizeRequest
        {
            OutputPath = parseResult.GetValue(QuantizeCommand.OutputPath),
            OutputDirectory = parseResult.GetValue(QuantizeCommand.OutputDirectory),
            Force = parseResult.GetValue(QuantizeCommand.Force),
            Fsync = parseResult.GetValue(QuantizeCommand.Fsync),
        };
        bool verbose = parseResult.GetValue(QuantizeCommand.Verbose);
        var host = new ConsoleHost<DequantizationResult>(cli.Output, cli.Error, parseResult.GetValue(QuantizeCommand.Json),
            () => QuantShellJson.Compact.DequantizationResult, TextFormat.WriteDequantized,
            writeTextOfInput: (output, results) => TextFormat.WriteDequantizedFile(output, results, verbose));
        var job = DequantizeJob.Run(request, cli.Inputs(parseResult.GetValue(Inputs)!), host, cancellationToken);
        return host.ExitCode(job);
    }
}
