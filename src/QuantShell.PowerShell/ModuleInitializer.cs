using System.Management.Automation;
using QuantShell.Core.Kernels;

namespace QuantShell.PowerShell;

/// <summary>What importing the module sets up, once per process whichever runspace imports it first.</summary>
public sealed class ModuleInitializer : IModuleAssemblyInitializer
{
    public void OnImport()
    {
        SignalCleanup.Register();
        // pwsh compiles everything as it runs: the first Invoke-Quantize then finds the kernel compiled.
        KernelWarmUp.Start();
    }
}
