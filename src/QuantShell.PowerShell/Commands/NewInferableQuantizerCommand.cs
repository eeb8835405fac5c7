using System.Management.Automation;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.NewQuantizer;
using QuantShell.Core.Quantization;
using QuantShell.Core.Rules;
using QuantShell.Core.Selection;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// New-InferableQuantizer: builds one of MCT's inferable quantizers from its parameters, or (-FromPath, -FromLiteralPath)
/// chooses the values not given from .npy data, pooled as calibration batches. The core's <see cref="NewQuantizerJob"/>
/// applies the defaults and rules.
/// </summary>
[Cmdlet(VerbsCommon.New, "InferableQuantizer", DefaultParameterSetName = ParametersSet)]
[OutputType(typeof(InferableQuantizer))]
public sealed class NewInferableQuantizerCommand : PSCmdlet
{
    private const string ParametersSet = "Parameters";
    private const string FromPathSet = "FromPath";
    private const string FromLiteralPathSet = "FromLiteralPath";

    private readonly List<JobInput> _inputs = [];
    private QuantizerArguments? _arguments;

    [Parameter(Position = 0)]
    public QuantizationTarget Target { get; set; }

    [Parameter(Position = 1)]
    public QuantizationMethod Method { get; set; }

    [Parameter(Position = 2)]
    public int NumBits { get; set; }

    [Parameter]
    public double[]? Threshold { get; set; }

    [Parameter]
    public double[]? MinRange { get; set; }

    [Parameter]
    public double[]? MaxRange { get; set; }

    /// <summary>Signed integer range (POT, symmetric, activation LUT). Not given means signed, as in MCT; -Signed:$false means unsigned.
    /// From data, not given means signed for weights and, for activations, signed iff the data has negative values.</summary>
    [Parameter]
    public SwitchParameter Signed { get; set; }

    [Parameter]
    public SwitchParameter PerChannel { get; set; }

    [Parameter]
    public int ChannelAxis { get; set; }

    /// <summary>Group-wise scales: one value per channel and group of this many elements of the last axis (implies -PerChannel, axis 0 by default).</summary>
    [Parameter]
    public int GroupSize { get; set; }

    /// <summary>The table of a LUT quantizer (LutSymmetric, LutPot): integers in the LUT's range, any order, duplicates allowed.</summary>
    [Parameter]
    public double[]? LutValues { get; set; }

    /// <summary>The bit width B of a LUT's integer range (default 8).</summary>
    [Parameter]
    public int LutValuesBitwidth { get; set; }

    /// <summary>Added to a LUT's threshold before dividing by it (default 1e-8).</summary>
    [Parameter]
    public double Eps { get; set; }

    /// <summary>.npy files (wildcards allowed) whose values, pooled, the values not given are chosen from.</summary>
    [Parameter(Mandatory = true, ParameterSetName = FromPathSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string[] FromPath { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = FromLiteralPathSet, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "LP", "FullName")]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(TensorFileCompleter))]
    public string[] FromLiteralPath { get; set; } = [];

    [Parameter(ParameterSetName = FromPathSet)]
    [Parameter(ParameterSetName = FromLiteralPathSet)]
    public ErrorMethod ErrorMethod { get; set; }

    [Parameter(ParameterSetName = FromPathSet)]
    [Parameter(ParameterSetName = FromLiteralPathSet)]
    public SelectionSearch Search { get; set; }

    [Parameter(ParameterSetName = FromPathSet)]
    [Parameter(ParameterSetName = FromLiteralPathSet)]
    public double P { get; set; }

    [Parameter(ParameterSetName = FromPathSet)]
    [Parameter(ParameterSetName = FromLiteralPathSet)]
    public double Percentile { get; set; }

    protected override void BeginProcessing() => _arguments = QuantizerParameters.Read(this, null);

    protected override void ProcessRecord()
    {
        if (ParameterSetName == ParametersSet) return;
        bool literal = ParameterSetName == FromLiteralPathSet;
        foreach (string file in PathResolver.ResolveInputs(this, literal ? FromLiteralPath : FromPath, literal))
            _inputs.Add(JobInput.File(file));
    }

    protected override void EndProcessing() =>
        JobSteps.Run(this, () => NewQuantizerJob.Run(new NewQuantizerRequest { Quantizer = _arguments!, FromData = ParameterSetName != ParametersSet }, _inputs,
            new CmdletHost<InferableQuantizer>(this, progressId: 3)));
}
