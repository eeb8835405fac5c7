using System.Management.Automation;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// The parameters of the cmdlets that apply a quantizer to files (Invoke-Quantize, Measure-Quantization): -Path or
/// -LiteralPath, and either -Quantizer or the parameters that build one, with the selection parameters for values not
/// given, or -Rules to give each tensor of a model file its own. They translate one to one into the core's
/// <see cref="QuantizerArguments"/> and <see cref="QuantizationRules"/>; the rules of how they combine are the core's.
/// </summary>
public abstract class QuantizerInputCommand<TResult> : JobCommand<TResult>
{
    protected const string PathSet = "Path";
    protected const string LiteralPathSet = "LiteralPath";
    protected const string PathParametersSet = "PathFromParameters";
    protected const string LiteralPathParametersSet = "LiteralPathFromParameters";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet, ValueFromPipeline = true)]
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathParametersSet, ValueFromPipeline = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathParametersSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>A complete quantizer: an object from New-/Import-InferableQuantizer, or the path of a quantizer file.</summary>
    [Parameter(Mandatory = true, ParameterSetName = PathSet)]
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [ValidateNotNull]
    [QuantizerTransformation]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public InferableQuantizer? Quantizer { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public QuantizationTarget Target { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public QuantizationMethod Method { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public int NumBits { get; set; }

    /// <summary>Thresholds (POT, symmetric, LUT); not given means chosen from the data.</summary>
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

    /// <summary>Not given: signed for weights; for activations signed iff the data has negative values (as MCT). -Signed:$false is unsigned.</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public SwitchParameter Signed { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public SwitchParameter PerChannel { get; set; }

    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public int ChannelAxis { get; set; }

    /// <summary>Group-wise scales: one value per channel and group of this many elements of the last axis (implies -PerChannel, axis 0 by default).</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public int GroupSize { get; set; }

    /// <summary>The table of a LUT quantizer (integers in the LUT's range, any order); not given means chosen from the data by k-means.</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public double[]? LutValues { get; set; }

    /// <summary>The bit width of a LUT's integer range (default 8).</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public int LutValuesBitwidth { get; set; }

    /// <summary>Added to a LUT's threshold before dividing by it (default 1e-8).</summary>
    [Parameter(ParameterSetName = PathParametersSet)]
    [Parameter(ParameterSetName = LiteralPathParametersSet)]
    public double Eps { get; set; }

    /// <summary>Which tensor of a model file gets which quantizer: a rules file's path, or the rules as a hashtable.</summary>
    [Parameter]
    [ValidateNotNull]
    [RulesTransformation]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public QuantizationRules? Rules { get; set; }

    // The selection parameters are in every set so that giving them with a complete quantizer gets the core's clear
    // error (SelectionOptionNotApplicable) rather than "parameter set cannot be resolved".

    /// <summary>How values not given are chosen from the data (default Mse; NoClipping for the Linear weights of a model folder).</summary>
    [Parameter]
    public ErrorMethod ErrorMethod { get; set; }

    /// <summary>As MCT does (default) or QuantShell's search for the least error.</summary>
    [Parameter]
    public SelectionSearch Search { get; set; }

    /// <summary>The exponent of -ErrorMethod Lp.</summary>
    [Parameter]
    public double P { get; set; }

    /// <summary>The share of the values -ErrorMethod Percentile covers, in percent (default 99.99).</summary>
    [Parameter]
    public double Percentile { get; set; }

    /// <summary>Choose one quantizer from all inputs pooled (calibration batches) and apply it to every input.</summary>
    [Parameter]
    public SwitchParameter Calibrate { get; set; }

    /// <summary>The bound parameters as the core's quantizer arguments (null for each one not given).</summary>
    protected QuantizerArguments ReadQuantizerArguments() => QuantizerParameters.Read(this, Quantizer);

    /// <summary>The files this record names (wildcards expanded for -Path); each argument that names none is an error record.</summary>
    protected override IEnumerable<string> ResolveInputs()
    {
        bool literal = ParameterSetName is LiteralPathSet or LiteralPathParametersSet;
        return PathResolver.ResolveInputs(this, literal ? LiteralPath : Path, literal);
    }
}

/// <summary>The quantizer parameters shared by the cmdlets, read into the core's quantizer arguments.</summary>
internal static class QuantizerParameters
{
    public static QuantizerArguments Read(PSCmdlet cmdlet, InferableQuantizer? quantizer)
    {
        var bound = cmdlet.MyInvocation.BoundParameters;
        T? Given<T>(string name) where T : struct => bound.TryGetValue(name, out var value) ? (T)value! : null;
        T? GivenObject<T>(string name) where T : class => bound.TryGetValue(name, out var value) ? (T?)value : null;
        bool? Switch(string name) => bound.TryGetValue(name, out var value) ? ((SwitchParameter)value!).IsPresent : null;
        return new QuantizerArguments
        {
            Quantizer = quantizer?.Spec,
            Target = Given<QuantizationTarget>(nameof(QuantizerArguments.Target)),
            Method = Given<QuantizationMethod>(nameof(QuantizerArguments.Method)),
            NumBits = Given<int>(nameof(QuantizerArguments.NumBits)),
            Threshold = GivenObject<double[]>(nameof(QuantizerArguments.Threshold)),
            MinRange = GivenObject<double[]>(nameof(QuantizerArguments.MinRange)),
            MaxRange = GivenObject<double[]>(nameof(QuantizerArguments.MaxRange)),
            Signed = Switch(nameof(QuantizerArguments.Signed)),
            PerChannel = Switch(nameof(QuantizerArguments.PerChannel)),
            ChannelAxis = Given<int>(nameof(QuantizerArguments.ChannelAxis)),
            GroupSize = Given<int>(nameof(QuantizerArguments.GroupSize)),
            LutValues = GivenObject<double[]>(nameof(QuantizerArguments.LutValues)),
            LutValuesBitwidth = Given<int>(nameof(QuantizerArguments.LutValuesBitwidth)),
            Eps = Given<double>(nameof(QuantizerArguments.Eps)),
            ErrorMethod = Given<ErrorMethod>(nameof(QuantizerArguments.ErrorMethod)),
            Search = Given<SelectionSearch>(nameof(QuantizerArguments.Search)),
            P = Given<double>(nameof(QuantizerArguments.P)),
            Percentile = Given<double>(nameof(QuantizerArguments.Percentile)),
            Calibrate = Switch(nameof(QuantizerArguments.Calibrate)),
        };
    }
}
