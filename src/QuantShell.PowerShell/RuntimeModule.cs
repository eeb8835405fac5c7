using System.Management.Automation;
using QuantShell.Core.Errors;
using QuantShell.Core.Runtime;

namespace QuantShell.PowerShell;

/// <summary>
/// The QuantShell.OnnxRuntime module as this module knows it: ONNX Runtime, which Invoke-Calibrate and Compare-OnnxModel
/// run models with, lives there (its native library alone is 29 MB), so that QuantShell stays small. The first call
/// of either cmdlet imports it when it is installed; without it, the error says what to install.
/// </summary>
public static class RuntimeModule
{
    /// <summary>The module that holds ONNX Runtime.</summary>
    public const string Name = "QuantShell.OnnxRuntime";

    private const string AssemblyName = "QuantShell.OnnxRuntime";
    private const string RunnerType = "QuantShell.OnnxRuntime.OnnxRuntimeModelRunner";

    /// <summary>The error of a call without QuantShell.OnnxRuntime: what to install, and that quantizing needs none of it.</summary>
    public static QuantShellException NotInstalled() => new(
        $"Invoke-Calibrate and Compare-OnnxModel run models in ONNX Runtime, which the {Name} module holds; it is neither loaded nor installed: " +
        $"run 'Install-PSResource {Name}' (it is imported on first use), or 'Import-Module {Name}' (in a clone: build/build-module.sh, then " +
        $"Import-Module ./module/{Name}/{Name}.psd1). Quantizing, lowering and measuring need only QuantShell.",
        ErrorIds.OnnxRuntimeModuleNotInstalled, QuantShellErrorKind.NotFound, Name);

    /// <summary>ONNX Runtime's runner: from the loaded module, or from the installed one, imported now.</summary>
    internal static IModelRunner Runner(PSCmdlet cmdlet)
    {
        var type = Find();
        if (type is null && cmdlet.InvokeCommand.InvokeScript($"Get-Module -ListAvailable -Name '{Name}'").Count > 0)
        {
            cmdlet.InvokeCommand.InvokeScript($"Import-Module -Name '{Name}' -Global -ErrorAction Stop");
            type = Find();
        }
        if (type is null) throw NotInstalled();
        return (IModelRunner)Activator.CreateInstance(type)!;
    }

    private static Type? Find() =>
        AppDomain.CurrentDomain.GetAssemblies().Where(a => a.GetName().Name == AssemblyName).Select(a => a.GetType(RunnerType)).FirstOrDefault(t => t is not null);
}
