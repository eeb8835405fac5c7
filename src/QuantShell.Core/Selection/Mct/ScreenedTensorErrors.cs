namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's float64 errors of float32 values (<see cref="TensorErrors{T}"/> with float64 grids: its per-channel symmetric
/// and uniform searches on a float32 tensor) for a set of candidates, computed exactly only for those that can be the
/// set's least. Each candidate's error is first bounded from the same arithmetic in float32 (<see cref="GridErrorBounds"/>,
/// about three times the float64 kernel's speed; a candidate whose terms so far already put it above the least upper
/// bound is left part way, <see cref="GridErrorBounds.TryBoundLeast"/>); every candidate whose lower bound exceeds the least upper bound is out, and
/// only the rest are computed exactly (one pass, NumPy's summation). An out candidate gets its lower bound as its error,
/// as with <see cref="BoundedTensorErrors{T}"/>: above the least, so every comparison the searches make comes out as with
/// exact errors, and the least is exact (so are all its equals: their bounds hold it too). In MCT's per-channel searches
/// on models' weights one or two of 30 candidates stay open. Sets of one, float32 grids, other error methods and grids
/// whose bounds would be too wide go to the exact errors as they are.
/// </summary>
internal sealed class ScreenedTensorErrors : IMctErrors
{
    private readonly TensorErrors<float> _exact;
    private readonly bool _absolute;

    public ScreenedTensorErrors(TensorErrors<float> exact)
    {
        _exact = exact;
        _absolute = exact.Method == ErrorMethod.Mae;
    }

    /// <summary>Whether these errors can be screened: squared or absolute errors (the kernel's).</summary>
    public static bool Handles(ErrorMethod method) => GridErrorSums.Handles(method);

    public int Channels => _exact.Channels;

    /// <summary>
    /// Channels of fewer values are computed exactly as they are (a grid a lane): bounding saves nothing there (PaddleOCR's
    /// recognizer, whose depthwise channels hold 9 and 25 values, took as long either way).
    /// </summary>
    public const int ScreenedFrom = 64;

    /// <summary>Candidates computed exactly, and decided by their bounds alone (for tests).</summary>
    public long ExactCount => Interlocked.Read(ref _exactCount);

    public long ScreenedCount => Interlocked.Read(ref _screenedCount);

    /// <summary>Of those screened out, how many were left part way through their values (for tests).</summary>
    public long CutCount => Interlocked.Read(ref _cutCount);

    private long _exactCount, _screenedCount, _cutCount;

    /// <summary>While set, every set is computed exactly (for tests comparing the two; flows into the searches' parallel loops).</summary>
    internal static bool Disabled
    {
        get => _disabled.Value;
        set => _disabled.Value = value;
    }

    private static readonly AsyncLocal<bool> _disabled = new();

    public void Evaluate(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        int count = candidates.Length;
        if (count < 2 || Disabled || _exact.Values(channel).Length < ScreenedFrom || !GridErrorBounds.Useful(candidates[0].Grid))
        {
            Exact(channel, candidates, errors);
            return;
        }
        var values = _exact.Values(channel);
        bool small = count <= 256;
        Span<double> lows = small ? stackalloc double[count] : new double[count];
        Span<double> highs = small ? stackalloc double[count] : new double[count];
        if (!GridErrorBounds.TryBoundLeast(values, candidates, _absolute, lows, highs, out int cut))
        {
            Exact(channel, candidates, errors);
            return;
        }
        Interlocked.Add(ref _cutCount, cut);
        double leastHigh = double.PositiveInfinity;
        foreach (double high in highs) leastHigh = Math.Min(leastHigh, high);
        Span<int> open = small ? stackalloc int[count] : new int[count];
        int opened = 0;
        for (int i = 0; i < count; i++)
            if (!(lows[i] > leastHigh)) open[opened++] = i;
        Span<MctCandidate> subset = small ? stackalloc MctCandidate[opened] : new MctCandidate[opened];
        for (int k = 0; k < opened; k++) subset[k] = candidates[open[k]];
        Span<MctLoss> exact = small ? stackalloc MctLoss[opened] : new MctLoss[opened];
        Exact(channel, subset, exact);
        for (int i = 0; i < count; i++) errors[i] = new MctLoss(lows[i], false);
        for (int k = 0; k < opened; k++) errors[open[k]] = exact[k];
        Interlocked.Add(ref _screenedCount, count - opened);
    }

    private void Exact(int channel, ReadOnlySpan<MctCandidate> candidates, Span<MctLoss> errors)
    {
        _exact.Evaluate(channel, candidates, errors);
        Interlocked.Add(ref _exactCount, candidates.Length);
    }
}
