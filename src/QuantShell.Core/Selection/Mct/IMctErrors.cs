namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// An error MCT scores a candidate with, as NumPy computed it: its value and whether NumPy held it in float32 (the
/// searches subtract and compare errors, and a float32 difference is rounded as float32).
/// </summary>
internal readonly record struct MctLoss(double Value, bool Single)
{
    public static MctLoss Infinity => new(double.PositiveInfinity, false);
}

/// <summary>
/// One candidate of MCT's searches: the grid the data is quantized on, and for KL the range
/// <c>[KlMin, KlMax]</c> the divergence is measured over (with the precision NumPy holds it in: a float32 or float64
/// array, or a scalar, decides how MCT's KL code quantizes and compares the histogram's edges).
/// </summary>
internal readonly record struct MctCandidate(MctGrid Grid, double KlMin, double KlMax, ParameterPrecision KlPrecision, bool KlArray);

/// <summary>
/// The errors of a set of candidates on one channel's data (per tensor: channel 0; activations: the histogram). Every
/// search asks for a whole set at once, so an implementation may score the set in one pass over the data.
/// </summary>
internal interface IMctErrors
{
    int Channels { get; }

    void Evaluate(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors);
}

/// <summary>
/// Errors that can be bounded without computing them (<see cref="BoundedTensorErrors{T}"/>), and computed exactly for any
/// set of candidates in one pass: so a search may decide what the bounds decide and compute the rest later, together.
/// </summary>
internal interface IBoundedMctErrors : IMctErrors
{
    /// <summary>Whether this channel's sets are bounded (its histogram is built here, if it is not yet).</summary>
    bool Bounds(int channel);

    /// <summary>
    /// Each candidate's bounds (<c>[lows[i], highs[i]]</c> holds the error <see cref="IMctErrors.Evaluate"/> computes
    /// exactly; a candidate found above the least high may have high +∞); returns the least high.
    /// </summary>
    double Bound(int channel, ReadOnlySpan<MctCandidate> candidates, double[] lows, double[] highs);

    /// <summary>Every candidate's exact error, in one pass over the channel's values; each as it would be alone.</summary>
    void EvaluateExact(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors);
}
