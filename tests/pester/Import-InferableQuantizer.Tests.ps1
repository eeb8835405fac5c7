BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
}

Describe 'Import-InferableQuantizer' {
    It 'reads the documented JSON format' {
        $path = Join-Path $TestDrive 'act.json'
        Set-Content -LiteralPath $path -Value '{"target": "activation", "method": "uniform", "numBits": 8, "minRange": [-1.5], "maxRange": [2.5]}'
        $q = Import-InferableQuantizer -Path $path
        $q.GetType().Name | Should -Be 'ActivationUniformInferableQuantizer'
        $q.NumBits | Should -Be 8
    }

    It "accepts MCT's snake_case names" {
        $path = Join-Path $TestDrive 'snake.json'
        Set-Content -LiteralPath $path -Value '{"target": "weights", "method": "pot", "num_bits": 4, "threshold": [1, 2], "per_channel": true, "channel_axis": 0}'
        $q = Import-InferableQuantizer -Path $path
        $q.GetType().Name | Should -Be 'WeightsPOTInferableQuantizer'
        $q.Spec.ChannelAxis | Should -Be 0
        $q.PerChannel | Should -BeTrue
    }

    It 'binds -LiteralPath from Get-ChildItem output' {
        $path = Join-Path $TestDrive 'piped[1].json'
        Set-Content -LiteralPath $path -Value '{"target": "weights", "method": "symmetric", "numBits": 8, "threshold": [2]}'
        $q = Get-Item -LiteralPath $path | Import-InferableQuantizer
        $q.GetType().Name | Should -Be 'WeightsSymmetricInferableQuantizer'
    }

    It 'reads every conformance quantizer' {
        foreach ($case in Get-ConformanceCase) {
            $path = Join-Path $TestDrive "$($case.Name).json"
            $case.Quantizer | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $path
            $q = Import-InferableQuantizer -LiteralPath $path
            $q.Method | Should -Be $case.Quantizer.method
        }
    }

    It 'throws <Id> for <Case>' -ForEach @(
        @{ Case = 'a missing file'; Content = $null; Id = 'QuantizerFileNotFound'; Category = 'ObjectNotFound' }
        @{ Case = 'invalid JSON'; Content = '{"target": '; Id = 'QuantizerFileInvalid'; Category = 'InvalidData' }
        @{ Case = 'a missing field'; Content = '{"target": "weights", "method": "pot"}'; Id = 'QuantizerFieldMissing'; Category = 'InvalidArgument' }
        @{ Case = 'a non-POT threshold'; Content = '{"target": "weights", "method": "pot", "numBits": 8, "threshold": [3]}'; Id = 'ThresholdNotPowerOfTwo'; Category = 'InvalidArgument' }
    ) {
        $path = Join-Path $TestDrive "bad-$Id.json"
        if ($null -ne $Content) { Set-Content -LiteralPath $path -Value $Content }
        $record = $null
        try { Import-InferableQuantizer -LiteralPath $path } catch { $record = $_ }
        $record.FullyQualifiedErrorId | Should -Be "$Id,QuantShell.PowerShell.Commands.ImportInferableQuantizerCommand"
        $record.CategoryInfo.Category | Should -Be $Category
        $record.TargetObject | Should -Be $path
    }

    It 'reports a wildcard that matches nothing' {
        { Import-InferableQuantizer -Path (Join-Path $TestDrive 'nothing*.json') } | Should -Throw -ErrorId 'InputFileNotFound,*'
    }

    It 'has help with examples' {
        @((Get-Help Import-InferableQuantizer -Examples).examples.example).Count | Should -BeGreaterOrEqual 2
    }
}
