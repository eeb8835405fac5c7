using QuantShell.Core.Rules;

namespace QuantShell.Core.Jobs.Quantize;

/// <summary>What Invoke-Quantize and <c>dotnet quant quantize</c> ask for.</summary>
public sealed record QuantizeRequest
{
    /// <summary>The quantizer as given (checked by the job into a <see cref="QuantizerRecipe"/>).</summary>
    public required QuantizerArguments Quantizer { get; init; }

    /// <summary>Which tensor of a model file gets which quantizer (instead of <see cref="Quantizer"/>).</summary>
    public QuantizationRules? Rules { get; init; }

    /// <summary>A rules file to read (instead of <see cref="Rules"/>).</summary>
    public string? RulesPath { get; init; }

    /// <summary>What a model-file output holds: fake-quantized values (default), integer codes (int), or ONNX QDQ.</summary>
    public OutputFormat Format { get; init; } = DefaultFormat;

    /// <summary>The output format when none is given: fake-quantized values.</summary>
    public const OutputFormat DefaultFormat = OutputFormat.Fake;

    /// <summary>The output file, for a single input. Default: <c>x.q.npy</c> beside <c>x.npy</c> (<c>m.q.safetensors</c>, <c>m.int.safetensors</c>).</summary>
    public string? OutputPath { get; init; }

    /// <summary>Writes the output of the single input to this stream instead of a file (the command line's <c>--output -</c>).</summary>
    public Stream? OutputStream { get; init; }

    /// <summary>The folder for the outputs (created if missing); each output keeps its input's file name.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Replace existing outputs (never the input).</summary>
    public bool Force { get; init; }

    /// <summary>Flush every output to the disk before it is renamed into place, and its folder after (survives a power cut).</summary>
    public bool Fsync { get; init; }

    /// <summary>Keep NaN and saturate ±infinity instead of failing on them.</summary>
    public bool AllowNonFinite { get; init; }

    /// <summary>Also write the quantizer applied (given or chosen) as a quantizer file; it must be one for all inputs.</summary>
    public string? ExportQuantizerPath { get; init; }

    /// <summary>Inputs worked on at once.</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Shards of a model folder worked on at once (default 1: memory holds one shard's tensors in flight).</summary>
    public int ShardParallelism { get; init; } = DefaultShardParallelism;

    /// <summary>One shard at a time: memory holds only the tensors of one shard in flight.</summary>
    public const int DefaultShardParallelism = 1;

    /// <summary>
    /// For a model folder: write only this part's share of the shards (<c>K/N</c>, see <see cref="SplitPart"/>) into a
    /// staging folder beside the output; <see cref="Finish"/> completes the run.
    /// </summary>
    public string? Part { get; init; }

    /// <summary>For a model folder split with <see cref="Part"/>: the final step (index, config, other files, the rename).</summary>
    public bool Finish { get; init; }

    /// <summary>Bytes read per step when streaming (tests use tiny chunks).</summary>
    public int ChunkBytes { get; init; } = 1 << 20;
}
