@{
    # The binary module is loaded as a nested module (not RootModule) so that Get-Help finds
    # QuantShell.PowerShell.dll-Help.xml in module/bin/en-US beside the DLL: for a RootModule, PowerShell searches
    # only the manifest folder (the repository root).
    NestedModules        = @('module/bin/QuantShell.PowerShell.dll')
    # Checks that the module is built (a clear message if not), then loads TorchSharp.dll and QuantShell.Core.dll so
    # that [TorchSharp.torch] resolves in scripts that pass tensors to $quantizer.Quantize().
    ScriptsToProcess     = @('module/QuantShell.Init.ps1')
    ModuleVersion        = '0.1.0'
    GUID                 = '5b7c2f0e-8d1a-4c36-9a55-2f4e6b1d7c90'
    Author               = 'QuantShell'
    CompanyName          = 'QuantShell'
    Copyright            = '(c) QuantShell. All rights reserved.'
    Description          = 'MCT-compatible inferable quantizers (POT, symmetric, uniform; weights and activations) for .npy files and TorchSharp tensors; lowers MCT''s exported ONNX models to standard ONNX.'
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
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags = @('quantization', 'MCT', 'TorchSharp', 'npy', 'ONNX')
        }
    }
}
