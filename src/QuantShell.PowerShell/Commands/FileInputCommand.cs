using System.Management.Automation;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// The input parameters of the cmdlets that take files and nothing that builds a quantizer (Get-QuantTensor,
/// Invoke-Dequantize, ConvertTo-StandardOnnx): -Path with wildcards, or -LiteralPath bound from the pipeline by FullName
/// or PSPath.
/// </summary>
public abstract class FileInputCommand<TResult> : JobCommand<TResult>
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>The files this record names (wildcards expanded for -Path); each argument that names none is an error record.</summary>
    protected override IEnumerable<string> ResolveInputs()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        return PathResolver.ResolveInputs(this, literal ? LiteralPath : Path, literal);
    }
}
