using QuantShell.Core.Formats.Onnx.Mct;

namespace QuantShell.Core.Jobs.Lower;

/// <summary>What <c>dotnet quant lower</c> and ConvertTo-StandardOnnx ask for.</summary>
public sealed record LowerRequest
{
    /// <summary>The weights form when none is given: the fake-quantized weights, which every runtime runs as they are.</summary>
    public const WeightsForm DefaultWeights = WeightsForm.Fake;

    /// <summary>The activations form when none is given: the elementary ops that reproduce PyTorch bit for bit.</summary>
    public const ActivationsForm DefaultActivations = ActivationsForm.Exact;

    /// <summary>The output file, for a single input. Default: <c>model.lowered.onnx</c> beside <c>model.onnx</c>.</summary>
    public string? OutputPath { get; init; }

    /// <summary>What weight quantizers become; null means <see cref="DefaultWeights"/>.</summary>
    public WeightsForm? Weights { get; init; }

    /// <summary>What activation quantizers become; null means <see cref="DefaultActivations"/>.</summary>
    public ActivationsForm? Activations { get; init; }

    /// <summary>Replace existing outputs (never the input).</summary>
    public bool Force { get; init; }

    /// <summary>Flush each output to disk before it is renamed into place (see <see cref="IO.WriteOptions.Fsync"/>).</summary>
    public bool Fsync { get; init; }

    /// <summary>Models lowered at once (each is held in memory whole).</summary>
    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}
