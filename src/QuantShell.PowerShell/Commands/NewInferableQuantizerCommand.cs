using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;

namespace QuantShell.PowerShell.Commands;

/// <summary>New-InferableQuantizer: builds one of the six MCT inferable quantizers from its parameters.</summary>
[Cmdlet(VerbsCommon.New, "InferableQuantizer")]
[OutputType(typeof(InferableQuantizer))]
public sealed class NewInferableQuantizerCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    public QuantizationTarget Target { get; set; }

    [Parameter(Mandatory = true, Position = 1)]
    public QuantizationMethod Method { get; set; }

    [Parameter(Mandatory = true, Position = 2)]
    public int NumBits { get; set; }

    [Parameter]
    public double[]? Threshold { get; set; }

    [Parameter]
    public double[]? MinRange { get; set; }

    [Parameter]
    public double[]? MaxRange { get; set; }

    /// <summary>Signed integer range (POT/symmetric). Not given means signed, as in MCT; -Signed:$false means unsigned.</summary>
    [Parameter]
    public SwitchParameter Signed { get; set; }

    [Parameter]
    public SwitchParameter PerChannel { get; set; }

    [Parameter]
    public int ChannelAxis { get; set; }

    protected override void EndProcessing()
    {
        var bound = MyInvocation.BoundParameters;
        var spec = new QuantizerSpec
        {
            Target = Target,
            Method = Method,
            NumBits = NumBits,
            Threshold = Threshold,
            MinRange = MinRange,
            MaxRange = MaxRange,
            Signed = bound.ContainsKey(nameof(Signed)) ? Signed.IsPresent : null,
            PerChannel = PerChannel.IsPresent,
            ChannelAxis = bound.ContainsKey(nameof(ChannelAxis)) ? ChannelAxis : null,
        };
        InferableQuantizer quantizer;
        try
        {
            quantizer = InferableQuantizer.Create(spec);
        }
        catch (QuantizerValidationException ex)
        {
            object? value = bound.TryGetValue(ex.ParameterName, out var given) ? given : ex.ParameterName;
            ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, ErrorCategory.InvalidArgument, value));
            return;
        }
        WriteObject(quantizer);
    }
}
