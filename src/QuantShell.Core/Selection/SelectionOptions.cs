namespace QuantShell.Core.Selection;

/// <summary>How values missing from a quantizer (threshold, range, table) are chosen from the data.</summary>
public sealed record SelectionOptions
{
    /// <summary>The search when none is given.</summary>
    public const SelectionSearch DefaultSearch = SelectionSearch.Mct;

    /// <summary>As MCT does (the default), or QuantShell's search for the least error. Percentile is QuantShell's own either way.</summary>
    public SelectionSearch Search { get; init; } = DefaultSearch;

    /// <summary>
    /// MCT's z-score outlier filter for activation histograms (<see cref="SelectionSearch.Mct"/> only): bins whose left
    /// edge lies more than this many standard deviations from the mean are emptied. MCT's default, infinity, filters nothing.
    /// </summary>
    public double ZThreshold { get; init; } = double.PositiveInfinity;

    /// <summary>The error the chosen values minimise (or NoClipping: cover the data).</summary>
    public ErrorMethod ErrorMethod { get; init; } = DefaultErrorMethod;

    /// <summary>The exponent for <see cref="ErrorMethod.Lp"/> (ignored otherwise); must be finite and &gt; 0.</summary>
    public double P { get; init; } = DefaultP;

    /// <summary>The share of the data <see cref="ErrorMethod.Percentile"/> covers, in percent: greater than 0, at most 100.</summary>
    public double Percentile { get; init; } = DefaultPercentile;

    /// <summary>The error method used when none is given.</summary>
    public const ErrorMethod DefaultErrorMethod = ErrorMethod.Mse;

    /// <summary>
    /// The error method of a Hugging Face model folder's Linear weights when none is given (and no rules decide): round to
    /// nearest on each channel's or group's own range, as llm-compressor's default min-max observer does; chosen in one read
    /// of each weight at disk speed, where MCT's MSE search takes minutes per shard (docs/model-folders.md).
    /// </summary>
    public const ErrorMethod DefaultFolderErrorMethod = ErrorMethod.NoClipping;

    /// <summary>The percentile used when none is given.</summary>
    public const double DefaultPercentile = 99.99;

    /// <summary>The exponent of the Lp error method when none is given.</summary>
    public const double DefaultP = 2.0;

    /// <summary>Choose one quantizer from all inputs pooled (calibration batches) instead of one per input.</summary>
    public bool Calibrate { get; init; }

    /// <summary>Symmetric and uniform searches run on at most this many values per channel (an evenly strided sample beyond).</summary>
    public int MaxSearchValues { get; init; } = 1 << 20;

    /// <summary>
    /// MCT's search: channels of at least this many values have each candidate's squared error bounded from a histogram
    /// first and computed exactly only where the bounds leave it open (the choice is the same either way; tests set it
    /// to compare both paths).
    /// </summary>
    internal int BoundedSearchFrom { get; init; } = Mct.MctWeightsSelection.DefaultBoundedFrom;

    /// <summary>
    /// The optimal search: samples of fewer than <see cref="BoundedSearchFrom"/> values have each grid's squared error
    /// bounded below by its clipping first (<see cref="ClippingBounds"/>) and computed exactly only where that bound is not
    /// above the least so far (the choice is the same either way; tests turn it off to compare both paths).
    /// </summary>
    internal bool ClippingBounds { get; init; } = true;

    /// <summary>
    /// The optimal search: samples of fewer values than this have every grid scored exactly, in one pass, without the
    /// clipping bounds first: on so few values a grid's exact error costs about what its bound does (the choice is the
    /// same either way).
    /// </summary>
    internal int ClippingBoundsFrom { get; init; } = 512;

    /// <summary>
    /// The optimal search's fine rounds: the grid each starts from (the scan before's least) keeps the exact error that
    /// scan found for it, rather than being scored again (the same value; tests turn it off to compare both paths).
    /// </summary>
    internal bool ReuseLeastError { get; init; } = true;
}
