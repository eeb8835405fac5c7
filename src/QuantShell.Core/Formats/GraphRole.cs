namespace QuantShell.Core.Formats;

/// <summary>
/// What a model's graph does with a tensor (an ONNX initializer or Constant): whether an operator reads it as its weight,
/// and the axis of that operator's output channels followed back to the tensor. For such files the graph, not the
/// tensor's rank, says which tensors are weights (docs/onnx-weights.md: Conv 0, ConvTranspose 1, Gemm 0 with transB = 1
/// else 1, MatMul the last axis, LSTM/GRU/RNN W and R 1).
/// </summary>
/// <param name="ChannelAxis">The output-channel axis its readers agree on; null when it is not read as a weight, its readers disagree, or a chain loses the axis.</param>
/// <param name="Description">Who reads it, for results and skip reasons (e.g. <c>the weight of Conv 'conv1'</c>).</param>
/// <param name="SkipCategory">When it is not a weight: why, without its particulars (<c>read by no operator</c>), to count tensors by.</param>
public sealed record GraphRole(int? ChannelAxis, string Description, string? SkipCategory = null);
