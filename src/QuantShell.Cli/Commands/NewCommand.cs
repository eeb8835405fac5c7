using System.CommandLine;
using QuantShell.Core.Quantization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant new</c>: writes a quantizer file (JSON) for <c>quantize --quantizer</c> and New-InferableQuantizer.</summary>
internal sealed class NewCommand
{
    public static readonly Option<string?> Output = new("--output", "-o")
    {
        Description = "The quantizer file to write; '-' or no --output prints the JSON to stdout.",
        HelpName = "FILE",
    };

    public static readonly Option<bool> Force = new("--force", "-f")
    {
        Description = "Replace an existing quantizer file.",
    };

    public static readonly Command Command = CreateCommand();

    private readonly TextWriter _stdout;

    private NewCommand(CliInvocation invocation) => _stdout = invocation.Output;

    private static Command CreateCommand()
    {
        var command = new Command("new", "Create a quantizer file (JSON) from --target, --method, --bits and its values.");
        foreach (var option in QuantizerOptions.All) command.Options.Add(option);
        command.Options.Add(Output);
        command.Options.Add(Force);
        command.SetAction(parseResult => (int)new NewCommand(CliInvocation.From(parseResult)).Execute(parseResult));
        return command;
    }

    private ExitCode Execute(ParseResult parseResult)
    {
        var spec = QuantizerOptions.BuildSpec(parseResult);
        // Creating the quantizer also checks what Validate cannot, e.g. that the grid can be computed.
        InferableQuantizer.Create(spec);
        string? output = parseResult.GetValue(Output);
        if (output is null or QuantizeCommand.StandardStream)
            _stdout.WriteLine(QuantizerFile.ToJson(spec));
        else
            QuantizerFile.Write(output, spec, parseResult.GetValue(Force));
        return ExitCode.Success;
    }
}
