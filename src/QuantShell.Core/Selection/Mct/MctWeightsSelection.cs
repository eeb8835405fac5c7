using System.Numerics;

namespace QuantShell.Core.Selection.Mct;

/// <summary>
/// MCT's choice of weights thresholds and ranges (<c>power_of_two_selection_tensor</c>, <c>symmetric_selection_tensor</c>,
/// <c>uniform_selection_tensor</c> with the default QuantizationConfig), per tensor or per channel, on float32 (or
/// float64) values in their precision. Each channel's values are in the order MCT sees them (C order of the other axes).
/// Every rule is in docs/selection.md.
/// </summary>
internal static class MctWeightsSelection
{
    /// <summary>MCT's MIN_THRESHOLD, 2^-16: the smallest threshold it chooses.</summary>
    public const double MinThreshold = 1.0 / 65536;

    /// <summary>The bit width of the grid MCT's KL error quantizes a histogram's edges on for uniform weights, whatever the quantizer's.</summary>
    public const int UniformKlBits = 8;

    /// <summary>MCT's iterations of the power-of-two search for weights (halvings from twice the no-clipping threshold).</summary>
    public const int PotCandidates = 10;

    public static double[] PotThresholds<T>(T[][] channels, int numBits, bool signed, bool perChannel, ErrorMethod method, double p, bool sequentialRows = false,
                                            int boundedFrom = DefaultBoundedFrom)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        var precision = perChannel && single ? ParameterPrecision.SingleArray : ParameterPrecision.Double;
        var extremes = ChannelExtremes<T>.Of(channels);
        var noClipping = PotNoClipping(extremes.Mins, extremes.Maxs, numBits, perChannel);
        if (method == ErrorMethod.NoClipping) return noClipping;

