using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using QuantShell.Core.Errors;
using QuantShell.Core.Formats.Onnx;
using QuantShell.Core.Runtime;

namespace QuantShell.OnnxRuntime;

/// <summary>
/// The core's <see cref="IModelRunner"/> on ONNX Runtime's CPU execution provider. The only assembly of QuantShell that
/// references ONNX Runtime: the faces create it for calibrate and compare only, so that no other command loads it.
/// Failures become the core's errors: a model ONNX Runtime refuses <see cref="ErrorIds.OnnxRuntimeCannotLoad"/>, a failed
/// run <see cref="ErrorIds.OnnxRuntimeRunFailed"/>, a platform without its native library <see cref="ErrorIds.OnnxRuntimeUnavailable"/>.
/// </summary>
public sealed class OnnxRuntimeModelRunner : IModelRunner
{
    /// <summary>The session configuration key of the folder a model opened from memory finds its external data in.</summary>
    private const string ExternalDataFolderKey = "session.model_external_initializers_file_folder_path";

    public IModelSession Open(ModelSource model, ModelSessionOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var sessionOptions = CreateOptions();
        try
        {
            sessionOptions.GraphOptimizationLevel = options.Optimization switch
            {
                ModelOptimization.None => GraphOptimizationLevel.ORT_DISABLE_ALL,
                ModelOptimization.Basic => GraphOptimizationLevel.ORT_ENABLE_BASIC,
                ModelOptimization.Extended => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            // Messages go through exceptions; ONNX Runtime's own log lines would land on the user's stderr.
            sessionOptions.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            if (options.Threads is int threads)
            {
                sessionOptions.IntraOpNumThreads = threads;
                sessionOptions.InterOpNumThreads = 1;
            }
            if (options.OptimizedModelPath is not null) sessionOptions.OptimizedModelFilePath = options.OptimizedModelPath;
            if (model.Bytes is not null && model.Directory is not null) sessionOptions.AddSessionConfigEntry(ExternalDataFolderKey, model.Directory);
            var session = model.Bytes is not null ? new InferenceSession(model.Bytes, sessionOptions) : new InferenceSession(model.Path!, sessionOptions);
            return new Session(session, sessionOptions, model.Name);
        }
        catch (OnnxRuntimeException ex)
        {
            sessionOptions.Dispose();
            throw new QuantShellException($"{model.Name}: ONNX Runtime cannot load the model: {OneLine(ex.Message)}", ErrorIds.OnnxRuntimeCannotLoad,
                QuantShellErrorKind.InvalidData, model.Name, ex);
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>The first call into ONNX Runtime, where a missing native library shows.</summary>
    private static SessionOptions CreateOptions()
    {
        try
        {
            return new SessionOptions();
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or TypeInitializationException)
        {
            throw new QuantShellException(
                $"ONNX Runtime's native library cannot be loaded on this platform ({System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier}): " +
                $"{OneLine((ex.InnerException ?? ex).Message)}", ErrorIds.OnnxRuntimeUnavailable, QuantShellErrorKind.NotFound, "OnnxRuntime", ex);
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    private sealed class Session : IModelSession
    {
        private readonly InferenceSession _session;
        private readonly SessionOptions _options;
        private readonly RunOptions _runOptions = new();
        private readonly string _name;

        public Session(InferenceSession session, SessionOptions options, string name)
        {
            _session = session;
            _options = options;
            _name = name;
            Inputs = session.InputNames.Select(n => Describe(n, session.InputMetadata[n])).ToList();
            Outputs = session.OutputNames.Select(n => Describe(n, session.OutputMetadata[n])).ToList();
        }

        public IReadOnlyList<ModelValueInfo> Inputs { get; }

        public IReadOnlyList<ModelValueInfo> Outputs { get; }

        private static ModelValueInfo Describe(string name, NodeMetadata metadata) => new()
        {
            Name = name,
            ElementType = metadata.IsTensor ? (OnnxDataType)(int)metadata.ElementDataType : OnnxDataType.Undefined,
            Dimensions = metadata.IsTensor ? metadata.Dimensions.Select(d => (long)d).ToArray() : [],
            SymbolicDimensions = metadata.IsTensor ? metadata.SymbolicDimensions : [],
        };

        public IReadOnlyList<ModelTensor> Run(IReadOnlyList<ModelTensor> inputs, IReadOnlyList<string> outputNames)
        {
            var handles = new MemoryHandle[inputs.Count];
            var values = new OrtValue[inputs.Count];
            try
            {
                for (int i = 0; i < inputs.Count; i++)
                {
                    var input = inputs[i];
                    handles[i] = input.Data.AsMemory().Pin();
                    unsafe
                    {
                        values[i] = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, (TensorElementType)(int)input.ElementType, input.Shape,
                            (IntPtr)handles[i].Pointer, input.Data.LongLength);
                    }
                }
                using var outputs = _session.Run(_runOptions, inputs.Select(i => i.Name).ToArray(), values, outputNames.ToArray());
                var result = new List<ModelTensor>(outputs.Count);
                for (int o = 0; o < outputs.Count; o++)
                {
                    var value = outputs[o];
                    if (!value.IsTensor)
                        throw new QuantShellException($"{_name}: output '{outputNames[o]}' is not a tensor (a sequence or a map); QuantShell reads tensors.",
                            ErrorIds.OnnxRuntimeRunFailed, QuantShellErrorKind.InvalidData, _name);
                    var info = value.GetTensorTypeAndShape();
                    var type = (OnnxDataType)(int)info.ElementDataType;
                    if (type == OnnxDataType.String)
                        throw new QuantShellException($"{_name}: output '{outputNames[o]}' holds strings; QuantShell reads numbers.",
                            ErrorIds.OnnxRuntimeRunFailed, QuantShellErrorKind.InvalidData, _name);
                    result.Add(new ModelTensor(outputNames[o], type, info.Shape, value.GetTensorMutableRawData().ToArray()));
                }
                return result;
            }
            catch (OnnxRuntimeException ex)
            {
                throw new QuantShellException($"{_name}: ONNX Runtime failed to run the model: {OneLine(ex.Message)}", ErrorIds.OnnxRuntimeRunFailed,
                    QuantShellErrorKind.InvalidData, _name, ex);
            }
            finally
            {
                foreach (var value in values) value?.Dispose();
                foreach (var handle in handles) handle.Dispose();
            }
        }

        public void Dispose()
        {
            _session.Dispose();
            _runOptions.Dispose();
            _options.Dispose();
        }
    }
}
