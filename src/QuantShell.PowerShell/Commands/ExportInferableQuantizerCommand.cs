using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>Export-InferableQuantizer: writes a quantizer as a JSON quantizer file that Import-InferableQuantizer and dotnet quant read.</summary>
[Cmdlet(VerbsData.Export, "InferableQuantizer", SupportsShouldProcess = true)]
[OutputType(typeof(FileInfo))]
public sealed class ExportInferableQuantizerCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [Alias("FilePath")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public string Path { get; set; } = "";

    /// <summary>
    /// The quantizer: an object from New-/Import-InferableQuantizer, the quantizer a result of Invoke-Quantize or
    /// Measure-Quantization describes (piped whole, or its Quantizer property), or the path of a quantizer file.
    /// </summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNull]
    [QuantizerTransformation]
    public InferableQuantizer? Quantizer { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Flush the file to the disk before it is renamed into place, and its folder after (survives a power cut).</summary>
    [Parameter]
    public SwitchParameter Fsync { get; set; }

    /// <summary>Writes the FileInfo of the written file.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private bool _written;

    protected override void ProcessRecord()
    {
        if (_written)
        {
            ThrowTerminatingError(ErrorRecords.From(new QuantShellException($"{Path}: only one quantizer can be exported to a file; the pipeline held more.",
                ErrorIds.MultipleQuantizersForOneFile, QuantShellErrorKind.InvalidArgument, Path), Path));
        }
        string? file = PathResolver.ResolveLiteral(this, Path, out var error);
        if (error is not null || file is null) { ThrowTerminatingError(error!); return; }
        try
        {
            AtomicFile.CheckWritable(file, Force.IsPresent);
            if (!ShouldProcess(file, "Write quantizer file")) return;
            QuantizerFile.Write(file, Quantizer!.Spec, new WriteOptions { Force = Force.IsPresent, Fsync = Fsync.IsPresent });
            _written = true;
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, file));
        }
        if (PassThru) WriteObject(new FileInfo(file));
    }
}
