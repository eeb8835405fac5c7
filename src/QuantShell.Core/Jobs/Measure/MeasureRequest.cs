using QuantShell.Core.Plotting;
using QuantShell.Core.Rules;

namespace QuantShell.Core.Jobs.Measure;

/// <summary>What Measure-Quantization and <c>dotnet quant measure</c> ask for.</summary>
public sealed record MeasureRequest
{
    /// <summary>The quantizer as given (checked by the job into a <see cref="QuantizerRecipe"/>).</summary>
    public required QuantizerArguments Quantizer { get; init; }

    /// <summary>Which tensor of a model file gets which quantizer (instead of <see cref="Quantizer"/>).</summary>
    public QuantizationRules? Rules { get; init; }

    /// <summary>A rules file to read (instead of <see cref="Rules"/>).</summary>
    public string? RulesPath { get; init; }

    /// <summary>
    /// A plot of the values with the quantizer's levels and range, as .png or .svg by its extension (a single tensor only;
    /// see <see cref="QuantizationFigure"/>).
    /// </summary>
    public string? PlotPath { get; init; }

    /// <summary>What draws the <see cref="PlotPath"/> figure (the faces pass QuantShell.Plotting's); needed with a PlotPath.</summary>
    public IQuantizationPlotter? Plotter { get; init; }

    /// <summary>Replace an existing plot file.</summary>
    public bool Force { get; init; }

    /// <summary>Flush the plot file to the disk before it is renamed into place, and its folder after.</summary>
    public bool Fsync { get; init; }

    public int MaxParallelism { get; init; } = Environment.ProcessorCount;
}
