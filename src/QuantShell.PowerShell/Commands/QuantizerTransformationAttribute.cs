using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Jobs;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell.Commands;

/// <summary>Lets -Quantizer take the path of a quantizer file as well as a quantizer object.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class QuantizerTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        if (value is not string path) return inputData;
        string resolved = engineIntrinsics.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
        try
        {
            return InferableQuantizer.Create(QuantizerFile.Read(resolved));
        }
        catch (QuantShellException ex)
        {
            throw new ArgumentTransformationMetadataException(ErrorRecords.MessageOf(ex), ex);
        }
    }
}
