namespace QuantShell.Core.Errors;

/// <summary>
/// Every expected failure's stable identifier, in one table. The cmdlets use them as <c>ErrorRecord</c> ids and the
/// command line prints them in brackets (<c>dotnet-quant: error: ... [OutputExists]</c>); scripts and tests may rely on
/// them. Each id has one meaning, whichever face or format raises it.
/// </summary>
public static class ErrorIds
{
    // ---- quantizer parameters (checked when a quantizer is created) ----
    /// <summary>Target is not one of the targets (Weights, Activation): an enum value out of range given through the API.</summary>
    public const string TargetInvalid = nameof(TargetInvalid);
    /// <summary>Method is out of range, or not one the target has (LutSymmetric activations; calibrated activations take Pot, Symmetric or Uniform).</summary>
    public const string MethodInvalid = nameof(MethodInvalid);
    /// <summary>NumBits is outside 1..16.</summary>
    public const string NumBitsOutOfRange = nameof(NumBitsOutOfRange);
    /// <summary>PerChannel was asked of an activation quantizer (MCT quantizes activations per tensor).</summary>
    public const string PerChannelActivationNotSupported = nameof(PerChannelActivationNotSupported);
    /// <summary>A complete POT, symmetric or LUT quantizer was required and has no threshold.</summary>
    public const string ThresholdMissing = nameof(ThresholdMissing);
    /// <summary>A threshold is NaN, infinite, or beyond float32.</summary>
    public const string ThresholdNotFinite = nameof(ThresholdNotFinite);
    /// <summary>A threshold is 0 or negative (or rounds to 0 in float32).</summary>
    public const string ThresholdNotPositive = nameof(ThresholdNotPositive);
    /// <summary>A POT or LUT POT threshold is not a power of two.</summary>
    public const string ThresholdNotPowerOfTwo = nameof(ThresholdNotPowerOfTwo);
    /// <summary>A uniform quantizer lacks its MinRange or MaxRange (or both, where a complete quantizer was required).</summary>
    public const string RangeMissing = nameof(RangeMissing);
    /// <summary>MinRange and MaxRange have different counts.</summary>
    public const string RangeCountMismatch = nameof(RangeCountMismatch);
    /// <summary>A range bound is NaN, infinite, or beyond float32.</summary>
    public const string RangeNotFinite = nameof(RangeNotFinite);
    /// <summary>A range minimum is not below its maximum (in float32).</summary>
    public const string RangeMinNotBelowMax = nameof(RangeMinNotBelowMax);
    /// <summary>A per-tensor quantizer was given more than one threshold or range.</summary>
    public const string ValueCountMismatch = nameof(ValueCountMismatch);
    /// <summary>A parameter that the chosen method or mode does not use (Signed with Uniform, ChannelAxis without PerChannel, P without Lp, ...).</summary>
    public const string ParameterNotApplicable = nameof(ParameterNotApplicable);
    /// <summary>ChannelAxis is outside the tensor's axes.</summary>
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
    /// <summary>Values were to be chosen from the data, but no value is left to choose them from (every input failed, or all were empty).</summary>
    public const string SelectionNoData = nameof(SelectionNoData);
    /// <summary>Calibration batches pooled per channel differ in rank or in the length of the channel axis.</summary>
    public const string CalibrationShapeMismatch = nameof(CalibrationShapeMismatch);

