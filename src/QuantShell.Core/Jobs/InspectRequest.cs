namespace QuantShell.Core.Jobs;

/// <summary>What <c>dotnet quant inspect</c> and Get-QuantTensor ask for.</summary>
public sealed record InspectRequest
{
    /// <summary>Read every value for min, max, mean, std and non-finite counts (otherwise only the headers are read).</summary>
    public bool Statistics { get; init; } = true;

    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}
