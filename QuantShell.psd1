# The QuantShell module's manifest, for a clone: Import-Module ./QuantShell.psd1 after build/build-module.sh.
# build/pack-module.ps1 generates the installed module's manifest from this file (its paths made relative to the
# installed folder, the version from Directory.Build.props), so this is the one manifest kept by hand;
# tests/pester/Package.Tests.ps1 checks that its ModuleVersion is Directory.Build.props' <Version>.
@{
    # The binary module is loaded as a nested module (not RootModule) so that Get-Help finds
    # QuantShell.PowerShell.dll-Help.xml in module/bin/en-US beside the DLL: for a RootModule, PowerShell searches
    # only the manifest folder (the repository root).
    NestedModules        = @('module/bin/QuantShell.PowerShell.dll')
    # Checks that the module is built (a clear message if not), then loads QuantShell.Core.dll so that
    # [QuantShell.Core.Formats.NpyArray] resolves in scripts. TorchSharp is never loaded by this module: the Tensor path
    # ($quantizer.Quantize($tensor)) is the QuantShell.Torch module.
    ScriptsToProcess     = @('module/QuantShell.Init.ps1')
    ModuleVersion        = '0.1.0'
    GUID                 = '5b7c2f0e-8d1a-4c36-9a55-2f4e6b1d7c90'
    Author               = 'QuantShell'
    CompanyName          = 'QuantShell'
    Copyright            = '(c) QuantShell contributors. MIT License.'
    Description          = 'Sony MCT''s inferable quantizers for PowerShell, bit for bit identical with MCT on PyTorch: all nine (POT, symmetric and uniform for weights and activations; LUT POT and LUT symmetric for weights, LUT POT for activations), with values given or chosen from data (MSE, MAE, Lp, KL, percentile; k-means tables). Quantizes, measures and dequantizes .npy files and model files (.npz, safetensors, PyTorch torch.save checkpoints) lowers MCT''s exported ONNX models to standard ONNX, and calibrates an ONNX model''s activations from sample inputs (Invoke-Calibrate; ONNX Runtime from the separate QuantShell.OnnxRuntime module, imported on first use). No libtorch (its only native code is SkiaSharp''s, for plots, linux-x64); TorchSharp tensors need the separate QuantShell.Torch module.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('module/QuantShell.Format.ps1xml')
    TypesToProcess       = @('module/QuantShell.Types.ps1xml')
    CmdletsToExport      = @(
        'New-InferableQuantizer'
        'Import-InferableQuantizer'
        'Export-InferableQuantizer'
        'Invoke-Quantize'
        'Measure-Quantization'
        'Get-QuantTensor'
        'Invoke-Dequantize'
        'ConvertTo-StandardOnnx'
        'Invoke-Calibrate'
        'Compare-OnnxModel'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('quantization', 'MCT', 'model-compression', 'npy', 'safetensors', 'PyTorch', 'ONNX', 'deep-learning', 'PSEdition_Core', 'Linux')
            ProjectUri   = 'https://github.com/QuantShell/QuantShell'
            LicenseUri   = 'https://opensource.org/license/mit'
            # The installed manifest gets this version's section of CHANGELOG.md here (build/pack-module.ps1).
            ReleaseNotes = 'See CHANGELOG.md.'
        }
    }
}
