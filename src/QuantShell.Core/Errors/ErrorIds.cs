namespace QuantShell.Core.Errors;

/// <summary>
/// Every expected failure's stable identifier, in one table. The cmdlets use them as <c>ErrorRecord</c> ids and the
/// command line prints them in brackets (<c>dotnet-quant: error: ... [OutputExists]</c>); scripts and tests may rely on
/// them. Each id has one meaning, whichever face or format raises it.
/// </summary>
public static class ErrorIds
{
    // ---- quantizer parameters (checked when a quantizer is created) ----
    public const string TargetInvalid = nameof(TargetInvalid);
    public const string MethodInvalid = nameof(MethodInvalid);
    public const string NumBitsOutOfRange = nameof(NumBitsOutOfRange);
    public const string PerChannelActivationNotSupported = nameof(PerChannelActivationNotSupported);
    public const string ThresholdMissing = nameof(ThresholdMissing);
    public const string ThresholdNotFinite = nameof(ThresholdNotFinite);
    public const string ThresholdNotPositive = nameof(ThresholdNotPositive);
    public const string ThresholdNotPowerOfTwo = nameof(ThresholdNotPowerOfTwo);
    public const string RangeMissing = nameof(RangeMissing);
    public const string RangeCountMismatch = nameof(RangeCountMismatch);
    public const string RangeNotFinite = nameof(RangeNotFinite);
    public const string RangeMinNotBelowMax = nameof(RangeMinNotBelowMax);
    /// <summary>A per-tensor quantizer was given more than one threshold or range.</summary>
    public const string ValueCountMismatch = nameof(ValueCountMismatch);
    /// <summary>A parameter that the chosen method or mode does not use (Signed with Uniform, ChannelAxis without PerChannel, P without Lp, ...).</summary>
    public const string ParameterNotApplicable = nameof(ParameterNotApplicable);
    public const string ChannelAxisOutOfRange = nameof(ChannelAxisOutOfRange);
    /// <summary>The number of per-channel values differs from the length of the channel axis.</summary>
    public const string ChannelCountMismatch = nameof(ChannelCountMismatch);
    /// <summary>A LUT quantizer whose table is neither given nor to be chosen from data (a complete quantizer was required).</summary>
    public const string LutValuesMissing = nameof(LutValuesMissing);
    /// <summary>A LUT table with a non-integer entry, an entry outside the LUT's range, or more than 2^NumBits distinct entries.</summary>
    public const string LutValuesInvalid = nameof(LutValuesInvalid);
    /// <summary>LutValuesBitwidth outside 1..16, or below NumBits.</summary>
    public const string LutValuesBitwidthInvalid = nameof(LutValuesBitwidthInvalid);
    /// <summary>Eps is negative or not finite.</summary>
    public const string EpsInvalid = nameof(EpsInvalid);
    /// <summary>A LUT quantizer's inputRank differs from the rank of the tensor it is applied to.</summary>
    public const string InputRankMismatch = nameof(InputRankMismatch);

    // ---- choosing values from the data ----
    /// <summary>-P / --p is not a finite number greater than 0.</summary>
    public const string ErrorExponentInvalid = nameof(ErrorExponentInvalid);
    /// <summary>-Percentile / --percentile is not greater than 0 and at most 100.</summary>
    public const string PercentileInvalid = nameof(PercentileInvalid);
    /// <summary>Selection options (ErrorMethod, P, Calibrate) were given with a quantizer whose values are all given.</summary>
    public const string SelectionOptionNotApplicable = nameof(SelectionOptionNotApplicable);
    public const string SelectionNoData = nameof(SelectionNoData);
    public const string CalibrationShapeMismatch = nameof(CalibrationShapeMismatch);

    // ---- how options combine ----
    /// <summary>Two options that exclude each other (-OutputPath and -OutputDirectory, -Quantizer and -Method, ...).</summary>
    public const string OptionConflict = nameof(OptionConflict);
    public const string OutputPathWithSeveralInputs = nameof(OutputPathWithSeveralInputs);
    public const string ExportQuantizerNeedsOneQuantizer = nameof(ExportQuantizerNeedsOneQuantizer);
    public const string PlotPathWithSeveralInputs = nameof(PlotPathWithSeveralInputs);
    public const string StdinWithSeveralInputs = nameof(StdinWithSeveralInputs);
    public const string StdinNeedsOutput = nameof(StdinNeedsOutput);
    public const string CalibrateWithStdin = nameof(CalibrateWithStdin);
    /// <summary>Two inputs of one run would be written to the same output file.</summary>
    public const string OutputCollision = nameof(OutputCollision);
    /// <summary>A command-line option the command does not have.</summary>
    public const string UnknownOption = nameof(UnknownOption);
    /// <summary>Several quantizers were piped to a command that writes one quantizer file.</summary>
    public const string MultipleQuantizersForOneFile = nameof(MultipleQuantizersForOneFile);

    // ---- files and paths ----
    public const string InputFileNotFound = nameof(InputFileNotFound);
    public const string InputFileUnreadable = nameof(InputFileUnreadable);
    public const string InputIsDirectory = nameof(InputIsDirectory);
    public const string PathInvalid = nameof(PathInvalid);
    public const string PathNotFileSystem = nameof(PathNotFileSystem);
    public const string OutputExists = nameof(OutputExists);
    public const string OutputIsInput = nameof(OutputIsInput);
    public const string OutputIsDirectory = nameof(OutputIsDirectory);
    public const string OutputDirectoryNotFound = nameof(OutputDirectoryNotFound);
    public const string OutputDirectoryIsFile = nameof(OutputDirectoryIsFile);
    public const string OutputDirectoryUnwritable = nameof(OutputDirectoryUnwritable);
    public const string OutputWriteFailed = nameof(OutputWriteFailed);

    // ---- quantizer files ----
    public const string QuantizerFileNotFound = nameof(QuantizerFileNotFound);
    public const string QuantizerFileUnreadable = nameof(QuantizerFileUnreadable);
    public const string QuantizerFileInvalid = nameof(QuantizerFileInvalid);
    public const string QuantizerFieldUnknown = nameof(QuantizerFieldUnknown);
    public const string QuantizerFieldDuplicate = nameof(QuantizerFieldDuplicate);
    public const string QuantizerFieldInvalid = nameof(QuantizerFieldInvalid);
    public const string QuantizerFieldMissing = nameof(QuantizerFieldMissing);

    // ---- tensor data ----
    public const string NonFiniteInput = nameof(NonFiniteInput);
    public const string DTypeNotSupported = nameof(DTypeNotSupported);
    public const string TensorTooLarge = nameof(TensorTooLarge);
    public const string NpyMagicInvalid = nameof(NpyMagicInvalid);
    public const string NpyVersionNotSupported = nameof(NpyVersionNotSupported);
    public const string NpyHeaderTruncated = nameof(NpyHeaderTruncated);
    public const string NpyHeaderTooLarge = nameof(NpyHeaderTooLarge);
    public const string NpyHeaderInvalid = nameof(NpyHeaderInvalid);
    public const string NpyObjectArrayRefused = nameof(NpyObjectArrayRefused);
    public const string NpyDTypeInvalid = nameof(NpyDTypeInvalid);
    public const string NpyDTypeNotSupported = nameof(NpyDTypeNotSupported);
    public const string NpyShapeInvalid = nameof(NpyShapeInvalid);
    public const string NpyDataTruncated = nameof(NpyDataTruncated);
    public const string NpyTrailingData = nameof(NpyTrailingData);
    public const string NpyArrayTooLarge = nameof(NpyArrayTooLarge);
}
