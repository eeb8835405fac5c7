using QuantShell.Core.Errors;

namespace QuantShell.PowerShell;

/// <summary>
/// The QuantShell.Torch module as this module knows it: the Tensor path (<c>$quantizer.Quantize($tensor)</c>) lives
/// there, with TorchSharp and libtorch, so that QuantShell itself ships no libtorch. The Quantize script method
/// (module/QuantShell.Types.ps1xml) raises <see cref="NotInstalled"/> when that module is neither loaded nor installed.
/// </summary>
public static class TensorModule
{
    /// <summary>The module that holds the Tensor path.</summary>
    public const string Name = "QuantShell.Torch";

    /// <summary>The error of a Tensor path call without QuantShell.Torch: what to install, and that files need none of it.</summary>
    public static QuantShellException NotInstalled() => new(
        $"$quantizer.Quantize($tensor) needs the {Name} module (TorchSharp and libtorch), which is neither loaded nor installed: " +
        $"run 'Install-PSResource {Name}', then 'Import-Module {Name}' (in a clone: build/build-module.sh, then " +
        $"Import-Module ./module/{Name}/{Name}.psd1). Files, checkpoints and ONNX models need only QuantShell (Invoke-Quantize).",
        ErrorIds.TensorModuleNotInstalled, QuantShellErrorKind.NotFound, Name);
}
