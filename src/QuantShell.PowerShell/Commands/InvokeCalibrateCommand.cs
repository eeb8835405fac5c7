using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;
using QuantShell.PowerShell.Completion;
using QuantShell.Core.Jobs.Calibrate;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Invoke-Calibrate: calibrates a float ONNX model's activations from sample inputs and writes a rules file
/// (<c>dotnet quant calibrate</c>). Parameters become a <see cref="CalibrateRequest"/>; the core's
/// <see cref="CalibrateJob"/> does the rest, with ONNX Runtime from the QuantShell.OnnxRuntime module.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "Calibrate", SupportsShouldProcess = true)]
[OutputType(typeof(CalibrationResult))]
public sealed class InvokeCalibrateCommand : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _cancellation = new();
    private int _models;

    /// <summary>The float ONNX model whose activations are calibrated.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("FullName")]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string Path { get; set; } = "";

    /// <summary>The sample inputs: a folder of .npy or .npz files, or one such file.</summary>
    [Parameter(Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FolderCompleter))]
    public string DataPath { get; set; } = "";

    /// <summary>The rules file to write. Default: model.rules.json beside model.onnx.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public string? OutputPath { get; set; }

    /// <summary>The activation quantizers' method: Pot (default), Symmetric or Uniform.</summary>
    [Parameter]
    public QuantizationMethod Method { get; set; }

    [Parameter]
    public int NumBits { get; set; }

    [Parameter]
    public ErrorMethod ErrorMethod { get; set; }

    [Parameter]
    public double P { get; set; }

    [Parameter]
    public double Percentile { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter Fsync { get; set; }

    protected override void ProcessRecord()
    {
        var models = PathResolver.ResolveWildcard(this, Path, out var error);
        if (error is not null)
        {
            WriteError(error);
            return;
        }
        foreach (string model in models)
        {
            if (++_models > 1 && OutputPath is not null)
                JobSteps.Run(this, () => throw new QuantShellException($"OutputPath names one rules file but several models were given; leave it out to write model.rules.json beside each model.",
                    ErrorIds.OutputPathWithSeveralInputs, QuantShellErrorKind.InvalidArgument, nameof(OutputPath)));
            var bound = MyInvocation.BoundParameters;
            var request = new CalibrateRequest
            {
                ModelPath = model,
                DataPath = JobSteps.ResolveOutputPath(this, DataPath)!,
                OutputPath = JobSteps.ResolveOutputPath(this, OutputPath),
                Method = bound.ContainsKey(nameof(Method)) ? Method : null,
                NumBits = bound.ContainsKey(nameof(NumBits)) ? NumBits : null,
                ErrorMethod = bound.ContainsKey(nameof(ErrorMethod)) ? ErrorMethod : null,
                P = bound.ContainsKey(nameof(P)) ? P : null,
                Percentile = bound.ContainsKey(nameof(Percentile)) ? Percentile : null,
                Force = Force.IsPresent,
                Fsync = Fsync.IsPresent,
            };
            // The options are checked before ONNX Runtime is loaded; without ONNX Runtime nothing can be calibrated.
            JobSteps.Run(this, () => CalibrateJob.CheckOptions(request));
            Core.Runtime.IModelRunner? runner = null;
            JobSteps.Run(this, () => runner = RuntimeModule.Runner(this));
            try
            {
                CalibrateJob.Run(request with { Runner = runner! }, new CmdletHost<CalibrationResult>(this, progressId: 6), _cancellation.Token);
            }
            catch (QuantShellException ex) when (ex.Kind is not QuantShellErrorKind.InvalidArgument)
            {
                // A model, its samples or its output failed: an error record for this model; the next one goes on.
                WriteError(ErrorRecords.From(ex, model));
            }
            catch (QuantShellException ex)
            {
                ThrowTerminatingError(ErrorRecords.ForParameter(this, ex));
            }
            catch (OperationCanceledException) when (Stopping)
            {
                return;
            }
        }
    }

    protected override void StopProcessing() => _cancellation.Cancel();

    public void Dispose() => _cancellation.Dispose();
}
