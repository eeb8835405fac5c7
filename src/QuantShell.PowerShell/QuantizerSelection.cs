using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.IO;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell;

/// <summary>
/// The parameter rules shared by the cmdlets that build a quantizer from parameters and, where its threshold or range
/// is not given, choose it from data (Invoke-Quantize, Measure-Quantization, New-InferableQuantizer -FromPath).
/// The choosing itself is the core's (<see cref="QuantizerResolver"/>); this only maps parameters and errors.
/// </summary>
internal static class QuantizerSelection
{
    /// <summary>
    /// The spec the quantizer-building parameters describe. Signed and ChannelAxis are null when not bound (the core's
    /// defaults then apply); Threshold or MinRange/MaxRange may be null, meaning "choose from the data".
    /// </summary>
    public static QuantizerSpec SpecFromParameters(PSCmdlet cmdlet, QuantizationTarget target, QuantizationMethod method, int numBits,
        double[]? threshold, double[]? minRange, double[]? maxRange, SwitchParameter signed, SwitchParameter perChannel, int channelAxis)
    {
        var bound = cmdlet.MyInvocation.BoundParameters;
        return new QuantizerSpec
        {
            Target = target,
            Method = method,
            NumBits = numBits,
            Threshold = threshold,
            MinRange = minRange,
            MaxRange = maxRange,
            Signed = bound.ContainsKey("Signed") ? signed.IsPresent : null,
            PerChannel = perChannel.IsPresent,
            ChannelAxis = bound.ContainsKey("ChannelAxis") ? channelAxis : null,
        };
    }

    /// <summary>A quantizer validation error as a terminating-error record whose target is the offending parameter's value.</summary>
    public static ErrorRecord FromValidation(PSCmdlet cmdlet, QuantizerValidationException exception)
    {
        var bound = cmdlet.MyInvocation.BoundParameters;
        object? value = bound.TryGetValue(exception.ParameterName, out var given) ? given : exception.ParameterName;
        return new ErrorRecord(exception, exception.ErrorId, ErrorCategory.InvalidArgument, value);
    }

    /// <summary>
    /// Checks -ErrorMethod and -P: -P belongs to -ErrorMethod Lp only and must be finite and greater than 0.
    /// Returns the error to throw, or null.
    /// </summary>
    public static ErrorRecord? CheckOptions(PSCmdlet cmdlet, ErrorMethod errorMethod, double p)
    {
        var bound = cmdlet.MyInvocation.BoundParameters;
        if (!bound.ContainsKey("P")) return null;
        if (errorMethod != ErrorMethod.Lp)
        {
            return ErrorRecords.Create($"-P is the exponent of -ErrorMethod Lp; it does not apply to -ErrorMethod {errorMethod}.",
                "ErrorExponentNotApplicable", ErrorCategory.InvalidArgument, p);
        }
        if (!(double.IsFinite(p) && p > 0))
        {
            return ErrorRecords.Create($"-P must be a finite number greater than 0 but is {p.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}.",
                "ErrorExponentInvalid", ErrorCategory.InvalidArgument, p);
        }
        return null;
    }

    /// <summary>The error for selection parameters given with a quantizer that needs no selection.</summary>
    public static ErrorRecord NotApplicable(IEnumerable<string> parameters) =>
        ErrorRecords.Create(
            $"{string.Join(", ", parameters.Select(p => "-" + p))}: these choose the threshold or range from the data; they do not apply to a complete quantizer " +
            "(one given with -Quantizer, or with -Threshold, or with -MinRange and -MaxRange).",
            "SelectionNotApplicable", ErrorCategory.InvalidArgument, string.Join(",", parameters));

    /// <summary>
    /// The calibration inputs that can be read as arrays; each one that cannot is reported as a non-terminating error
    /// (with the core's error id, the path as target) and left out, so that it does not stop the others being pooled.
    /// </summary>
    public static (List<string> Paths, List<NpyArray> Arrays) ReadableInputs(PSCmdlet cmdlet, IReadOnlyList<string> inputs)
    {
        // The arrays are kept: the caller chooses the quantizer from them rather than reading the files again.
        var paths = new List<string>(inputs.Count);
        var arrays = new List<NpyArray>(inputs.Count);
        foreach (string input in inputs)
        {
            try
            {
                arrays.Add(NpyArray.Read(input));
                paths.Add(input);
            }
            catch (QuantShellException ex)
            {
                cmdlet.WriteError(ErrorRecords.From(ex, input));
            }
        }
        return (paths, arrays);
    }
}
