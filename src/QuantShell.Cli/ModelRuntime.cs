using System.Runtime.CompilerServices;
using QuantShell.Core.Runtime;

namespace QuantShell.Cli;

/// <summary>
/// Where the command line gets ONNX Runtime: only calibrate and compare call this, so no other command loads
/// QuantShell.OnnxRuntime, Microsoft.ML.OnnxRuntime or the native library (not inlined: the JIT then compiles the
/// reference to the runner only when it is called).
/// </summary>
internal static class ModelRuntime
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static IModelRunner Create() => new QuantShell.OnnxRuntime.OnnxRuntimeModelRunner();
}
