# The QuantShell.Torch module: the Tensor path ($quantizer.Quantize($tensor)) with TorchSharp and libtorch's natives
# (linux-x64, about 480 MB), kept apart so that QuantShell itself stays small. build/build-module.sh publishes its
# assemblies into bin/ beside this file; build/pack-module.ps1 stages and packs it with the version of
# Directory.Build.props (tests/pester/Package.Tests.ps1 checks that the versions below are that one).
@{
    # Loaded at import, so that [TorchSharp.torch] resolves in scripts and QuantShell's Quantize script method
    # (QuantShell.Types.ps1xml) finds [QuantShell.Torch.TensorQuantization].
    RequiredAssemblies   = @('bin/TorchSharp.dll', 'bin/QuantShell.Torch.dll')
    # QuantShell.Torch.dll is built against this very QuantShell.Core.dll, which the QuantShell module loads.
    RequiredModules      = @(@{ ModuleName = 'QuantShell'; RequiredVersion = '0.1.0'; GUID = '5b7c2f0e-8d1a-4c36-9a55-2f4e6b1d7c90' })
    ModuleVersion        = '0.1.0'
    GUID                 = 'd3176e46-8e17-4801-b8a0-0c09ab19d18c'
    Author               = 'QuantShell'
    CompanyName          = 'QuantShell'
    Copyright            = '(c) QuantShell contributors. MIT License. libtorch: BSD-3-Clause (PyTorch); TorchSharp: MIT (.NET Foundation).'
    Description          = 'The TorchSharp Tensor path of QuantShell: $quantizer.Quantize($tensor) for all nine of Sony MCT''s inferable quantizers, bit for bit identical with MCT on PyTorch. Ships TorchSharp and the libtorch CPU natives for linux-x64; install it only to quantize TorchSharp tensors (files, checkpoints and ONNX models need only QuantShell).'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    CmdletsToExport      = @()
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('quantization', 'MCT', 'TorchSharp', 'libtorch', 'PyTorch', 'tensor', 'PSEdition_Core', 'Linux')
            ProjectUri   = 'https://github.com/QuantShell/QuantShell'
            LicenseUri   = 'https://opensource.org/license/mit'
            ReleaseNotes = 'See CHANGELOG.md.'
        }
    }
}
