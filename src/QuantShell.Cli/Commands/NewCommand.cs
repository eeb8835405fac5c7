using System.CommandLine;
using QuantShell.Core.Jobs.NewQuantizer;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant new</c>: writes a quantizer file from its options, or with values chosen from data files.</summary>
internal static class NewCommand
{
    public static readonly Option<string?> OutputPath = new("--output-path", "--output", "-o")
    {
        Description = "The quantizer file to write; '-' or no --output-path prints the JSON to stdout.",
        HelpName = "FILE",
    };

    public static readonly Option<string[]> FromPath = new("--from-path", "--from")
    {
        Description = "Choose the values not given (threshold, range, LUT table) from these .npy files, pooled as calibration batches.",
        HelpName = "FILE",
        AllowMultipleArgumentsPerToken = true,
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace an existing quantizer file.",
    };

    public static readonly Option<bool> Fsync = FsyncOption.Create("quantizer file");

    public static Command Create()
    {
        var command = new Command("new", "Create a quantizer file (JSON) from --target, --method, --num-bits and its values, or with values chosen from --from-path files.");
        foreach (var option in QuantizerOptionSet.Building) command.Options.Add(option);
        command.Options.Add(QuantizerOptionSet.ErrorMethod);
        command.Options.Add(QuantizerOptionSet.Search);
        command.Options.Add(QuantizerOptionSet.P);
        command.Options.Add(QuantizerOptionSet.Percentile);
        foreach (var option in new Option[] { FromPath, OutputPath, Force, Fsync }) command.Options.Add(option);
        command.SetAction((parseResult, cancellationToken) => Task.FromResult((int)Run(parseResult, cancellationToken)));
        return command;
    }

    private static ExitCode Run(ParseResult parseResult, CancellationToken cancellationToken)
    {
        var cli = CliInvocation.From(parseResult);
        var request = new NewQuantizerRequest
        {
            Quantizer = QuantizerOptionSet.Read(parseResult),
            OutputPath = parseResult.GetValue(OutputPath) is { } path && path != CliInvocation.StandardStream ? path : null,
            Force = parseResult.GetValue(Force),
            Fsync = parseResult.GetValue(Fsync),
            FromData = parseResult.GetValue(FromPath) is { Length: > 0 },
        };
        // Without a file to write, the quantizer file's JSON is the output; with one, a line saying what it holds.
        var host = new ConsoleHost<InferableQuantizer>(cli.Output, cli.Error, json: false, jsonType: null, (output, quantizer) =>
        {
            if (request.OutputPath is null) output.WriteLine(QuantizerFile.ToJson(quantizer.Spec));
            else TextFormat.WriteCreated(output, Path.GetFullPath(request.OutputPath), quantizer.Spec);
        });
        NewQuantizerJob.Run(request, cli.Inputs(parseResult.GetValue(FromPath) ?? []), host, cancellationToken);
        return ExitCode.Success;
    }
}