    // ---- how options combine ----
    /// <summary>Two options that exclude each other (-OutputPath and -OutputDirectory, -Quantizer and -Method, ...).</summary>
    public const string OptionConflict = nameof(OptionConflict);
    /// <summary>OutputPath names one file, and several inputs were given.</summary>
    public const string OutputPathWithSeveralInputs = nameof(OutputPathWithSeveralInputs);
    /// <summary>ExportQuantizer writes one quantizer, and the run has several (rules, values chosen per input or per tensor).</summary>
    public const string ExportQuantizerNeedsOneQuantizer = nameof(ExportQuantizerNeedsOneQuantizer);
    /// <summary>PlotPath draws one tensor, and several inputs (or tensors) were measured.</summary>
    public const string PlotPathWithSeveralInputs = nameof(PlotPathWithSeveralInputs);
    /// <summary>PlotPath ends in an extension other than .png or .svg (checked before any input is read).</summary>
    public const string PlotFormatNotSupported = nameof(PlotFormatNotSupported);
    /// <summary>A MeasureRequest with a PlotPath but no Plotter to draw it (a caller of the core's API forgot it).</summary>
    public const string PlotterMissing = nameof(PlotterMissing);
    /// <summary>The system has no font to draw a plot's text with (SkiaSharp reads /usr/share/fonts on Linux).</summary>
    public const string PlotFontMissing = nameof(PlotFontMissing);
    /// <summary>SkiaSharp's native library, which draws plots, cannot be loaded here (a platform without it, a broken install).</summary>
    public const string PlotRendererUnavailable = nameof(PlotRendererUnavailable);
    /// <summary>The standard input ('-') was given with other inputs.</summary>
    public const string StdinWithSeveralInputs = nameof(StdinWithSeveralInputs);
    /// <summary>An input read from a stream has no output file or stream to go to.</summary>
    public const string StdinNeedsOutput = nameof(StdinNeedsOutput);
    /// <summary>Two inputs of one run would be written to the same output file.</summary>
    public const string OutputCollision = nameof(OutputCollision);
    /// <summary>A command-line option the command does not have.</summary>
    public const string UnknownOption = nameof(UnknownOption);
    /// <summary>A command the command line does not have (<c>dotnet quant quanitze</c>), or a file name where a command should be.</summary>
    public const string UnknownCommand = nameof(UnknownCommand);
    /// <summary>A value that its parameter does not take: on the command line <c>--method pow</c>, <c>--num-bits abc</c>, an option
    /// without the value it needs, a command's argument (<c>schema KIND</c>); through the API an enum value out of range.</summary>
    public const string OptionValueInvalid = nameof(OptionValueInvalid);
    /// <summary>The command line names no command (<c>dotnet quant</c> alone, or options only).</summary>
    public const string CommandMissing = nameof(CommandMissing);
    /// <summary>A command-line command was given without an argument it needs (<c>dotnet quant quantize</c> with no input), or
    /// without an option it needs (<c>dotnet quant compare a.onnx b.onnx</c> without <c>--data-path</c>).</summary>
    public const string ArgumentMissing = nameof(ArgumentMissing);
    /// <summary>A model file was to be written to a stream (stdout); model files are written to files.</summary>
    public const string StreamOutputNotSupported = nameof(StreamOutputNotSupported);
    /// <summary>A command that reads model files only (lower, dequantize) was given a stream (stdin) as input.</summary>
    public const string StreamInputNotSupported = nameof(StreamInputNotSupported);
    /// <summary>Several quantizers were piped to a command that writes one quantizer file.</summary>
    public const string MultipleQuantizersForOneFile = nameof(MultipleQuantizersForOneFile);

