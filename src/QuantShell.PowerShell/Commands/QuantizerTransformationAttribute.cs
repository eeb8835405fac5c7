using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Lets -Quantizer take the path of a quantizer file, or the quantizer a result describes (the <c>Quantizer</c> of what
/// Invoke-Quantize and Measure-Quantization return), as well as a quantizer object.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class QuantizerTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is not string and not QuantizerSpec) return inputData;
        try
        {
            return value is QuantizerSpec spec
                ? InferableQuantizer.Create(spec)
                : InferableQuantizer.Create(QuantizerFile.Read(engineIntrinsics.SessionState.Path.GetUnresolvedProviderPathFromPSPath((string)value)));
        }
        catch (QuantShellException ex)
        {
            throw new ArgumentTransformationMetadataException(ErrorRecords.MessageOf(ex), ex);
        }
    }
}
