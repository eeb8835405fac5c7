namespace QuantShell.Core.Jobs.Dequantize;

/// <summary>What Invoke-Dequantize and <c>dotnet quant dequantize</c> ask for: int outputs turned back into fake ones.</summary>
public sealed record DequantizeRequest
{
    /// <summary>The output file, for a single input. Default: <c>m.int.pt</c> → <c>m.q.pt</c> beside it.</summary>
    public string? OutputPath { get; init; }

    /// <summary>The folder for the outputs (created if missing); each output keeps its input's file name.</summary>
    public string? OutputDirectory { get; init; }

    public bool Force { get; init; }

    /// <summary>Flush each output to disk before it is renamed into place (see <see cref="IO.WriteOptions.Fsync"/>).</summary>
    public bool Fsync { get; init; }

    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}
