using QuantShell.Core.Kernels;

namespace QuantShell.Core.Quantization;

/// <summary>
/// The three look-up-table quantizers of MCT (weights LUT symmetric and LUT POT, activation LUT POT): a value is scaled
/// by its threshold into the LUT's integer range and replaced by the nearest entry of one table shared by every
/// channel (docs/semantics.md, "Look-up-table quantizers"). One threshold per tensor, or per channel for weights.
/// </summary>
public abstract class LutQuantizer : InferableQuantizer
{
    private protected LutQuantizer(QuantizerSpec spec) : base(spec)
    {
        Table = LutLevels.For(spec);
    }

    /// <summary>The table as sorted distinct entries, with the LUT's scale k = 2^(B - signed) and clamp range.</summary>
    public LutLevels Table { get; }

    /// <summary>The table as given (any order, duplicates kept: the first listing wins a tie).</summary>
    public IReadOnlyList<double> LutValues => Spec.LutValues!;

    public int LutValuesBitwidth => Spec.EffectiveLutValuesBitwidth;

    public double Eps => Spec.EffectiveEps;

    public override QuantizationPlan CreatePlan(IReadOnlyList<long> shape) => LutPlan.Create(Spec, Table, shape);
}
