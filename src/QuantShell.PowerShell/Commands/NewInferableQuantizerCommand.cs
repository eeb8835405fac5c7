using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// New-InferableQuantizer: builds one of the six MCT inferable quantizers from its parameters, or (-FromPath,
/// -FromLiteralPath) chooses its threshold or range from .npy data, pooled as calibration batches, without quantizing.
/// </summary>
[Cmdlet(VerbsCommon.New, "InferableQuantizer", DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(InferableQuantizer))]
public sealed class NewInferableQuantizerCommand : PSCmdlet
{
    private const string ParametersSet = "Parameters";
    private const string FromPathSet = "FromPath";
    private const string FromLiteralPathSet = "FromLiteralPath";

    private readonly List<string> _inputs = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    // From data, target and bits default to Weights and 8 (as Invoke-Quantize); from parameters they must be given.
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ParametersSet)]
    [Parameter(Position = 0, ParameterSetName = FromPathSet)]
    [Parameter(Position = 0, ParameterSetName = FromLiteralPathSet)]
    public QuantizationTarget Target { get; set; } = QuantizationTarget.Weights;

    [Parameter(Mandatory = true, Position = 1)]
    public QuantizationMethod Method { get; set; }

    [Parameter(Mandatory = true, Position = 2, ParameterSetName = ParametersSet)]
    [Parameter(Position = 2, ParameterSetName = FromPathSet)]
    [Parameter(Position = 2, ParameterSetName = FromLiteralPathSet)]
    public int NumBits { get; set; } = 8;

    [Parameter]
    public double[]? Threshold { get; set; }

    [Parameter]
    public double[]? MinRange { get; set; }

    [Parameter]
    public double[]? MaxRange { get; set; }

    /// <summary>Signed integer range (POT/symmetric). Not given means signed, as in MCT; -Signed:$false means unsigned.
    /// From data, not given means signed for weights and, for activations, signed iff the data has negative values.</summary>
    [Parameter]
    public SwitchParameter Signed { get; set; }

    [Parameter]
    public SwitchParameter PerChannel { get; set; }

    [Parameter]
    public int ChannelAxis { get; set; }

    /// <summary>.npy files (wildcards allowed) whose values, pooled, the threshold or range is chosen from.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FromPathSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] FromPath { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = FromLiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] FromLiteralPath { get; set; } = [];

    [Parameter(ParameterSetName = FromPathSet)]
    [Parameter(ParameterSetName = FromLiteralPathSet)]
    public ErrorMethod ErrorMethod { get; set; } = ErrorMethod.Mse;

    [Parameter(ParameterSetName = FromPathSet)]
    [Parameter(ParameterSetName = FromLiteralPathSet)]
    public double P { get; set; } = 2.0;

    private QuantizerSpec? _request;

    protected override void BeginProcessing()
    {
        var bound = MyInvocation.BoundParameters;
        _request = QuantizerSelection.SpecFromParameters(this, Target, Method, NumBits, Threshold, MinRange, MaxRange, Signed, PerChannel, ChannelAxis);
        if (!bound.ContainsKey(nameof(FromPath)) && !bound.ContainsKey(nameof(FromLiteralPath))) return;
        var given = new[] { nameof(Threshold), nameof(MinRange), nameof(MaxRange) }.Where(bound.ContainsKey).ToArray();
        if (given.Length > 0)
        {
            ThrowTerminatingError(ErrorRecords.Create(
                $"{string.Join(", ", given.Select(p => "-" + p))}: with -FromPath or -FromLiteralPath the threshold or range is chosen from the data; do not also give it.",
                "SelectionNotApplicable", ErrorCategory.InvalidArgument, string.Join(",", given)));
        }
        var optionsError = QuantizerSelection.CheckOptions(this, ErrorMethod, P);
        if (optionsError is not null) ThrowTerminatingError(optionsError);
        try
        {
            QuantizerResolver.ValidateRequest(_request);
        }
        catch (QuantizerValidationException ex)
        {
            ThrowTerminatingError(QuantizerSelection.FromValidation(this, ex));
        }
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ParametersSet) return;
        bool literal = ParameterSetName == FromLiteralPathSet;
        foreach (string file in PathResolver.ResolveInputs(this, literal ? FromLiteralPath : FromPath, literal))
        {
            if (_seen.Add(file)) _inputs.Add(file);
        }
    }

    protected override void EndProcessing()
    {
        var spec = _request!;
        if (ParameterSetName != ParametersSet)
        {
            // Files that cannot be read are reported and left out; the quantizer is chosen from the rest.
            var (readable, arrays) = QuantizerSelection.ReadableInputs(this, _inputs);
            if (readable.Count == 0)
            {
                ThrowTerminatingError(ErrorRecords.Create("No readable .npy input is left to choose the quantizer from.",
                    "SelectionNoData", ErrorCategory.InvalidData, string.Join(", ", _inputs)));
            }
            try
            {
                spec = QuantizerResolver.Resolve(spec, arrays, string.Join(", ", readable), new SelectionOptions { ErrorMethod = ErrorMethod, P = P });
            }
            catch (QuantizerValidationException ex)
            {
                ThrowTerminatingError(QuantizerSelection.FromValidation(this, ex));
            }
            catch (QuantShellException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex, readable.Count == 1 ? readable[0] : string.Join(", ", readable)));
            }
        }
        InferableQuantizer quantizer;
        try
        {
            quantizer = InferableQuantizer.Create(spec);
        }
        catch (QuantizerValidationException ex)
        {
            ThrowTerminatingError(QuantizerSelection.FromValidation(this, ex));
            return;
        }
        WriteObject(quantizer);
    }
}