        // One set of candidates, scored in one pass: bounding them first would cost a pass of its own.
        var errors = Errors(channels, method, p, numBits, perChannel, histogramOfQuantized: !perChannel, sequentialRows, int.MaxValue);
        var result = new double[channels.Length];
        Parallel.For(0, channels.Length, c =>
        {
            // Per channel the thresholds are float32 arrays: twice the power of two, halved in float32.
            double first = precision == ParameterPrecision.SingleArray ? (float)(2 * (float)noClipping[c]) : 2 * noClipping[c];
            var candidates = new MctCandidate[PotCandidates];
            for (int i = 0; i < PotCandidates; i++)
            {
                double t = precision == ParameterPrecision.SingleArray ? (float)first / MathF.ScaleB(1f, i) : first / Math.ScaleB(1.0, i);
                candidates[i] = new MctCandidate(MctGrid.FromThreshold(t, numBits, signed, precision, single), signed ? -t : 0, t, precision, perChannel);
            }
            var losses = new MctLoss[PotCandidates];
            errors.Evaluate(c, candidates, losses);
            int best = MctLosses.ArgMin(losses);
            result[c] = NumpyMaximum(first / Math.ScaleB(1.0, best), MinThreshold);
        });
        return result;
    }

    /// <summary>
    /// With a record (per channel), the channels are a block of a tensor's, searched with every iteration kept
    /// (<see cref="SearchRecord{TParam}"/>), and binChannels is the tensor's channel count (the histograms' bins are shared out by it).
    /// </summary>
    public static double[] SymmetricThresholds<T>(T[][] channels, int numBits, bool signed, bool perChannel, ErrorMethod method, double p, bool sequentialRows = false,
                                            int boundedFrom = DefaultBoundedFrom, SearchRecord<double>? record = null, int? binChannels = null,
                                            ChannelExtremes<T>? extremes = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        var precision = perChannel && single ? ParameterPrecision.SingleArray : ParameterPrecision.Double;
        extremes ??= ChannelExtremes<T>.Of(channels);
        var start = SymmetricNoClipping(extremes.Mins, extremes.Maxs, numBits, perChannel);
        if (method == ErrorMethod.NoClipping) return start;

        var errors = Errors(channels, method, p, numBits, perChannel, histogramOfQuantized: false, sequentialRows, boundedFrom, binChannels, extremes);
        var search = new SymmetricIntervalSearch
        {
            Iterations = perChannel ? 15 : 40,
            DecreaseEvery = perChannel ? 3 : 5,
            PerChannel = perChannel,
        };
        var best = search.Run(errors, start, precision, (double t, ParameterPrecision prec, out MctCandidate candidate) => candidate = new MctCandidate(
            MctGrid.FromThreshold(t, numBits, signed, prec, single && (!perChannel || prec != ParameterPrecision.Double)),
            signed ? -t : 0, t, prec, perChannel), record);
        return SymmetricResult(best, perChannel);
    }

    /// <summary>The search's thresholds raised to MCT's MIN_THRESHOLD, as its symmetric selection returns them.</summary>
    public static double[] SymmetricResult(double[] best, bool perChannel) =>
        best.Select(t => perChannel ? NumpyMaximum(MinThreshold, t) : PythonMax(MinThreshold, t)).ToArray();

    /// <summary>
    /// With a record (per channel), the channels are a block of a tensor's, searched with every iteration kept
    /// (<see cref="SearchRecord{TParam}"/>), and binChannels is the tensor's channel count (the histograms' bins are shared out by it).
    /// </summary>
    public static (double Min, double Max)[] UniformRanges<T>(T[][] channels, int numBits, bool perChannel, ErrorMethod method, double p, bool sequentialRows = false,
                                                              int boundedFrom = DefaultBoundedFrom, SearchRecord<(double Min, double Max)>? record = null,
                                                              int? binChannels = null, ChannelExtremes<T>? extremes = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool single = typeof(T) == typeof(float);
        var precision = perChannel && single ? ParameterPrecision.SingleArray : ParameterPrecision.Double;
        extremes ??= ChannelExtremes<T>.Of(channels);
        var start = UniformStart(extremes.Mins, extremes.Maxs, numBits, perChannel);
        if (method == ErrorMethod.NoClipping) return UniformNoClipping(start, perChannel);

        // MCT builds the uniform error function without the bit width: its KL grid is always 8 bits.
        var errors = Errors(channels, method, p, method == ErrorMethod.Kl ? UniformKlBits : numBits, perChannel, histogramOfQuantized: false, sequentialRows, boundedFrom,
                            binChannels, extremes);
        var search = new UniformRangeSearch { Factors = 8, Iterations = perChannel ? 10 : 30, PerChannel = perChannel };
        var best = search.Run(errors, start, precision, (double min, double max, ParameterPrecision prec, out MctCandidate candidate) => candidate = new MctCandidate(
            MctGrid.FromRange(min, max, numBits, prec, single && (!perChannel || prec != ParameterPrecision.Double)),
            min, max, prec == ParameterPrecision.SingleArray ? ParameterPrecision.SingleScalar : prec, false), record);
        return UniformResult(best);
    }

    /// <summary>The no-clipping POT thresholds from each channel's minimum and maximum: the power of two at or above get_tensor_max's value.</summary>
    public static double[] PotNoClipping<T>(T[] mins, T[] maxs, int numBits, bool perChannel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var precision = perChannel && typeof(T) == typeof(float) ? ParameterPrecision.SingleArray : ParameterPrecision.Double;
        return MaxPowerOfTwo(NoClippingMaxima(mins, maxs, numBits, perChannel, uniform: false), precision);
    }

    /// <summary>The no-clipping symmetric thresholds (the search's start) from each channel's minimum and maximum.</summary>
    public static double[] SymmetricNoClipping<T>(T[] mins, T[] maxs, int numBits, bool perChannel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var maxima = NoClippingMaxima(mins, maxs, numBits, perChannel, uniform: false);
        // get_init_threshold: Python's max(MIN_THRESHOLD, t) per tensor; per channel values below it are raised to it.
        return maxima.Select(t => perChannel ? (t < MinThreshold ? MinThreshold : t) : PythonMax(MinThreshold, t)).ToArray();
    }

    /// <summary>The uniform search's start from each channel's minimum and maximum: (min, max|x|).</summary>
    private static (double Min, double Max)[] UniformStart<T>(T[] mins, T[] maxs, int numBits, bool perChannel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // MCT's no-clipping range for weights is (min, max|x|): its maximum is get_tensor_max's, expansion factor 1.
        var maxima = NoClippingMaxima(mins, maxs, numBits, perChannel, uniform: true);
        var start = new (double Min, double Max)[mins.Length];
        for (int c = 0; c < mins.Length; c++) start[c] = (double.CreateTruncating(mins[c]), maxima[c]);
        return start;
    }

    /// <summary>The no-clipping uniform ranges from each channel's minimum and maximum.</summary>
    public static (double Min, double Max)[] UniformNoClipping<T>(T[] mins, T[] maxs, int numBits, bool perChannel) where T : unmanaged, IFloatingPointIeee754<T> =>
        UniformNoClipping(UniformStart(mins, maxs, numBits, perChannel), perChannel);

    private static (double Min, double Max)[] UniformNoClipping((double Min, double Max)[] start, bool perChannel)
    {
        if (perChannel) return start.Select(ZeroWhenEqual).ToArray();
        // Per tensor MCT moves a positive minimum (or negative maximum) to 0 whether or not they are equal.
        var (min, max) = start[0];
        return [(min > 0 ? 0 : min, max < 0 ? 0 : max)];
    }

    /// <summary>The search's ranges as MCT's uniform selection returns them.</summary>
    public static (double Min, double Max)[] UniformResult((double Min, double Max)[] best) => best.Select(ZeroWhenEqual).ToArray();

    /// <summary>A range whose ends are equal gets 0 as its minimum (when positive) or maximum (when negative).</summary>
    private static (double Min, double Max) ZeroWhenEqual((double Min, double Max) range) =>
        range.Min == range.Max ? (range.Min > 0 ? 0 : range.Min, range.Max < 0 ? 0 : range.Max) : range;

    /// <summary>
    /// get_tensor_max: max(-min, max·f) with f = 2^(n-1)/(2^(n-1) - 1) (0 for one bit; 1 for uniform), so the largest
    /// positive value stays on a signed grid, from each channel's minimum and maximum (<see cref="Min{T}"/>, <see cref="Max{T}"/>).
    /// Per tensor in float64; per channel in the values' precision (float32 arrays).
    /// </summary>
    public static double[] NoClippingMaxima<T>(T[] mins, T[] maxs, int numBits, bool perChannel, bool uniform)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double factor = uniform ? 1.0 : numBits == 1 ? 0.0 : Math.Pow(2.0, numBits - 1) / (Math.Pow(2.0, numBits - 1) - 1);
        var result = new double[mins.Length];
        for (int c = 0; c < mins.Length; c++)
        {
            T min = mins[c], max = maxs[c];
            if (perChannel)
            {
                T scaled = max * T.CreateTruncating(factor);
                result[c] = double.CreateTruncating(NumpyMaximum(-min, scaled));
            }
            else
            {
                result[c] = NumpyMaximum(double.CreateTruncating(-min), double.CreateTruncating(max) * factor);
            }
        }
        return result;
    }

    /// <summary>max_power_of_two: 2^ceil(log2(max(x, MIN_THRESHOLD))), in float64 or (per channel) float32.</summary>
    public static double[] MaxPowerOfTwo(double[] maxima, ParameterPrecision precision) =>
        maxima.Select(x => MaxPowerOfTwo(x, precision)).ToArray();

    public static double MaxPowerOfTwo(double x, ParameterPrecision precision)
    {
        if (precision == ParameterPrecision.SingleArray)
        {
            float clamped = NumpyMaximum((float)x, (float)MinThreshold);
            return MathF.Pow(2f, MathF.Ceiling(MathF.Log2(clamped)));
        }
        return Math.Pow(2.0, Math.Ceiling(Math.Log2(NumpyMaximum(x, MinThreshold))));
    }

    /// <summary>Channels of at least this many values have their squared errors bounded first (<see cref="BoundedTensorErrors{T}"/>).</summary>
    public const int DefaultBoundedFrom = 1 << 16;

    private static IMctErrors Errors<T>(T[][] channels, ErrorMethod method, double p, int numBits, bool perChannel, bool histogramOfQuantized, bool sequentialRows,
                                        int boundedFrom, int? binChannels = null, ChannelExtremes<T>? extremes = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (method == ErrorMethod.Kl) return new TensorKlErrors<T>(channels, numBits, histogramOfQuantized);
        var exact = new TensorErrors<T>(channels, method, p, perChannel, sequentialRows);
        bool squared = method == ErrorMethod.Mse || (method == ErrorMethod.Lp && p == 2);
        if (squared && channels.Any(c => c.Length >= boundedFrom))
            return new BoundedTensorErrors<T>(channels, exact, perChannel, sequentialRows, boundedFrom, binChannels, extremes);
        // Float32 values on float64 grids (per channel): the candidates that cannot win screened out in float32 first.
        return exact is TensorErrors<float> single && ScreenedTensorErrors.Handles(single.Method) ? new ScreenedTensorErrors(single) : exact;
    }

    /// <summary>np.maximum: NaN if either is.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static TNumber NumpyMaximum<TNumber>(TNumber a, TNumber b) where TNumber : IFloatingPointIeee754<TNumber> =>
        TNumber.IsNaN(a) ? a : TNumber.IsNaN(b) ? b : a >= b ? a : b;

    /// <summary>Python's max(a, b): b only when b &gt; a.</summary>
    public static double PythonMax(double a, double b) => b > a ? b : a;

    /// <summary>The least value, the first of equal ones (-0 and +0 are equal); NaN when there is one; +inf when empty.</summary>
    public static T Min<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T min = T.PositiveInfinity;
        foreach (T x in values) min = T.IsNaN(x) || x < min ? x : min;
        return min;
    }

    /// <summary>The greatest value, the first of equal ones; NaN when there is one; -inf when empty.</summary>
    public static T Max<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = T.NegativeInfinity;
        foreach (T x in values) max = T.IsNaN(x) || x > max ? x : max;
        return max;
    }
}
