using System.CommandLine;
using QuantShell.Core.Jobs.Inspect;
using QuantShell.Core.Serialization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant inspect</c>: the format facts and value statistics of tensor files.</summary>
internal static class InspectCommand
{
    public static readonly Argument<string[]> Inputs = new("inputs")
    {
        Description = "The .npy or model files (.npz, safetensors, PyTorch checkpoints, ONNX models) to inspect (one entry per tensor). A Hugging Face model folder is one input (docs/model-folders.md). '-' reads one .npy from stdin.",
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

    public static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "For a model file, each tensor's facts one per line (as for an .npy file) instead of a table with a row per tensor.",
    };

    public static Command Create()
    {
        var command = new Command("inspect", "Show the tensors of .npy and model files (.npz, safetensors, PyTorch checkpoints, ONNX models): format, dtype, shape, order, size, and value statistics (min, max, mean, std, NaN/inf counts).")
        {
            Inputs, Statistics, Verbose, Json,
        };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        bool json = parseResult.GetValue(Json);
        bool verbose = parseResult.GetValue(Verbose);
        bool first = true;
        // A blank line between inputs; a model file's tensors as one table (each one's facts with --verbose).
        var host = new ConsoleHost<TensorInfo>(cli.Output, cli.Error, json, () => QuantShellJson.Compact.TensorInfo, (output, info) =>
        {
            if (!first) output.WriteLine();
            first = false;
            TextFormat.WriteInspected(output, info);
        }, writeTextOfInput: (output, results) =>
        {
            if (results.Count == 0) return;
            if (!first) output.WriteLine();
            first = false;
            TextFormat.WriteInspectedFile(output, results, verbose);
        });
        var job = InspectJob.Run(new InspectRequest { Statistics = parseResult.GetValue(Statistics) }, cli.Inputs(parseResult.GetValue(Inputs)!), host, cancellationToken);
        return host.ExitCode(job);
    }
}
