namespace QuantShell.Core.Formats;

/// <summary>
/// What a model's graph does with a tensor (an ONNX initializer): whether an operator reads it as its weight, and the
/// axis of that operator's output channels. For such files the graph, not the tensor's rank, says which tensors are
/// weights (docs/model-files.md: Conv 0, ConvTranspose 1, Gemm 0 with transB = 1 else 1, MatMul the last axis).
/// </summary>
/// <param name="ChannelAxis">The output-channel axis its readers agree on; null when it is not read as a weight, or its readers disagree.</param>
/// <param name="Description">Who reads it, for results and skip reasons (e.g. <c>the weight of Conv 'conv1'</c>).</param>
public sealed record GraphRole(int? ChannelAxis, string Description);
