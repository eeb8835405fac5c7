using System.CommandLine;
using QuantShell.Core.Serialization;

namespace QuantShell.Cli.Commands;

/// <summary><c>dotnet-quant schema KIND</c>: the JSON Schema of a document the tool writes.</summary>
internal static class SchemaCommand
{
    public static readonly Argument<JsonDocumentKind> Kind = new("kind")
    {
        Description = "Which document: quantize, measure, inspect, dequantize, lower, calibrate or compare (a line of their --json output), quantizer (a quantizer file) or rules (a rules file).",
        CustomParser = result => QuantizerOptionSet.ParseEnum<JsonDocumentKind>(result) ?? default,
    };

    public static Command Create()
    {
        var command = new Command("schema", "Print the JSON Schema of a document dotnet-quant writes.") { Kind };
        command.SetAction(parseResult =>
        {
            CliInvocation.From(parseResult).Output.Write(JsonSchemas.For(parseResult.GetValue(Kind)));
            return (int)ExitCode.Success;
        });
        return command;
    }
}
