using QuantShell.Core.Rules;

namespace QuantShell.Core.Jobs.NewQuantizer;

/// <summary>What New-InferableQuantizer and <c>dotnet quant new</c> ask for.</summary>
public sealed record NewQuantizerRequest
{
    /// <summary>The quantizer as given (checked by the job into a <see cref="QuantizerRecipe"/>).</summary>
    public required QuantizerArguments Quantizer { get; init; }

    /// <summary>Also write the quantizer file here.</summary>
    public string? OutputPath { get; init; }

    /// <summary>
    /// The values are to be chosen from data inputs (-FromPath / --from-path was given). When none is left to read (a
    /// face that resolves paths itself has reported each one that matched no file), there is nothing to choose from and
    /// nothing is built; without it, no inputs means the quantizer is built from its parameters.
    /// </summary>
    public bool FromData { get; init; }

    public bool Force { get; init; }

    /// <summary>Flush the quantizer file to the disk before it is renamed into place, and its folder after.</summary>
    public bool Fsync { get; init; }
}
