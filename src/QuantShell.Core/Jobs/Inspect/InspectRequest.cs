namespace QuantShell.Core.Jobs.Inspect;

/// <summary>What <c>dotnet quant inspect</c> and Get-QuantTensor ask for.</summary>
public sealed record InspectRequest
{
    /// <summary>
    /// Read every value for min, max, mean, std and non-finite counts; otherwise only the headers and indexes are read.
    /// Null: yes for an .npy file (one tensor), no for a model file (which can be large).
    /// </summary>
    public bool? Statistics { get; init; }

    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}
