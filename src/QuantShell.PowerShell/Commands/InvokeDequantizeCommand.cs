using System.Management.Automation;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Dequantize;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Invoke-Dequantize: turns the integer codes of Invoke-Quantize -Format Int outputs back into values, bit for bit the
/// fake output (<c>dotnet quant dequantize</c>). The core's <see cref="DequantizeJob"/> does the work.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "Dequantize", SupportsShouldProcess = true, DefaultParameterSetName = PathSet)]
[OutputType(typeof(DequantizationResult))]
public sealed class InvokeDequantizeCommand : FileInputCommand<DequantizationResult>
{
    /// <summary>The output file; only for a single input. Default: m.int.pt → m.q.pt beside it.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FolderCompleter))]
    public string? OutputDirectory { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Flush each output to disk before it is renamed into place, so it survives a power cut.</summary>
    [Parameter]
    public SwitchParameter Fsync { get; set; }

    protected override InputJob<DequantizationResult> CreateJob()
    {
        var request = new DequantizeRequest
        {
            OutputPath = ResolveOutputPath(OutputPath),
            OutputDirectory = ResolveOutputPath(OutputDirectory),
            Force = Force.IsPresent,
            Fsync = Fsync.IsPresent,
        };
        return new DequantizeJob(request, new CmdletHost<DequantizationResult>(this, progressId: 5));
    }
}