    // ---- files and paths ----
    /// <summary>An input file does not exist.</summary>
    public const string InputFileNotFound = nameof(InputFileNotFound);
    /// <summary>An input file exists but cannot be read (permission denied, an I/O error).</summary>
    public const string InputFileUnreadable = nameof(InputFileUnreadable);
    /// <summary>An input is a folder.</summary>
    public const string InputIsDirectory = nameof(InputIsDirectory);
    /// <summary>A path PowerShell cannot resolve (a drive or provider it does not have, invalid characters).</summary>
    public const string PathInvalid = nameof(PathInvalid);
    /// <summary>A PowerShell path of another provider than the file system (Env:, HKLM:, ...).</summary>
    public const string PathNotFileSystem = nameof(PathNotFileSystem);
    /// <summary>The output file exists and Force was not given.</summary>
    public const string OutputExists = nameof(OutputExists);
    /// <summary>The output is the input file itself: the same path, a symbolic or hard link to it, or the input reached through another path (a linked folder, '..', a bind mount).</summary>
    public const string OutputIsInput = nameof(OutputIsInput);
    /// <summary>The output path is a folder.</summary>
    public const string OutputIsDirectory = nameof(OutputIsDirectory);
    /// <summary>The folder of the output file does not exist.</summary>
    public const string OutputDirectoryNotFound = nameof(OutputDirectoryNotFound);
    /// <summary>The output folder (or a folder above it) is a file.</summary>
    public const string OutputDirectoryIsFile = nameof(OutputDirectoryIsFile);
    /// <summary>The output folder cannot be created or written into (permission denied, read-only file system).</summary>
    public const string OutputDirectoryUnwritable = nameof(OutputDirectoryUnwritable);
    /// <summary>An output cannot be written for another reason than the ones below (an I/O error); nothing was written.</summary>
    public const string OutputWriteFailed = nameof(OutputWriteFailed);
    /// <summary>The output's file system is full (ENOSPC) or the user's quota is exhausted (EDQUOT); nothing was written, an existing file is unchanged.</summary>
    public const string NoSpaceLeft = nameof(NoSpaceLeft);

    // ---- quantizer files ----
    /// <summary>The quantizer file does not exist.</summary>
    public const string QuantizerFileNotFound = nameof(QuantizerFileNotFound);
    /// <summary>The quantizer file exists but cannot be read.</summary>
    public const string QuantizerFileUnreadable = nameof(QuantizerFileUnreadable);
    /// <summary>The quantizer file is not a JSON object of the quantizer format (too large, not UTF-8, not JSON, not an object).</summary>
    public const string QuantizerFileInvalid = nameof(QuantizerFileInvalid);
    /// <summary>The quantizer file has a field the format does not have.</summary>
    public const string QuantizerFieldUnknown = nameof(QuantizerFieldUnknown);
    /// <summary>The quantizer file has a field twice.</summary>
    public const string QuantizerFieldDuplicate = nameof(QuantizerFieldDuplicate);
    /// <summary>A field of the quantizer file has a value of the wrong type or outside its allowed values.</summary>
    public const string QuantizerFieldInvalid = nameof(QuantizerFieldInvalid);
    /// <summary>The quantizer file lacks a required field (target, method, numBits).</summary>
    public const string QuantizerFieldMissing = nameof(QuantizerFieldMissing);

    // ---- tensor data ----
    /// <summary>An input holds NaN or infinity and AllowNonFinite was not given.</summary>
    public const string NonFiniteInput = nameof(NonFiniteInput);
    /// <summary>A tensor given to the Tensor path (TorchSharp) that cannot be quantized: complex, or not on the CPU.</summary>
    public const string DTypeNotSupported = nameof(DTypeNotSupported);
    /// <summary>A tensor has more elements than one array can hold, where it must be held whole.</summary>
    public const string TensorTooLarge = nameof(TensorTooLarge);
    /// <summary>An .npy file does not start with the .npy magic string.</summary>
    public const string NpyMagicInvalid = nameof(NpyMagicInvalid);
    /// <summary>An .npy file of a format version other than 1.0, 2.0 or 3.0.</summary>
    public const string NpyVersionNotSupported = nameof(NpyVersionNotSupported);
    /// <summary>An .npy file ends inside its header.</summary>
    public const string NpyHeaderTruncated = nameof(NpyHeaderTruncated);
    /// <summary>An .npy header is longer than the limit read.</summary>
    public const string NpyHeaderTooLarge = nameof(NpyHeaderTooLarge);
    /// <summary>An .npy header is not valid UTF-8 or not a valid dict literal with descr, fortran_order and shape.</summary>
    public const string NpyHeaderInvalid = nameof(NpyHeaderInvalid);
    /// <summary>An .npy file of Python objects (dtype 'O'), which would need unpickling; never read.</summary>
    public const string NpyObjectArrayRefused = nameof(NpyObjectArrayRefused);
    /// <summary>An .npy descr that is not a NumPy type string.</summary>
    public const string NpyDTypeInvalid = nameof(NpyDTypeInvalid);
    /// <summary>An .npy dtype QuantShell does not read (complex, strings, structured).</summary>
    public const string NpyDTypeNotSupported = nameof(NpyDTypeNotSupported);
    /// <summary>An .npy shape with a negative dimension or more elements than can exist.</summary>
    public const string NpyShapeInvalid = nameof(NpyShapeInvalid);
    /// <summary>An .npy file ends before the bytes its dtype and shape need.</summary>
    public const string NpyDataTruncated = nameof(NpyDataTruncated);
    /// <summary>An .npy file has bytes after its array.</summary>
    public const string NpyTrailingData = nameof(NpyTrailingData);
    /// <summary>An .npy array has more elements than one array can hold (checked before reading it).</summary>
    public const string NpyArrayTooLarge = nameof(NpyArrayTooLarge);

