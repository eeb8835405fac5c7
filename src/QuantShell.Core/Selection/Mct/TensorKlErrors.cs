using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's KL error of a tensor (<c>error_functions._kl_error_function</c>): +∞ when the range is empty, else the values'
/// 2048-bin histogram (<see cref="NumpyHistogram{T}"/>, made once per channel), its edges quantized uniformly over the
/// candidate's KL range (always the uniform grid over [min, max], even for a threshold), and <see cref="KlDivergence"/>
/// (through <see cref="MctKlHistogram"/>, which scores a candidate at the cost of the non-empty bins). The edges are in the
/// data's precision; they are quantized and compared in float32 for float32 data unless the range is a float64 array.
/// With <see cref="HistogramOfQuantized"/>, the histogram is made of the values quantized on the candidate's grid instead:
/// MCT's per-tensor power-of-two search hands the KL error the quantized tensor as its first argument.
/// </summary>
internal sealed class TensorKlErrors<T> : IMctErrors where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Bins = 2048;
    private readonly T[][] _channels;
    private readonly int _numBits;
    private readonly MctKlHistogram?[] _histograms;

    public TensorKlErrors(T[][] channels, int numBits, bool histogramOfQuantized)
    {
        _channels = channels;
        _numBits = numBits;
        HistogramOfQuantized = histogramOfQuantized;
        _histograms = new MctKlHistogram?[channels.Length];
    }

    public bool HistogramOfQuantized { get; }

    public int Channels => _channels.Length;

    /// <summary>
    /// The most channels whose prepared histograms (each ~56 KB: edges, counts and running counts of 2048 bins) are kept
    /// for the whole search; with more channels each set of candidates prepares its channel's histogram again (the same
    /// histogram, from the same values), so memory does not grow with the number of channels.
    /// </summary>
    internal const int KeptHistogramsUpTo = 256;

    public void Evaluate(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        MctKlHistogram? histogram = null;
        for (int i = 0; i < candidates.Length; i++)
        {
            if (candidates[i].KlMax <= candidates[i].KlMin) errors[i] = MctLoss.Infinity;
            else if (HistogramOfQuantized) errors[i] = Error(MctKlHistogram.Of(QuantizedHistogram(_channels[channel], candidates[i].Grid)), candidates[i]);
            else errors[i] = Error(histogram ??= Prepared(channel), candidates[i]);
        }
    }

    private MctKlHistogram Prepared(int channel)
    {
        MctKlHistogram Build() => MctKlHistogram.Of(NumpyHistogram<T>.Build(_channels[channel], Bins));
        return _histograms.Length > KeptHistogramsUpTo ? Build() : _histograms[channel] ??= Build();
    }

    private MctLoss Error(MctKlHistogram histogram, in MctCandidate candidate)
    {
        bool single = typeof(T) == typeof(float) && !(candidate.KlPrecision == ParameterPrecision.Double && candidate.KlArray);
        double min = single ? (float)candidate.KlMin : candidate.KlMin, max = single ? (float)candidate.KlMax : candidate.KlMax;
        var grid = MctGrid.FromRange(candidate.KlMin, candidate.KlMax, _numBits, candidate.KlPrecision, single);
        return histogram.Error(grid, min, max);
    }

    /// <summary>
    /// The histogram of <paramref name="values"/> quantized on <paramref name="grid"/> (each as the grid gives it, in
    /// float64, then in the data's type), quantized a chunk at a time into one pooled array.
    /// </summary>
    private static NumpyHistogram<T> QuantizedHistogram(T[] values, MctGrid grid)
    {
        var quantized = System.Buffers.ArrayPool<T>.Shared.Rent(values.Length);
        try
        {
            Span<double> chunk = stackalloc double[1024];
            for (int from = 0; from < values.Length; from += chunk.Length)
            {
                int length = Math.Min(chunk.Length, values.Length - from);
                grid.Quantize<T>(values.AsSpan(from, length), chunk[..length]);
                for (int i = 0; i < length; i++) quantized[from + i] = T.CreateTruncating(chunk[i]);
            }
            return NumpyHistogram<T>.Build(quantized.AsSpan(0, values.Length), Bins);
        }
        finally
        {
            System.Buffers.ArrayPool<T>.Shared.Return(quantized);
        }
    }
}
