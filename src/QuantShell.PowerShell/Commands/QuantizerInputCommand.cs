using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Quantization;
using QuantShell.Core.Selection;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// The inputs and the quantizer of the cmdlets that apply a quantizer to .npy files (Invoke-Quantize,
/// Measure-Quantization): -Path or -LiteralPath, and either -Quantizer or the parameters that build one. When the
/// built quantizer has no threshold (POT, symmetric) or range (uniform), it is chosen from the data by the core, per file
/// or, with -Calibrate, once from all files pooled.
/// </summary>
public abstract class QuantizerInputCommand : PSCmdlet
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";
    protected const string PathParametersSet = "PathFromParameters";
    protected const string LiteralPathParametersSet = "LiteralPathFromParameters";

    private readonly List<string> _inputs = [];
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathParametersSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathParametersSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [ValidateNotNull]
    public InferableQuantizer? Quantizer { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public QuantizationTarget Target { get; set; } = QuantizationTarget.Weights;

    [Parameter(Mandatory = true, ParameterSetName = PathParametersSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathParametersSet)]
    public QuantizationMethod Method { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public int NumBits { get; set; } = 8;

    /// <summary>Thresholds (POT, symmetric); not given means chosen from the data.</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public double[]? Threshold { get; set; }

    /// <summary>Range minimums (uniform); with -MaxRange. Not given means chosen from the data.</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public double[]? MinRange { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public double[]? MaxRange { get; set; }

    /// <summary>Not given: signed for weights; for activations signed iff the data has negative values (as MCT).</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public SwitchParameter Signed { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public SwitchParameter PerChannel { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public int ChannelAxis { get; set; }

    // The selection parameters are in every set so that giving them with a complete quantizer gets a clear error
    // (SelectionNotApplicable) rather than "parameter set cannot be resolved".

    /// <summary>How the threshold or range is chosen when not given.</summary>
    [Parameter]
    public ErrorMethod ErrorMethod { get; set; } = ErrorMethod.Mse;

    /// <summary>The exponent of -ErrorMethod Lp.</summary>
    [Parameter]
    public double P { get; set; } = 2.0;

    /// <summary>Choose one quantizer from all inputs pooled (calibration batches) and apply it to every input.</summary>
    [Parameter]
    public SwitchParameter Calibrate { get; set; }

    /// <summary>The quantizer given or built complete; null when its values are chosen from the data.</summary>
    protected InferableQuantizer? CompleteQuantizer { get; private set; }

    /// <summary>The quantizer to complete from the data, when not complete.</summary>
    protected QuantizerSpec? Request { get; private set; }

    protected SelectionOptions Selection { get; private set; } = new();

    /// <summary>The resolved input files, in order, without duplicates.</summary>
    protected IReadOnlyList<string> Inputs => _inputs;

    /// <summary>Checks the quantizer parameters before any input is read; a bad quantizer stops the pipeline.</summary>
    protected void PrepareQuantizer()
    {
        var bound = MyInvocation.BoundParameters;
        // Not ParameterSetName: in BeginProcessing, with inputs still to come from the pipeline, the set may be unresolved.
        if (bound.ContainsKey(nameof(Quantizer)))
        {
            CompleteQuantizer = Quantizer;
        }
        else
        {
            var spec = QuantizerSelection.SpecFromParameters(this, Target, Method, NumBits, Threshold, MinRange, MaxRange, Signed, PerChannel, ChannelAxis);
            try
            {
                QuantizerResolver.ValidateRequest(spec);
                if (QuantizerResolver.IsComplete(spec)) CompleteQuantizer = InferableQuantizer.Create(spec);
                else Request = spec;
            }
            catch (QuantizerValidationException ex)
            {
                ThrowTerminatingError(QuantizerSelection.FromValidation(this, ex));
            }
        }
        if (CompleteQuantizer is not null)
        {
            var selectionParameters = new[] { nameof(ErrorMethod), nameof(P), nameof(Calibrate) }.Where(bound.ContainsKey).ToArray();
            if (selectionParameters.Length > 0) ThrowTerminatingError(QuantizerSelection.NotApplicable(selectionParameters));
            return;
        }
        var optionsError = QuantizerSelection.CheckOptions(this, ErrorMethod, P);
        if (optionsError is not null) ThrowTerminatingError(optionsError);
        Selection = new SelectionOptions { ErrorMethod = ErrorMethod, P = P };
    }

    /// <summary>Collects this record's inputs; call from ProcessRecord.</summary>
    protected void CollectInputs()
    {
        bool literal = ParameterSetName is LiteralPathSet or LiteralPathParametersSet;
        foreach (string file in PathResolver.ResolveInputs(this, literal ? LiteralPath : Path, literal))
        {
            if (_seen.Add(file)) _inputs.Add(file);
        }
    }

    /// <summary>
    /// With -Calibrate: reports and leaves out the inputs that cannot be read, then chooses one quantizer from the rest
    /// pooled. Returns null (and no inputs) when no input is left. A failure to choose stops the pipeline.
    /// </summary>
    protected (InferableQuantizer? Quantizer, IReadOnlyList<string> Inputs) CalibrateShared()
    {
        var (readable, arrays) = QuantizerSelection.ReadableInputs(this, _inputs);
        if (readable.Count == 0) return (null, readable);
        try
        {
            return (InferableQuantizer.Create(QuantizerResolver.Resolve(Request!, arrays, string.Join(", ", readable), Selection)), readable);
        }
        catch (QuantShellException ex)
        {
            ThrowTerminatingError(ErrorRecords.From(ex, readable.Count == 1 ? readable[0] : string.Join(", ", readable)));
            return (null, []);
        }
    }

    /// <summary>The quantizer for one input: the complete or shared one, else one chosen from this input alone.</summary>
    protected InferableQuantizer QuantizerFor(string input, InferableQuantizer? shared) =>
        shared ?? InferableQuantizer.Create(QuantizerResolver.Resolve(Request!, [input], Selection));
}