    // ---- model files ----
    /// <summary>A file QuantShell does not recognise as a tensor file of a kind it reads.</summary>
    public const string TensorFileNotRecognized = nameof(TensorFileNotRecognized);
    /// <summary>A tensor named (by a rule, by a reader) that the file does not hold.</summary>
    public const string TensorNotFound = nameof(TensorNotFound);
    /// <summary>A tensor's data ends before the bytes its dtype and shape need.</summary>
    public const string TensorDataTruncated = nameof(TensorDataTruncated);
    /// <summary>A tensor's dtype, shape and stored size disagree, or its data lies outside the file.</summary>
    public const string TensorLayoutInvalid = nameof(TensorLayoutInvalid);
    /// <summary>Two tensors of one file have the same name.</summary>
    public const string TensorNameDuplicate = nameof(TensorNameDuplicate);
    /// <summary>A zip archive (.npz, PyTorch) is malformed, lies about its sizes, or names entries outside itself.</summary>
    public const string ArchiveInvalid = nameof(ArchiveInvalid);
    /// <summary>A record the format needs (a PyTorch checkpoint's data.pkl, version or storage entry) is missing from the archive.</summary>
    public const string ArchiveEntryMissing = nameof(ArchiveEntryMissing);
    /// <summary>An .npz entry's .npy header disagrees with the size the zip declares for it.</summary>
    public const string NpzEntryInvalid = nameof(NpzEntryInvalid);
    /// <summary>A safetensors header that is over 100,000,000 bytes, not UTF-8 JSON, holds a key twice or is malformed.</summary>
    public const string SafetensorsHeaderInvalid = nameof(SafetensorsHeaderInvalid);
    /// <summary>A PyTorch checkpoint's pickle is malformed, exceeds a bound, or uses an opcode or construct torch.save does not write.</summary>
    public const string PickleInvalid = nameof(PickleInvalid);
    /// <summary>A pickle names a Python global outside the allowlist of what torch.load(weights_only=True) accepts; nothing was called.</summary>
    public const string PickleGlobalRefused = nameof(PickleGlobalRefused);
    /// <summary>A PyTorch file QuantShell recognises but does not read: the legacy (pre-1.6) format, TorchScript, big-endian storages.</summary>
    public const string PyTorchFormatNotSupported = nameof(PyTorchFormatNotSupported);
    /// <summary>The rules file (or hashtable) is malformed.</summary>
    public const string RulesInvalid = nameof(RulesInvalid);
    /// <summary>The rules file does not exist.</summary>
    public const string RulesFileNotFound = nameof(RulesFileNotFound);
    /// <summary>The output format (fake, int, qdq) does not apply to this file kind or quantizer.</summary>
    public const string OutputFormatNotSupported = nameof(OutputFormatNotSupported);
    /// <summary>The int format adds NAME_scale, NAME_zero_point or NAME_lut beside a tensor, and the file already has a tensor of that name.</summary>
    public const string OutputTensorNameTaken = nameof(OutputTensorNameTaken);
    /// <summary>The rules hold activation quantizers, which apply to ONNX models only, and the input is another kind of file.</summary>
    public const string RulesActivationsNotApplicable = nameof(RulesActivationsNotApplicable);
    /// <summary>A file to dequantize holds no record of the quantizers that made it.</summary>
    public const string QuantizationRecordMissing = nameof(QuantizationRecordMissing);

