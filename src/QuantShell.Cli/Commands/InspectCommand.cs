using System.CommandLine;
using QuantShell.Core.Jobs.Inspect;
using QuantShell.Core.Serialization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant inspect</c>: the format facts and value statistics of tensor files.</summary>
internal static class InspectCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "The .npy or model files (.npz, safetensors, PyTorch checkpoints, ONNX models) to inspect (one entry per tensor). '-' reads one .npy from stdin.",
        Arity = ArgumentArity.OneOrMore,
    };

    public static readonly Option<bool?> Statistics = new("--statistics")
    {
        Description = "Read every value for min, max, mean, std and non-finite counts. Default: yes for .npy, no for model files; --statistics false to skip.",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per tensor (JSON Lines) instead of text.",
    };

    public static Command Create()
    {
        var command = new Command("inspect", "Show the tensors of .npy and model files (.npz, safetensors, PyTorch checkpoints, ONNX models): format, dtype, shape, order, size, and value statistics (min, max, mean, std, NaN/inf counts).")
        {
            Inputs, Statistics, Json,
        };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        bool json = parseResult.GetValue(Json);
        bool first = true;
        var host = new ConsoleHost<TensorInfo>(cli.Output, cli.Error, json, () => QuantShellJson.Compact.TensorInfo, (output, info) =>
        {
            if (!first) output.WriteLine();
            first = false;
            TextFormat.WriteInspected(output, info);
        });
        var job = InspectJob.Run(new InspectRequest { Statistics = parseResult.GetValue(Statistics) }, cli.Inputs(parseResult.GetValue(Inputs)!), host, cancellationToken);
        return host.ExitCode(job);
    }
}
