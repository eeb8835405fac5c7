using QuantShell.Core.Formats.Onnx.Mct;

namespace QuantShell.Core.Jobs;

/// <summary>What <c>dotnet quant lower</c> and ConvertTo-StandardOnnx ask for.</summary>
public sealed record LowerRequest
{
    /// <summary>The output file, for a single input. Default: <c>model.lowered.onnx</c> beside <c>model.onnx</c>.</summary>
    public string? OutputPath { get; init; }

    /// <summary>What weight quantizers become (default: the fake-quantized weights).</summary>
    public WeightsForm Weights { get; init; } = WeightsForm.Fake;

    /// <summary>What activation quantizers become (default: the exact elementary ops).</summary>
    public ActivationsForm Activations { get; init; } = ActivationsForm.Exact;

    /// <summary>Replace existing outputs (never the input).</summary>
    public bool Force { get; init; }

    /// <summary>Models lowered at once (each is held in memory whole).</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}
