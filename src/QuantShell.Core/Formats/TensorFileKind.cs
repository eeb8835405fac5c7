namespace QuantShell.Core.Formats;

/// <summary>The kinds of tensor file QuantShell reads and writes.</summary>
public enum TensorFileKind
{
    /// <summary>A NumPy .npy file: one array.</summary>
    Npy,
    /// <summary>A NumPy .npz file: a zip of .npy entries, stored or deflated.</summary>
    Npz,
    /// <summary>A safetensors file: a JSON header and little-endian, C-order data.</summary>
    Safetensors,
    /// <summary>A PyTorch checkpoint in torch.save's zip format (data.pkl and storages).</summary>
    PyTorch,
    /// <summary>An ONNX model: its initializers are the tensors.</summary>
    Onnx,
}
