using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's squared errors (<see cref="TensorErrors{T}"/>) for a set of candidates, computed exactly only where it matters.
/// MCT's searches use a set's errors only through its least one: which candidate it is (the first of equals, as
/// <c>np.argmin</c> and the strict-improvement scans take it) and its value. So each candidate's error is first bounded
/// from the channel's <see cref="MomentHistogram"/> (built once, on the first set), every candidate whose lower bound
/// exceeds the least upper bound is out, and only the rest are computed exactly (one pass over the values, NumPy's
/// summation). A candidate that is out gets its lower bound as its error: above the least, so every comparison the
/// searches make comes out as with exact errors. Single candidates (a search's start) are always computed exactly.
/// </summary>
internal sealed class BoundedTensorErrors<T> : IBoundedMctErrors where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Bins of all channels' histograms together (48 bytes each): one per <see cref="ValuesPerBin"/> of the tensor's
    /// values, so at most a quarter of a float32 tensor's size, and at least <see cref="MinTotalBins"/> (25 MB) and at most
    /// <see cref="MaxTotalBins"/> (100 MB, for tensors of 96 Mi values and more). Finer bins leave fewer candidates to
    /// compute exactly: MCT's uniform search per channel of a 64 x 2^20 tensor computed 1,055 of its 40,960 candidates
    /// exactly with 2^19 bins in all, 682 with these 1.4 M and 656 with 2^21 (each search needs at least one: 640).
    /// </summary>
    public const int MinTotalBins = 1 << 19, MaxTotalBins = 1 << 21, ValuesPerBin = 48;

    /// <summary>The most and least bins one channel gets (<see cref="MomentHistogram"/> holds at most 2^16).</summary>
    public const int MaxBins = 1 << 16, MinBins = 1 << 10;

    private readonly T[][] _channels;
    private readonly TensorErrors<T> _exact;
    private readonly bool _perChannel, _sequentialRows;
    private readonly int _boundedFrom, _bins;
    private readonly Lazy<MomentHistogram?>[] _histograms;

    /// <param name="channels">Each channel's values (one for per tensor), all finite.</param>
    /// <param name="exact">The exact errors of the same channels.</param>
    /// <param name="perChannel">Per channel: float32 means are taken per row.</param>
    /// <param name="sequentialRows">Whether NumPy sums each row one value after the other.</param>
    /// <param name="boundedFrom">Channels with fewer values are always computed exactly.</param>
    /// <param name="binChannels">The tensor's channel count when the channels are a block of it (bins are shared out by it).</param>
    /// <param name="extremes">Each channel's least and greatest value, when the caller has them (the histograms' ranges).</param>
    public BoundedTensorErrors(T[][] channels, TensorErrors<T> exact, bool perChannel, bool sequentialRows, int boundedFrom, int? binChannels = null,
                               ChannelExtremes<T>? extremes = null)
    {
        _channels = channels;
        _exact = exact;
        _perChannel = perChannel;
        _sequentialRows = perChannel && sequentialRows;
        _boundedFrom = boundedFrom;
        _bins = BinsPerChannel(channels.Length == 0 ? 0 : channels.Max(c => c.Length), binChannels ?? channels.Length);
        _histograms = channels.Select((values, c) => new Lazy<MomentHistogram?>(
            () => MomentHistogram.Build(values, _bins, parallel: !perChannel,
                                        extremes is null ? null : (double.CreateTruncating(extremes.Mins[c]), double.CreateTruncating(extremes.Maxs[c]))))).ToArray();
    }

    public int Channels => _channels.Length;

    /// <summary>
    /// The bins each channel's histogram gets when the tensor has <paramref name="channels"/> channels of up to
    /// <paramref name="channelLength"/> values: the total (<see cref="ValuesPerBin"/>, within <see cref="MinTotalBins"/>
    /// and <see cref="MaxTotalBins"/>) shared out, within <see cref="MinBins"/> and <see cref="MaxBins"/>.
    /// </summary>
    public static int BinsPerChannel(long channelLength, int channels)
    {
        channels = Math.Max(1, channels);
        long total = Math.Clamp(channelLength * channels / ValuesPerBin, MinTotalBins, MaxTotalBins);
        return (int)Math.Clamp(total / channels, MinBins, MaxBins);
    }

    /// <summary>How many candidates were computed exactly, and how many were decided by their bounds (for tests).</summary>
    public long ExactCount => Interlocked.Read(ref _exactCount);

    public long BoundedCount => Interlocked.Read(ref _boundedCount);

    private long _exactCount, _boundedCount;

    public void Evaluate(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        var values = _channels[channel];
        var histogram = candidates.Length > 1 && Intervals(channel) ? _histograms[channel].Value : null;
        if (histogram is null)
        {
            EvaluateExact(channel, candidates, errors);
            return;
        }
        int count = candidates.Length;
        var lows = new double[count];
        var highs = new double[count];
        double leastHigh = Bound(histogram, values.Length, candidates, lows, highs);
        var open = new List<int>();
        for (int i = 0; i < count; i++)
            if (!(lows[i] > leastHigh)) open.Add(i);
        var subset = new MctCandidate[open.Count];
        for (int k = 0; k < subset.Length; k++) subset[k] = candidates[open[k]];
        var exact = new MctLoss[subset.Length];
        EvaluateExact(channel, subset, exact);
        for (int i = 0; i < count; i++) errors[i] = new MctLoss(lows[i], candidates[i].Grid.Single);
        for (int k = 0; k < subset.Length; k++) errors[open[k]] = exact[k];
        Interlocked.Add(ref _boundedCount, count - subset.Length);
    }

    /// <summary>How many passes over the values the exact errors took (one a set, whatever its size; for tests).</summary>
    public long PassCount => Interlocked.Read(ref _passCount);

    private long _passCount;

    public bool Bounds(int channel) =>
        Intervals(channel) && _histograms[channel].Value is not null;

    private bool Intervals(int channel) => _channels[channel].Length >= _boundedFrom;

    public double Bound(int channel, ReadOnlySpan<MctCandidate> candidates, double[] lows, double[] highs)
    {
        var histogram = Intervals(channel) ? _histograms[channel].Value : null;
        if (histogram is null)
        {
            lows.AsSpan(0, candidates.Length).Fill(double.NegativeInfinity);
            highs.AsSpan(0, candidates.Length).Fill(double.PositiveInfinity);
            return double.PositiveInfinity;
        }
        return Bound(histogram, _channels[channel].Length, candidates, lows, highs);
    }

    private double Bound(MomentHistogram histogram, int n, ReadOnlySpan<MctCandidate> candidates, double[] lows, double[] highs)
    {
        var grids = new MctGrid[candidates.Length];
        for (int i = 0; i < grids.Length; i++) grids[i] = candidates[i].Grid;
        return MomentHistogram.BoundAll(grids.Length, (int i, double cap, out double low, out double high) =>
            TryBound(histogram, grids[i], n, cap, out low, out high), double.PositiveInfinity, lows, highs);
    }

    public void EvaluateExact(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        if (candidates.Length == 0) return;
        _exact.Evaluate(channel, candidates, errors);
        Interlocked.Add(ref _exactCount, candidates.Length);
        Interlocked.Increment(ref _passCount);
    }

    /// <summary>Bounds of the error <see cref="TensorErrors{T}"/> would return for <paramref name="grid"/>, as the float it is held in.</summary>
    private bool TryBound(MomentHistogram histogram, in MctGrid grid, int n, double cap, out double low, out double high)
    {
        low = double.NegativeInfinity;
        high = double.PositiveInfinity;
        bool single = grid.Single;
        if (single && typeof(T) != typeof(float)) return false;
        if (MomentHistogram.SumBounds(n, single, _sequentialRows) is not { } gamma) return false;
        if (!histogram.TrySquaredErrorSum(grid, cap * n / (1 - gamma), out double sumLow, out double sumHigh)) return false;
        sumLow *= 1 - gamma;
        sumHigh *= 1 + gamma;
        // (A grid found above the cap has only its low bound, and high +∞.)
        if (single && (double.IsFinite(sumHigh) ? sumHigh : sumLow) > float.MaxValue / 4) return false;
        // The means as TensorErrors takes them; each step is monotone, so the bounds' means bound the mean.
        if (!single)
        {
            low = sumLow / n;
            high = sumHigh / n;
        }
        else if (!_perChannel)
        {
            low = (float)((double)(float)sumLow / n);
            high = (float)((double)(float)sumHigh / n);
        }
        else
        {
            low = (float)sumLow / n;
            high = (float)sumHigh / n;
        }
        return true;
    }
}