    // ---- ONNX models ----
    /// <summary>The file is not an ONNX model: truncated or malformed protobuf, or no graph.</summary>
    public const string OnnxModelInvalid = nameof(OnnxModelInvalid);
    /// <summary>The .onnx file is over the protobuf limit of 2 GiB (larger models keep their weights in external data files).</summary>
    public const string OnnxModelTooLarge = nameof(OnnxModelTooLarge);
    /// <summary>A tensor's dims are negative or their product overflows.</summary>
    public const string OnnxTensorShapeInvalid = nameof(OnnxTensorShapeInvalid);
    /// <summary>A tensor's data (raw_data, a typed field, or its external range) does not hold dims' element count.</summary>
    public const string OnnxTensorDataMismatch = nameof(OnnxTensorDataMismatch);
    /// <summary>A tensor's data type cannot be read as numbers (strings, complex, 8- and 4-bit floats) where numbers are needed.</summary>
    public const string OnnxDataTypeNotSupported = nameof(OnnxDataTypeNotSupported);
    /// <summary>External data without a location, with offsets that are not numbers, or whose file is missing.</summary>
    public const string OnnxExternalDataInvalid = nameof(OnnxExternalDataInvalid);
    /// <summary>An external data location that is absolute or leads out of the model's folder (.., a link).</summary>
    public const string OnnxExternalDataPathInvalid = nameof(OnnxExternalDataPathInvalid);
    /// <summary>An external data range that ends beyond its file's end.</summary>
    public const string OnnxExternalDataOutOfRange = nameof(OnnxExternalDataOutOfRange);
    /// <summary>The nodes of a graph form a cycle.</summary>
    public const string OnnxGraphCycle = nameof(OnnxGraphCycle);
    /// <summary>A graph's values are inconsistent: a name produced twice, or an input that nothing produces.</summary>
    public const string OnnxGraphInvalid = nameof(OnnxGraphInvalid);
    /// <summary>A node of a custom domain that is neither a standard one, mct_quantizers, nor a function of the model.</summary>
    public const string OnnxOperatorUnknown = nameof(OnnxOperatorUnknown);
    /// <summary>An mct_quantizers node lacks an attribute or input, or its weight is not a constant.</summary>
    public const string MctQuantizerNodeInvalid = nameof(MctQuantizerNodeInvalid);
    /// <summary>The lowered model needs a newer default opset, and an op of the model changed its meaning in between.</summary>
    public const string OnnxOpsetUpgradeBlocked = nameof(OnnxOpsetUpgradeBlocked);

