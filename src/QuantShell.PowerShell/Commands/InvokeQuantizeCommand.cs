using System.Management.Automation;
using QuantShell.Core.Jobs;
using QuantShell.Core.Jobs.Quantize;
using QuantShell.PowerShell.Completion;

namespace QuantShell.PowerShell.Commands;

/// <summary>
/// Invoke-Quantize: quantizes .npy and model files, one output per input; writes a QuantizationResult per .npy file and a
/// ModelQuantizationSummary per model file (its tensors' results in its Tensors property, and with -Verbose one verbose
/// message per tensor; a warning when nothing was quantized). Parameters become a <see cref="QuantizeRequest"/>; the
/// core's <see cref="QuantizeJob"/> does the rest, each input handed to it as it arrives from the pipeline.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "Quantize", SupportsShouldProcess = true, DefaultParameterSetName = PathParametersSet)]
[OutputType(typeof(QuantizationResult), typeof(ModelQuantizationSummary))]
public sealed class InvokeQuantizeCommand : QuantizerInputCommand<QuantizationReport>
{
    /// <summary>What a model-file output holds: Fake (default), Int (integer codes with scales), Qdq (ONNX) or CompressedTensors (model folders).</summary>
    [Parameter]
    [Alias("Form")]
    public OutputFormat Format { get; set; } = QuantizeRequest.DefaultFormat;

    /// <summary>The output file; only for a single input. Default: x.q.npy beside x.npy.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OutputPath { get; set; }

    /// <summary>Folder for the outputs (created if missing); each output keeps its input's file name.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(FolderCompleter))]
    public string? OutputDirectory { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Flush each output to the disk before it is renamed into place, and its folder after (survives a power cut).</summary>
    [Parameter]
    public SwitchParameter Fsync { get; set; }

    [Parameter]
    public SwitchParameter AllowNonFinite { get; set; }

    /// <summary>Writes the applied quantizer (given or chosen) as a JSON quantizer file; needs one quantizer for all inputs.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(JsonFileCompleter))]
    public string? ExportQuantizer { get; set; }

    /// <summary>Shards of a model folder quantized at once (default 1: memory holds one shard's tensors in flight).</summary>
    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int MaxParallelism { get; set; } = QuantizeRequest.DefaultShardParallelism;

    /// <summary>For a model folder: only part K of N of its shards ('K/N'), into a staging folder beside -OutputPath; then -Finish.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Part { get; set; }

    /// <summary>For a model folder split with -Part: checks every part is done, writes index, config and other files, puts the output in place.</summary>
    [Parameter]
    public SwitchParameter Finish { get; set; }

    protected override InputJob<QuantizationReport> CreateJob()
    {
        var request = new QuantizeRequest
        {
            Quantizer = ReadQuantizerArguments(),
            Rules = Rules,
            Format = Format,
            OutputPath = ResolveOutputPath(OutputPath),
            OutputDirectory = ResolveOutputPath(OutputDirectory),
            Force = Force.IsPresent,
            Fsync = Fsync.IsPresent,
            AllowNonFinite = AllowNonFinite.IsPresent,
            ExportQuantizerPath = ResolveOutputPath(ExportQuantizer),
            // At most two files in flight per core: quantizing overlaps the upstream command (Get-ChildItem).
            MaxParallelism = Environment.ProcessorCount,
            ShardParallelism = MaxParallelism,
            Part = Part,
            Finish = Finish.IsPresent,
        };
        return new QuantizeJob(request, new CmdletHost<QuantizationReport>(this, progressId: 1, toOutput: WithVerboseTensors));
    }

    /// <summary>A model's summary goes out after one verbose message per tensor (shown with -Verbose).</summary>
    private object WithVerboseTensors(QuantizationReport report)
    {
        if (report is ModelQuantizationSummary summary)
            foreach (var tensor in summary.Tensors) WriteVerbose(Describe(tensor));
        return report;
    }

    /// <summary>"[conv1.weight] float32 (8, 3, 3, 3): Symmetric 8-bit per channel (axis 0), SQNR 38.21 dB" or "[shape] int64 (4): skipped (...)".</summary>
    private static string Describe(QuantizationResult tensor)
    {
        if (tensor.Activation) return $"[{tensor.TensorName}] activation: {tensor.Method} {tensor.NumBits}-bit ({tensor.Format})";
        string head = $"[{tensor.TensorName}] {tensor.DType} {tensor.ShapeText}";
        if (tensor.Skipped) return $"{head}: skipped ({tensor.SkipReason})";
        string channels = tensor.PerChannel == true ? $" per channel (axis {tensor.ChannelAxis})" : "";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{head}: {tensor.Method} {tensor.NumBits}-bit{channels}, SQNR {tensor.SqnrDb:F2} dB ({tensor.Format})");
    }
}
