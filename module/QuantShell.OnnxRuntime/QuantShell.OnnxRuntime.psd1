# The QuantShell.OnnxRuntime module: ONNX Runtime (CPU, linux-x64 natives, about 30 MB) for Invoke-Calibrate and
# Compare-OnnxModel, kept apart so that QuantShell itself stays small. build/build-module.sh publishes its assemblies
# into bin/ beside this file; build/pack-module.ps1 stages and packs it with the version of Directory.Build.props
# (tests/pester/Package.Tests.ps1 checks that the versions below are that one). The two cmdlets are QuantShell's: they
# import this module on first use when it is installed.
@{
    # Loaded at import: QuantShell's cmdlets find QuantShell.OnnxRuntime's runner among the loaded assemblies.
    RequiredAssemblies   = @('bin/Microsoft.ML.OnnxRuntime.dll', 'bin/QuantShell.OnnxRuntime.dll')
    # QuantShell.OnnxRuntime.dll is built against this very QuantShell.Core.dll, which the QuantShell module loads.
    RequiredModules      = @(@{ ModuleName = 'QuantShell'; RequiredVersion = '0.1.0'; GUID = '5b7c2f0e-8d1a-4c36-9a55-2f4e6b1d7c90' })
    ModuleVersion        = '0.1.0'
    GUID                 = '0f3a7c52-6b1e-4d8a-9c2f-71e5b4a3d609'
    Author               = 'QuantShell'
    CompanyName          = 'QuantShell'
    Copyright            = '(c) QuantShell contributors. MIT License. ONNX Runtime: MIT (Microsoft).'
    Description          = 'ONNX Runtime for QuantShell (Sony MCT''s nine inferable quantizers in .NET): Invoke-Calibrate (activation quantizers of an ONNX model calibrated from sample inputs, as MCT''s post-training quantization) and Compare-OnnxModel (SQNR, errors, top-1 agreement, size and latency of a quantized model against the float one) run models with it. Ships Microsoft.ML.OnnxRuntime 1.31.1 with its CPU natives for linux-x64; install it only to calibrate or compare (quantizing needs only QuantShell).'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    CmdletsToExport      = @()
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('quantization', 'MCT', 'ONNX', 'OnnxRuntime', 'calibration', 'PSEdition_Core', 'Linux')
            ProjectUri   = 'https://github.com/QuantShell/QuantShell'
            LicenseUri   = 'https://opensource.org/license/mit'
            ReleaseNotes = 'See CHANGELOG.md.'
        }
    }
}