    // ---- running models: calibrating activations, comparing models ----
    /// <summary>The sample folder is missing, or holds no .npy or .npz file.</summary>
    public const string SampleDataMissing = nameof(SampleDataMissing);
    /// <summary>A sample lacks one of the model's inputs (an .npz without that array; an .npy for a model of several inputs).</summary>
    public const string SampleInputMissing = nameof(SampleInputMissing);
    /// <summary>A sample holds an array named after no input of the model.</summary>
    public const string SampleInputUnknown = nameof(SampleInputUnknown);
    /// <summary>A sample array's rank or a fixed dimension differs from the model input's.</summary>
    public const string SampleShapeMismatch = nameof(SampleShapeMismatch);
    /// <summary>A sample array's element type differs from the model input's.</summary>
    public const string SampleDTypeMismatch = nameof(SampleDTypeMismatch);
    /// <summary>An activation observed while calibrating holds NaN or ±infinity.</summary>
    public const string ActivationNonFinite = nameof(ActivationNonFinite);
    /// <summary>ONNX Runtime refuses to load the model (an operator it lacks, a type error in the graph, ...).</summary>
    public const string OnnxRuntimeCannotLoad = nameof(OnnxRuntimeCannotLoad);
    /// <summary>ONNX Runtime failed while running the model on a sample.</summary>
    public const string OnnxRuntimeRunFailed = nameof(OnnxRuntimeRunFailed);
    /// <summary>ONNX Runtime's native library cannot be loaded on this platform (or the runtime was not given to the job).</summary>
    public const string OnnxRuntimeUnavailable = nameof(OnnxRuntimeUnavailable);
    /// <summary>A rules file names an activation the model does not have (or one in several subgraphs without saying which).</summary>
    public const string RulesTensorNotFound = nameof(RulesTensorNotFound);
    /// <summary>An activation named by the rules is not float32, float16 or bfloat16 (the types activation quantizers are put on).</summary>
    public const string ActivationDTypeNotSupported = nameof(ActivationDTypeNotSupported);
    /// <summary>The two models compared differ in their inputs or outputs (names, element types, shapes of an output).</summary>
    public const string CompareModelsMismatch = nameof(CompareModelsMismatch);

    // ---- hosts ----
    /// <summary>The Tensor path was called in PowerShell without the QuantShell.Torch module (TorchSharp, libtorch), which
    /// the QuantShell module does not ship; the message says what to install.</summary>
    public const string TensorModuleNotInstalled = nameof(TensorModuleNotInstalled);
    /// <summary>Invoke-Calibrate or Compare-OnnxModel was called without the QuantShell.OnnxRuntime module (ONNX Runtime),
    /// which the QuantShell module does not ship; the message says what to install.</summary>
    public const string OnnxRuntimeModuleNotInstalled = nameof(OnnxRuntimeModuleNotInstalled);

    // ---- model folders, group-wise scales, compressed-tensors ----
    /// <summary>A folder given as a model that has no index or model.safetensors, or whose index or config.json is malformed.</summary>
    public const string ModelFolderInvalid = nameof(ModelFolderInvalid);
    /// <summary>The index names a shard that is not in the folder.</summary>
    public const string ModelFolderShardMissing = nameof(ModelFolderShardMissing);
    /// <summary>The index puts a tensor in a shard that does not hold it.</summary>
    public const string ModelFolderTensorMissing = nameof(ModelFolderTensorMissing);
    /// <summary>A shard holds a tensor the index does not name.</summary>
    public const string ModelFolderTensorUnindexed = nameof(ModelFolderTensorUnindexed);
    /// <summary>Two shards hold a tensor of the same name.</summary>
    public const string ModelFolderTensorInTwoShards = nameof(ModelFolderTensorInTwoShards);
    /// <summary>A tensor's shape or layer number disagrees with config.json (vocab_size, hidden_size, num_hidden_layers).</summary>
    public const string ModelFolderConfigMismatch = nameof(ModelFolderConfigMismatch);
    /// <summary>--part is not K/N with 1 &lt;= K &lt;= N, or is given where a split run cannot be (a file, a single output).</summary>
    public const string PartInvalid = nameof(PartInvalid);
    /// <summary>The final step of a split run finds parts missing, from another run, or of another format.</summary>
    public const string PartsIncomplete = nameof(PartsIncomplete);
    /// <summary>GroupSize is below 1, or applied where groups cannot be (per tensor, activations, LUT, channels on the last axis).</summary>
    public const string GroupSizeInvalid = nameof(GroupSizeInvalid);
    /// <summary>A scale given for a format that stores it in the weight's dtype (compressed-tensors) is not a value of that dtype.</summary>
    public const string ScaleNotExactInDType = nameof(ScaleNotExactInDType);
}
