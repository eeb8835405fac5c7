BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
}

Describe 'QuantShell module' {
    It 'exports exactly the ten cmdlets' {
        (Get-Command -Module QuantShell).Name | Sort-Object |
            Should -Be @('Compare-OnnxModel', 'ConvertTo-StandardOnnx', 'Export-InferableQuantizer', 'Get-QuantTensor', 'Import-InferableQuantizer', 'Invoke-Calibrate', 'Invoke-Dequantize', 'Invoke-Quantize', 'Measure-Quantization', 'New-InferableQuantizer')
    }

    # The version itself is Directory.Build.props' (Package.Tests.ps1 checks it).
    It 'declares PowerShell 7.4 Core' {
        $manifest = Import-PowerShellDataFile -LiteralPath $ManifestPath
        $manifest.PowerShellVersion | Should -Be '7.4'
        $manifest.CompatiblePSEditions | Should -Be @('Core')
    }

    It 'has help with examples for every exported cmdlet' {
        foreach ($command in Get-Command -Module QuantShell) {
            $examples = @((Get-Help $command.Name -Examples).examples.example)
            $examples.Count | Should -BeGreaterThan 0 -Because "$($command.Name) needs examples"
            $examples[0].code | Should -Not -BeNullOrEmpty
        }
    }

    It 'finds the help file beside the DLL' {
        $dll = (Get-Command Invoke-Quantize).DLL
        Test-Path -LiteralPath (Join-Path (Split-Path $dll) 'en-US/QuantShell.PowerShell.dll-Help.xml') | Should -BeTrue
    }
}
