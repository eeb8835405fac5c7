using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>Import-InferableQuantizer: reads a JSON quantizer file (the format of docs/semantics.md) into a quantizer.</summary>
[Cmdlet(VerbsData.Import, "InferableQuantizer", DefaultParameterSetName = PathSet)]
[OutputType(typeof(InferableQuantizer))]
public sealed class ImportInferableQuantizerCommand : PSCmdlet
{
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public string Path { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public string LiteralPath { get; set; } = "";

    protected override void ProcessRecord()
    {
        ErrorRecord? error;
        IReadOnlyList<string> files;
        if (ParameterSetName == PathSet)
            files = PathResolver.ResolveWildcard(this, Path, out error);
        else
        {
            string? file = PathResolver.ResolveLiteral(this, LiteralPath, out error);
            files = file is null ? [] : [file];
        }
        if (error is not null) ThrowTerminatingError(error);

        // A quantizer is the basis of everything that follows, so a bad quantizer file stops the pipeline.
        foreach (string file in files)
        {
            try
            {
                WriteObject(InferableQuantizer.Create(QuantizerFile.Read(file)));
            }
            catch (QuantShellException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex, file));
            }
        }
    }
}
