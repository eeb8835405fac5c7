using System.CommandLine;
using QuantShell.Core.Jobs;
using QuantShell.Core.Serialization;
using QuantShell.Core.Jobs.Compare;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant compare</c>: options into a <see cref="CompareRequest"/>, one result per output into lines or JSON.</summary>
internal static class CompareCommand
{
    public static readonly Argument<string> Reference = new("reference")
    {
        Description = "The reference model (the float one).",
    };

    public static readonly Argument<string> Candidate = new("candidate")
    {
        Description = "The model compared with it (a quantized one), with the same inputs and outputs.",
    };

    public static readonly Option<string> DataPath = new("--data-path", "--data")
    {
        Description = "The sample inputs: a folder of .npy files (a model of one input) or .npz files (one array per input name), or one such file. Each file is one run of each model.",
        HelpName = "DIR",
        Required = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print one JSON object per output (JSON Lines; its SQNR is sqnrDb) instead of a line of text.",
    };

    public static Command Create()
    {
        var command = new Command("compare",
            "Run two ONNX models (a float one and a quantized one) in ONNX Runtime on sample inputs and compare their outputs: SQNR, " +
            "largest and mean absolute error, cosine similarity, top-1 agreement of class scores, file sizes and median latency.")
        {
            Reference, Candidate, DataPath, Json,
        };
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        var request = new CompareRequest
        {
            ReferencePath = parseResult.GetValue(Reference)!,
            CandidatePath = parseResult.GetValue(Candidate)!,
            DataPath = parseResult.GetValue(DataPath)!,
        };
        var host = new ConsoleHost<ComparisonResult>(cli.Output, cli.Error, parseResult.GetValue(Json), () => QuantShellJson.Compact.ComparisonResult, TextFormat.WriteCompared,
            progressLine: cli.ErrorIsTerminal);
        CompareJob.Run(request with { Runner = ModelRuntime.Create() }, host, cancellationToken);
        return ExitCode.Success;
    }
}
