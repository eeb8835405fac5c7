using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace QuantShell.Core.Kernels;

/// <summary>
/// Compiles the streaming fake-quantize kernel (<see cref="FakeQuantizeKernel.Apply{T}"/> for float32 and float64) on a
/// background thread while the command line is still being parsed, where code is compiled as it runs: the
/// framework-dependent tool and the modules in pwsh. The kernel is <c>AggressiveOptimization</c>, which ReadyToRun never
/// precompiles, so its one optimized compilation (~11 ms, measured on a file of one chunk) would
/// otherwise hold up the first chunk of every quantization; the parsing and the job's set-up leave a second core idle
/// for that long (docs/performance.md, "The JIT path"). Under Native AOT everything is compiled already: nothing starts.
/// </summary>
public static class KernelWarmUp
{
    private static int _started;

    /// <summary>
    /// Starts the compilation once per process (later calls do nothing); false when it was started before or the code is
    /// compiled ahead of time.
    /// </summary>
    public static bool Start()
    {
        if (!RuntimeFeature.IsDynamicCodeCompiled || Interlocked.Exchange(ref _started, 1) != 0) return false;
        new Thread(Run) { IsBackground = true, Name = "QuantShell kernel warm-up" }.Start();
        return true;
    }

    /// <summary>Runs the kernel once per element type on a few values, which compiles it (and what it inlines).</summary>
    internal static void Run()
    {
        Span<float> singles = stackalloc float[2 * Vector256<float>.Count];
        var singleStats = new KernelStats();
        FakeQuantizeKernel.Apply<float>(singles, singles, new Grid<float>(1f, 0, -128, 127), ref singleStats);
        Span<double> doubles = stackalloc double[2 * Vector256<double>.Count];
        var doubleStats = new KernelStats();
        FakeQuantizeKernel.Apply<double>(doubles, doubles, new Grid<double>(1f, 0, -128, 127), ref doubleStats);
    }
}
