using System.Numerics;
using QuantShell.Core.Quantization;

namespace QuantShell.Core.Selection.Mct;

/// <summary>What MCT's selection chose, in float64 as its NumPy code left it (before the float32 a quantizer holds).</summary>
internal sealed record MctChoice
{
    public double[]? Thresholds { get; init; }
    public (double Min, double Max)[]? Ranges { get; init; }
    public double[]? LutValues { get; init; }

    /// <summary>The signedness used (POT, symmetric, LUT); null for uniform.</summary>
    public bool? Signed { get; init; }
}

/// <summary>
/// <see cref="SelectionSearch.Mct"/>: the values a request leaves out, chosen as MCT does. Weights go through
/// <see cref="MctWeightsSelection"/> (each channel's finite values, float32 data in float32, float64 in float64), activations
/// through <see cref="ActivationHistogram"/> (each input array one batch), <see cref="ZScoreFilter"/> and
/// <see cref="MctActivationSelection"/>; LUT quantizers through <see cref="MctLutSelection"/> whatever the error method
/// (MCT's LUT selection has none). Non-finite values are left out (MCT would fail on them).
/// </summary>
internal static class MctSelection
{
    /// <param name="request">What to complete.</param>
    /// <param name="channels">Weights: each channel's values (one for per tensor).</param>
    /// <param name="batches">Activations: each input's values.</param>
    /// <param name="options">The error method, its p, the z-score threshold.</param>
    /// <param name="shape">The (first) input's shape: per channel it decides how NumPy sums MCT's rows.</param>
    public static MctChoice Choose<T>(QuantizerSpec request, T[][] channels, IReadOnlyList<T[]> batches, SelectionOptions options, IReadOnlyList<long> shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (request.Target == QuantizationTarget.Activation)
            return ChooseActivation(request, ActivationHistogram.Collect(batches.Select(Finite).ToArray()), options);
        return ChooseWeights(request, channels, options, shape);
    }

    /// <summary>An activation's values from MCT's histogram of it (before the z-score filter, which is applied here).</summary>
    public static MctChoice ChooseActivation(QuantizerSpec request, ActivationHistogram collected, SelectionOptions options)
    {
        int numBits = request.NumBits;
        var histogram = new ActivationHistogram(collected.Edges, ZScoreFilter.Apply(options.ZThreshold, collected.Edges, collected.Counts));
        bool signed = request.Signed ?? MctActivationSelection.Signed(histogram);
        switch (request.Method)
        {
            case QuantizationMethod.Uniform:
                return new MctChoice { Ranges = [MctActivationSelection.UniformRange(histogram, numBits, options.ErrorMethod, options.P)] };
            case QuantizationMethod.Pot:
                return new MctChoice { Thresholds = [MctActivationSelection.PotThreshold(histogram, numBits, signed, options.ErrorMethod, options.P)], Signed = signed };
            case QuantizationMethod.Symmetric:
                return new MctChoice { Thresholds = [MctActivationSelection.SymmetricThreshold(histogram, numBits, signed, options.ErrorMethod, options.P)], Signed = signed };
            default: // the activation LUT (power of two)
            {
                double threshold = request.Threshold?[0] ?? MctLutSelection.ActivationThreshold(histogram);
                var table = request.LutValues?.ToArray()
                            ?? MctLutSelection.ActivationTable(histogram, threshold, signed, numBits, request.EffectiveLutValuesBitwidth, request.EffectiveEps);
                return new MctChoice { Thresholds = [threshold], LutValues = table, Signed = signed };
            }
        }
    }

    private static MctChoice ChooseWeights<T>(QuantizerSpec request, T[][] channels, SelectionOptions options, IReadOnlyList<long> shape)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int numBits = request.NumBits;
        var values = channels.Select(Finite).ToArray();
        bool perChannel = request.PerChannel;
        bool sequential = perChannel && TensorErrors<T>.SequentialRows(shape, request.ResolveSelectionAxis(shape));
        bool signedWeights = request.Signed ?? true;
        switch (request.Method)
        {
            case QuantizationMethod.Uniform:
                return new MctChoice { Ranges = MctWeightsSelection.UniformRanges(values, numBits, perChannel, options.ErrorMethod, options.P, sequential, options.BoundedSearchFrom) };
            case QuantizationMethod.Pot:
                return new MctChoice { Thresholds = MctWeightsSelection.PotThresholds(values, numBits, signedWeights, perChannel, options.ErrorMethod, options.P, sequential, options.BoundedSearchFrom), Signed = signedWeights };
            case QuantizationMethod.Symmetric:
                return new MctChoice { Thresholds = MctWeightsSelection.SymmetricThresholds(values, numBits, signedWeights, perChannel, options.ErrorMethod, options.P, sequential, options.BoundedSearchFrom), Signed = signedWeights };
            default:
            {
                bool pot = request.Method == QuantizationMethod.LutPot;
                var thresholds = request.Threshold?.ToArray() ?? MctLutSelection.WeightsThresholds(values, numBits, pot, perChannel);
                var table = request.LutValues?.ToArray()
                            ?? MctLutSelection.WeightsTable(values, thresholds, numBits, request.EffectiveLutValuesBitwidth, request.EffectiveEps,
                                                            perChannelThresholds: perChannel);
                return new MctChoice { Thresholds = thresholds, LutValues = table, Signed = true };
            }
        }
    }

    /// <summary>
    /// What <see cref="Choose{T}"/> chooses for a POT, symmetric or uniform weights request with
    /// <see cref="ErrorMethod.NoClipping"/>, from each channel's minimum and maximum over its finite values
    /// (<see cref="MctWeightsSelection.Min{T}"/>, <see cref="MctWeightsSelection.Max{T}"/>) rather than from the values.
    /// </summary>
    public static MctChoice ChooseWeightsNoClipping<T>(QuantizerSpec request, T[] mins, T[] maxs)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int numBits = request.NumBits;
        bool perChannel = request.PerChannel;
        bool signedWeights = request.Signed ?? true;
        return request.Method switch
        {
            QuantizationMethod.Uniform => new MctChoice { Ranges = MctWeightsSelection.UniformNoClipping(mins, maxs, numBits, perChannel) },
            QuantizationMethod.Pot => new MctChoice { Thresholds = MctWeightsSelection.PotNoClipping(mins, maxs, numBits, perChannel), Signed = signedWeights },
            QuantizationMethod.Symmetric => new MctChoice { Thresholds = MctWeightsSelection.SymmetricNoClipping(mins, maxs, numBits, perChannel), Signed = signedWeights },
            _ => throw new ArgumentException($"No no-clipping choice from extremes for {request.Method}.", nameof(request)),
        };
    }

    /// <summary>The finite values (the same array when all are: counted by <see cref="ErrorMeasure.FiniteCount{T}"/>'s vector scan).</summary>
    internal static T[] Finite<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T> =>
        ErrorMeasure.FiniteCount<T>(values) == values.Length ? values : values.Where(T.IsFinite).ToArray();
}
