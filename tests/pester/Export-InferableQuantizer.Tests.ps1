BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
}

Describe 'Export-InferableQuantizer' {
    BeforeEach {
        $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed -ChannelAxis 1
    }

    It 'writes the JSON quantizer-file format' {
        $path = Join-Path $TestDrive 'seed.json'
        Export-InferableQuantizer -Quantizer $q -Path $path
        $json = Get-Content -Raw -LiteralPath $path | ConvertFrom-Json
        $json.target | Should -Be 'weights'
        $json.method | Should -Be 'symmetric'
        $json.numBits | Should -Be 8
        @($json.threshold) | Should -Be @(2, 4, 1)
        $json.signed | Should -BeTrue
        $json.perChannel | Should -BeTrue
        $json.channelAxis | Should -Be 1
    }

    It 'accepts the quantizer from the pipeline' {
        $path = Join-Path $TestDrive 'piped.json'
        New-InferableQuantizer -Target Activation -Method Uniform -NumBits 8 -MinRange -1.5 -MaxRange 2.5 | Export-InferableQuantizer -Path $path
        $json = Get-Content -Raw -LiteralPath $path | ConvertFrom-Json
        $json.target | Should -Be 'activation'
        @($json.minRange) | Should -Be @(-1.5)
        @($json.maxRange) | Should -Be @(2.5)
    }

    It 'round-trips through Import-InferableQuantizer' {
        $path = Join-Path $TestDrive 'roundtrip.json'
        $q | Export-InferableQuantizer -Path $path
        $back = Import-InferableQuantizer -Path $path
        $back.GetType() | Should -Be $q.GetType()
        $back.Spec.NumBits | Should -Be $q.Spec.NumBits
        @($back.Spec.Threshold) | Should -Be @($q.Spec.Threshold)
        $back.Spec.IsSigned | Should -Be $q.Spec.IsSigned
        $back.Spec.ChannelAxis | Should -Be 1
        @($back.Parameters.Scales) | Should -Be @($q.Parameters.Scales)
        @($back.Parameters.ZeroPoints) | Should -Be @($q.Parameters.ZeroPoints)
    }

    It 'writes nothing with -WhatIf' {
        $path = Join-Path $TestDrive 'whatif.json'
        Export-InferableQuantizer -Quantizer $q -Path $path -WhatIf
        Test-Path -LiteralPath $path | Should -BeFalse
    }

    It 'leaves an existing file untouched without -Force and replaces it with -Force' {
        $path = Join-Path $TestDrive 'existing.json'
        Set-Content -LiteralPath $path -Value 'keep me'
        { Export-InferableQuantizer -Quantizer $q -Path $path } | Should -Throw -ErrorId 'OutputExists,*'
        Get-Content -Raw -LiteralPath $path | Should -Be "keep me$([Environment]::NewLine)"

        Export-InferableQuantizer -Quantizer $q -Path $path -Force
        (Get-Content -Raw -LiteralPath $path | ConvertFrom-Json).method | Should -Be 'symmetric'
    }

    It 'refuses a second quantizer piped to one file' {
        $path = Join-Path $TestDrive 'two.json'
        $two = @(
            New-InferableQuantizer -Method Pot -NumBits 8 -Threshold 2
            New-InferableQuantizer -Method Pot -NumBits 4 -Threshold 2
        )
        { $two | Export-InferableQuantizer -Path $path -Force } | Should -Throw -ErrorId 'MultipleQuantizersForOneFile,*'
    }

    It 'exports the quantizer a result describes: its Quantizer property, or the result piped whole' {
        $x = Join-Path $TestDrive 'w.npy'
        $null = New-TestNpy -Path $x -Shape 3, 4 -Values @(0.1, -0.5, 0.25, 1.5, -2, 0.75, 0.3, -0.1, 0.9, -1.2, 0.05, 0.6)
        $result = Invoke-Quantize -Path $x -Method Symmetric -NumBits 4 -PerChannel -OutputPath (Join-Path $TestDrive 'w.q.npy')
        @($result.Quantizer.Threshold).Count | Should -Be 3

        $fromProperty = Join-Path $TestDrive 'from-property.json'
        $result.Quantizer | Export-InferableQuantizer -Path $fromProperty
        $back = Import-InferableQuantizer -Path $fromProperty
        @($back.Spec.Threshold) | Should -Be @($result.Quantizer.Threshold)
        $back.Spec.NumBits | Should -Be 4

        $fromResult = Join-Path $TestDrive 'from-result.json'
        $result | Export-InferableQuantizer -Path $fromResult
        Get-Content -Raw -LiteralPath $fromResult | Should -Be (Get-Content -Raw -LiteralPath $fromProperty)

        # The same quantizer applied again gives the same bytes.
        Invoke-Quantize -Path $x -Quantizer $result.Quantizer -OutputPath (Join-Path $TestDrive 'again.npy')
        [IO.File]::ReadAllBytes((Join-Path $TestDrive 'again.npy')) | Should -Be ([IO.File]::ReadAllBytes((Join-Path $TestDrive 'w.q.npy')))
    }

    It 'returns the file with -PassThru' {
        $path = Join-Path $TestDrive 'passthru.json'
        $file = Export-InferableQuantizer -Quantizer $q -Path $path -PassThru
        $file | Should -BeOfType ([System.IO.FileInfo])
        $file.FullName | Should -Be $path
    }

    It 'has help with examples' {
        @((Get-Help Export-InferableQuantizer -Examples).examples.example).Count | Should -BeGreaterOrEqual 2
    }
}
