using System.Buffers;
using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's tensor errors (<c>similarity_analyzer.compute_mse</c>, <c>compute_mae</c>, <c>compute_lp_norm</c> without
/// normalisation): the mean of (x - q)², |x - q| or |x - q|^p over one channel's values (or the whole tensor). A grid that
/// quantizes in float32 gives a float32 error (NumPy's float32 mean: the float32 sum divided by the count in float64 for a
/// whole array, in float32 for each row of a per-channel array); otherwise the error is float64. Powers as NumPy's
/// <c>**</c> takes them: squares for p = 2, |d| for p = 1, √|d| for p = ½, else <c>pow</c> in the values' precision.
/// The order of each channel's sum follows NumPy's layout of MCT's channels-by-values matrix: pairwise along rows that
/// are contiguous in memory, one value after the other where the matrix is a strided view (<see cref="SequentialRows"/>).
/// </summary>
internal sealed class TensorErrors<T> : IMctErrors where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[][] _channels;
    private readonly ErrorMethod _method;
    private readonly double _p;
    private readonly bool _perChannel;
    private readonly bool _sequentialRows;

    public TensorErrors(T[][] channels, ErrorMethod method, double p, bool perChannel, bool sequentialRows = false)
    {
        _channels = channels;
        _method = method == ErrorMethod.Lp && p == 2 ? ErrorMethod.Mse : method == ErrorMethod.Lp && p == 1 ? ErrorMethod.Mae : method;
        _p = p;
        _perChannel = perChannel;
        _sequentialRows = perChannel && sequentialRows;
    }

    /// <summary>
    /// Whether MCT's per-channel matrix (<c>reshape_tensor_for_per_channel_search</c>: the channel axis moved first, the
    /// rest flattened) is a strided view of the tensor rather than a C-ordered array: so when the channel axis is the last
    /// one that is not of length 1. NumPy then reduces each row value after value (its inner loop runs across channels)
    /// instead of pairwise. Elsewhere the reshape copies (or the axis is first) and rows are contiguous.
    /// </summary>
    public static bool SequentialRows(IReadOnlyList<long> shape, int axis)
    {
        if (shape[axis] == 1) return false;
        bool before = false, after = false;
        for (int i = 0; i < shape.Count; i++)
        {
            if (i == axis || shape[i] == 1) continue;
            if (i < axis) before = true;
            else after = true;
        }
        return before && !after;
    }

    public int Channels => _channels.Length;

    /// <summary>The error as computed: Lp with p = 2 is MSE, with p = 1 MAE.</summary>
    public ErrorMethod Method => _method;

    /// <summary>Each channel's values.</summary>
    public T[] Values(int channel) => _channels[channel];

    public void Evaluate(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        var values = _channels[channel];
        bool anySingle = false;
        foreach (var candidate in candidates) anySingle |= candidate.Grid.Single;
        if (!GridErrorSums.Handles(_method) || (anySingle && typeof(T) != typeof(float)))
        {
            for (int i = 0; i < candidates.Length; i++)
                errors[i] = candidates[i].Grid.Single ? ErrorSingle(values, candidates[i].Grid) : ErrorDouble(values, candidates[i].Grid);
            return;
        }
        // All of a set's candidates in one pass over the values (a per-tensor set's blocks spread over the cores; per
        // channel the channels are).
        bool absolute = _method == ErrorMethod.Mae, parallel = !_perChannel;
        // Small sets (a channel's 64 candidates) on the stack; a per-tensor set of many candidates on the heap.
        int count = candidates.Length, singles = 0, wides = 0;
        bool small = count <= 256;
        Span<int> single = small ? stackalloc int[count] : new int[count];
        Span<int> wide = small ? stackalloc int[count] : new int[count];
        for (int i = 0; i < count; i++)
        {
            if (candidates[i].Grid.Single) single[singles++] = i;
            else wide[wides++] = i;
        }
        if (singles > 0)
        {
            Span<MctGrid> grids = small ? stackalloc MctGrid[singles] : new MctGrid[singles];
            for (int k = 0; k < singles; k++) grids[k] = candidates[single[k]].Grid;
            Span<float> sums = small ? stackalloc float[singles] : new float[singles];
            GridErrorSums.SumSingle((float[])(object)values, grids, absolute, _sequentialRows, parallel, sums);
            for (int k = 0; k < singles; k++)
            {
                float mean = !_perChannel ? (float)((double)sums[k] / values.Length) : sums[k] / values.Length;
                errors[single[k]] = new MctLoss(mean, true);
            }
        }
        if (wides > 0)
        {
            Span<MctGrid> grids = small ? stackalloc MctGrid[wides] : new MctGrid[wides];
            for (int k = 0; k < wides; k++) grids[k] = candidates[wide[k]].Grid;
            Span<double> sums = small ? stackalloc double[wides] : new double[wides];
            GridErrorSums.SumDouble<T>(values, grids, absolute, _sequentialRows, parallel, sums);
            for (int k = 0; k < wides; k++) errors[wide[k]] = new MctLoss(sums[k] / values.Length, false);
        }
    }

    private MctLoss ErrorSingle(T[] values, MctGrid grid)
    {
        var buffer = ArrayPool<float>.Shared.Rent(values.Length);
        try
        {
            var terms = buffer.AsSpan(0, values.Length);
            float p = (float)_p;
            for (int i = 0; i < values.Length; i++)
            {
                float x = float.CreateTruncating(values[i]);
                float d = x - grid.Quantize(x);
                terms[i] = _method switch
                {
                    ErrorMethod.Mse => d * d,
                    ErrorMethod.Mae => MathF.Abs(d),
                    _ => _p == 0.5 ? MathF.Sqrt(MathF.Abs(d)) : MathF.Pow(MathF.Abs(d), p),
                };
            }
            float mean = !_perChannel ? NumpySum.MeanOfArray(terms) : _sequentialRows ? SequentialSum(terms) / terms.Length : NumpySum.MeanOfRow(terms);
            return new MctLoss(mean, true);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    private static float SequentialSum(ReadOnlySpan<float> terms)
    {
        float sum = 0;
        foreach (float term in terms) sum += term;
        return sum;
    }

    private static double SequentialSum(ReadOnlySpan<double> terms)
    {
        double sum = 0;
        foreach (double term in terms) sum += term;
        return sum;
    }

    private MctLoss ErrorDouble(T[] values, MctGrid grid)
    {
        var buffer = ArrayPool<double>.Shared.Rent(values.Length);
        try
        {
            var terms = buffer.AsSpan(0, values.Length);
            for (int i = 0; i < values.Length; i++)
            {
                double x = double.CreateTruncating(values[i]);
                double d = x - grid.Quantize(x);
                terms[i] = _method switch
                {
                    ErrorMethod.Mse => d * d,
                    ErrorMethod.Mae => Math.Abs(d),
                    _ => _p == 0.5 ? Math.Sqrt(Math.Abs(d)) : Math.Pow(Math.Abs(d), _p),
                };
            }
            return new MctLoss(_sequentialRows ? SequentialSum(terms) / terms.Length : NumpySum.Mean(terms), false);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(buffer);
        }
    }
}
