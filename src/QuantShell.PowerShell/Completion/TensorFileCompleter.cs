using QuantShell.Core.Formats;

namespace QuantShell.PowerShell.Completion;

/// <summary>Completes the paths of tensor files: .npy and the model files (.npz, safetensors, PyTorch checkpoints, ONNX).</summary>
public sealed class TensorFileCompleter : FilePathCompleter
{
    protected override IReadOnlyList<string> Extensions => TensorFiles.Extensions;
}
