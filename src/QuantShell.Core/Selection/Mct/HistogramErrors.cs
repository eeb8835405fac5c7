namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's histogram errors for activations (<c>error_functions._mse_error_histogram</c>, <c>_mae_error_histogram</c>,
/// <c>_lp_error_histogram</c>, and <c>_kl_error_histogram</c>): each of the 2048 bins is represented by its left edge,
/// quantized on the candidate's grid (float64), and the error is Σ f(q - e)·count / Σ count with f = <c>pow(d, 2.0)</c>,
/// |d| or <c>pow(|d|, p)</c>; KL is <see cref="KlDivergence"/> over the candidate's KL range.
/// </summary>
internal sealed class HistogramErrors : IMctErrors
{
    private readonly double[] _edges;
    private readonly double[] _counts;
    private readonly ErrorMethod _method;
    private readonly double _p;
    private readonly double _total;

    public HistogramErrors(double[] edges, double[] counts, ErrorMethod method, double p)
    {
        _edges = edges;
        _counts = counts;
        _method = method;
        _p = p;
        _total = NumpySum.Sum(counts);
    }

    public int Channels => 1;

    public void Evaluate(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        var quantized = new double[_edges.Length];
        var terms = new double[_counts.Length];
        for (int c = 0; c < candidates.Length; c++)
        {
            var candidate = candidates[c];
            candidate.Grid.Quantize<double>(_edges, quantized);
            if (_method == ErrorMethod.Kl)
            {
                errors[c] = KlDivergence.Error(quantized, _edges, _counts, candidate.KlMin, candidate.KlMax, wholeCounts: false);
                continue;
            }
            for (int i = 0; i < terms.Length; i++)
            {
                double d = quantized[i] - _edges[i];
                terms[i] = _method switch
                {
                    ErrorMethod.Mse => Math.Pow(d, 2.0),
                    ErrorMethod.Mae => Math.Abs(d),
                    _ => Math.Pow(Math.Abs(d), _p),
                } * _counts[i];
            }
            errors[c] = new MctLoss(NumpySum.Sum(terms) / _total, false);
        }
    }
}
