using QuantShell.Core.Kernels;

namespace QuantShell.Core.Tests;

public sealed class KernelWarmUpTests
{
    /// <summary>
    /// The test host compiles as it runs, so the warm-up starts, once per process: of any number of calls (from the
    /// command line's start and every import of the modules) at most one starts a thread, and none after it.
    /// </summary>
    [Fact]
    public void Start_CompiledAsItRuns_StartsOncePerProcess()
    {
        Assert.True(System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeCompiled);
        bool[] started = Enumerable.Range(0, 8).AsParallel().Select(_ => KernelWarmUp.Start()).ToArray();
        Assert.True(started.Count(s => s) <= 1);
        Assert.False(KernelWarmUp.Start());
    }

    /// <summary>The warm-up's own run goes through the kernel for both element types without touching anything else.</summary>
    [Fact]
    public void Run_BothElementTypes_Completes()
    {
        var thread = new Thread(KernelWarmUp.Run);
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromMinutes(1)));
    }
}
