BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    $invalidCases = @(
        @{ Id = 'ThresholdNotPowerOfTwo'; Parameters = @{ Target = 'Weights'; Method = 'Pot'; NumBits = 8; Threshold = 3.0 }; Target = 3.0 }
        @{ Id = 'NumBitsOutOfRange'; Parameters = @{ Target = 'Weights'; Method = 'Symmetric'; NumBits = 17; Threshold = 1.0 }; Target = 17 }
        @{ Id = 'NumBitsOutOfRange'; Parameters = @{ Target = 'Activation'; Method = 'Uniform'; NumBits = 0; MinRange = -1.0; MaxRange = 1.0 }; Target = 0 }
        @{ Id = 'PerChannelActivationNotSupported'; Parameters = @{ Target = 'Activation'; Method = 'Pot'; NumBits = 8; Threshold = 4.0; PerChannel = $true }; Target = $true }
        @{ Id = 'ThresholdNotPositive'; Parameters = @{ Target = 'Weights'; Method = 'Symmetric'; NumBits = 8; Threshold = -1.0 }; Target = -1.0 }
        @{ Id = 'ThresholdMissing'; Parameters = @{ Target = 'Weights'; Method = 'Symmetric'; NumBits = 8 }; Target = 'Threshold' }
        @{ Id = 'ValueCountMismatch'; Parameters = @{ Target = 'Weights'; Method = 'Symmetric'; NumBits = 8; Threshold = 1.0, 2.0 }; Target = '1 2' }
        @{ Id = 'RangeMinNotBelowMax'; Parameters = @{ Target = 'Weights'; Method = 'Uniform'; NumBits = 8; MinRange = 2.0; MaxRange = 1.0 }; Target = 2.0 }
        @{ Id = 'RangeCountMismatch'; Parameters = @{ Target = 'Weights'; Method = 'Uniform'; NumBits = 8; MinRange = -1.0, -2.0; MaxRange = 1.0; PerChannel = $true }; Target = '1' }
        @{ Id = 'ParameterNotApplicable'; Parameters = @{ Target = 'Weights'; Method = 'Uniform'; NumBits = 8; MinRange = -1.0; MaxRange = 1.0; Threshold = 1.0 }; Target = 1.0 }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
}

Describe 'New-InferableQuantizer' {
    Context 'valid parameters' {
        It 'creates the seed example as a WeightsSymmetricInferableQuantizer' {
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
            $q.GetType().Name | Should -Be 'WeightsSymmetricInferableQuantizer'
            $q.Target | Should -Be 'Weights'
            $q.Method | Should -Be 'Symmetric'
            $q.NumBits | Should -Be 8
            $q.PerChannel | Should -BeTrue
            $q.Spec.IsSigned | Should -BeTrue
            @($q.Parameters.Scales) | Should -Be @(0.015625, 0.03125, 0.0078125)
            $q.Parameters.QuantMin | Should -Be -128
            $q.Parameters.QuantMax | Should -Be 127
        }

        It 'quantizes the seed example tensor into [-4, 4) (TorchSharp path)' {
            Import-Module $TorchManifestPath   # the Tensor path: TorchSharp and libtorch
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
            $x = [TorchSharp.torch]::rand([long[]]@(1, 3, 3, 3)) * 100 - 50
            $y = $q.Quantize($x)
            @($y.shape) | Should -Be @(1, 3, 3, 3)
            $y.dtype | Should -Be 'Float32'
            $y.max().item[float]() | Should -BeLessThan 4
            $y.min().item[float]() | Should -BeGreaterOrEqual -4
            # The channels are on axis 1, the first of length 3: channel 2 (threshold 1) saturates at 1 - 1/128 at most.
            $y.select(1, 2).max().item[float]() | Should -BeLessOrEqual (1 - 1 / 128)
            $y.select(1, 1).abs().max().item[float]() | Should -BeGreaterThan 1
        }

        It 'is signed when -Signed is not given and unsigned with -Signed:$false' {
            $default = New-InferableQuantizer -Target Activation -Method Pot -NumBits 8 -Threshold 4
            $default.Spec.Signed | Should -BeNullOrEmpty
            $default.Spec.IsSigned | Should -BeTrue
            $default.Parameters.QuantMin | Should -Be -128

            $unsigned = New-InferableQuantizer -Target Activation -Method Pot -NumBits 8 -Threshold 4 -Signed:$false
            $unsigned.Spec.IsSigned | Should -BeFalse
            $unsigned.Parameters.QuantMin | Should -Be 0
            $unsigned.Parameters.QuantMax | Should -Be 255
            @($unsigned.Parameters.Scales) | Should -Be @(4 / 256)
        }

        It 'creates each of the six classes' -ForEach @(
            @{ Target = 'Weights'; Method = 'Pot'; Class = 'WeightsPOTInferableQuantizer' }
            @{ Target = 'Weights'; Method = 'Symmetric'; Class = 'WeightsSymmetricInferableQuantizer' }
            @{ Target = 'Weights'; Method = 'Uniform'; Class = 'WeightsUniformInferableQuantizer' }
            @{ Target = 'Activation'; Method = 'Pot'; Class = 'ActivationPOTInferableQuantizer' }
            @{ Target = 'Activation'; Method = 'Symmetric'; Class = 'ActivationSymmetricInferableQuantizer' }
            @{ Target = 'Activation'; Method = 'Uniform'; Class = 'ActivationUniformInferableQuantizer' }
        ) {
            $values = if ($Method -eq 'Uniform') { @{ MinRange = -1.5; MaxRange = 2.5 } } else { @{ Threshold = 2 } }
            $q = New-InferableQuantizer -Target $Target -Method $Method -NumBits 8 @values
            $q.GetType().Name | Should -Be $Class
        }

        It 'keeps an explicit channel axis' {
            $q = New-InferableQuantizer -Target Weights -Method Uniform -NumBits 4 -MinRange -1, -2 -MaxRange 1, 2 -PerChannel -ChannelAxis 0
            $q.Spec.ChannelAxis | Should -Be 0
            $q.Parameters.Count | Should -Be 2
        }

        It 'shows the format view columns' {
            $text = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 | Out-String -Width 200
            $text | Should -Match 'Target\s+Method\s+NumBits\s+Signed\s+Threshold / Range / LUT\s+PerChannel\s+ChannelAxis\s+Scales'
            $text | Should -Match 'Weights\s+Symmetric\s+8\s+True\s+2, 4, 1\s+True\s+auto\s+0\.015625, 0\.03125, 0\.0078125'
        }
    }

    Context 'invalid parameters' {
        It 'throws a terminating <Id> error' -ForEach $invalidCases {
            $record = $null
            try { New-InferableQuantizer @Parameters } catch { $record = $_ }
            $record | Should -Not -BeNullOrEmpty
            $record.FullyQualifiedErrorId | Should -BeLike "$Id,QuantShell.PowerShell.Commands.NewInferableQuantizerCommand"
            $record.CategoryInfo.Category | Should -Be 'InvalidArgument'
            "$($record.TargetObject)" | Should -Be "$Target"
            $record.Exception | Should -BeOfType ([QuantShell.Core.Errors.QuantizerValidationException])
        }

        It 'names the parameter and value in the message' {
            { New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 3 } |
                Should -Throw -ExpectedMessage '*Threshold must be a power of two*3*' -ErrorId 'ThresholdNotPowerOfTwo,*'
        }

        It 'rejects an unknown method at binding time' {
            { New-InferableQuantizer -Target Weights -Method Cubic -NumBits 8 -Threshold 1 } |
                Should -Throw -ErrorId 'CannotConvertArgumentNoMessage,*'
        }
    }

    Context 'from data (-FromPath, -FromLiteralPath)' {
        BeforeAll {
            $fqid = 'QuantShell.PowerShell.Commands.NewInferableQuantizerCommand'
            $dir = Join-Path $TestDrive 'from-data'
            $null = New-Item -ItemType Directory -Path $dir
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(2, 3) @(0.1, -0.7, 0.35, 1.2, -2.9, 0.05)
            $b = New-TestNpy (Join-Path $dir 'b.npy') @(3) @(0.6, -3.5, 0.9)
        }

        It 'chooses a POT threshold with the defaults Weights and 8 bits, without quantizing' {
            $q = New-InferableQuantizer -Method Pot -FromPath $a
            $q.GetType().Name | Should -Be 'WeightsPOTInferableQuantizer'
            $q.NumBits | Should -Be 8
            [double]::IsPow2($q.Spec.Threshold[0]) | Should -BeTrue
            Test-Path -LiteralPath (Join-Path $dir 'a.q.npy') | Should -BeFalse
        }

        It 'chooses what Invoke-Quantize chooses for the same file' {
            $q = New-InferableQuantizer -Method Symmetric -NumBits 5 -FromPath $a
            $result = Invoke-Quantize -Path $a -Method Symmetric -NumBits 5 -OutputPath (Join-Path $TestDrive 'same.npy')
            @($q.Spec.Threshold) | Should -Be @($result.Threshold)
        }

        It 'honours -ErrorMethod NoClipping and pools several files' {
            (New-InferableQuantizer -Method Pot -FromPath $a -ErrorMethod NoClipping).Spec.Threshold[0] | Should -Be 4
            (New-InferableQuantizer -Method Pot -FromPath (Join-Path $dir '*.npy') -ErrorMethod NoClipping).Spec.Threshold[0] | Should -Be 4
            $uniform = New-InferableQuantizer -Target Activation -Method Uniform -FromPath $a, $b -ErrorMethod NoClipping
            $uniform.Spec.MinRange[0] | Should -BeLessOrEqual -3.5
        }

        It 'takes -FromLiteralPath from the pipeline' {
            $q = Get-ChildItem -LiteralPath $dir -Filter *.npy | New-InferableQuantizer -Method Symmetric -ErrorMethod NoClipping
            @($q).Count | Should -Be 1
            $q.Spec.Threshold[0] | Should -Be ([double][float]3.5)
        }

        It 'chooses per channel' {
            $q = New-InferableQuantizer -Method Symmetric -PerChannel -ChannelAxis 0 -FromPath $a -ErrorMethod NoClipping
            @($q.Spec.Threshold) | Should -Be @([double][float]0.7, [double][float]2.9)
        }

        It 'rejects a threshold or range given together with -FromPath' {
            { New-InferableQuantizer -Method Pot -Threshold 4 -FromPath $a } | Should -Throw -ErrorId "SelectionOptionNotApplicable,$fqid"
            { New-InferableQuantizer -Method Uniform -MinRange -1 -MaxRange 1 -FromPath $a } | Should -Throw -ErrorId "SelectionOptionNotApplicable,$fqid"
        }

        It 'reports each -FromPath that names no file, and nothing else: no quantizer, no second error' {
            $missing = Join-Path $dir 'missing.npy'
            $out = New-InferableQuantizer -Method Pot -FromPath $missing, (Join-Path $dir 'none*.npy') -ErrorVariable failures -ErrorAction SilentlyContinue
            $out | Should -BeNullOrEmpty
            @($failures).Count | Should -Be 2
            $failures[0].FullyQualifiedErrorId | Should -BeLike "InputFileNotFound,*"
        }

        It 'with one readable file among unreadable ones, reports each unreadable one and chooses from the rest' {
            $bad = Join-Path $dir 'bad.npy'
            [IO.File]::WriteAllBytes($bad, [byte[]](1, 2, 3))
            $q = New-InferableQuantizer -Method Pot -FromPath $a, $bad -ErrorMethod NoClipping -ErrorVariable failures -ErrorAction SilentlyContinue
            $q.Spec.Threshold[0] | Should -Be 4
            @($failures).Count | Should -Be 1
            Remove-Item -LiteralPath $bad
        }

        It 'rejects -P without -ErrorMethod Lp' {
            { New-InferableQuantizer -Method Pot -FromPath $a -P 3 } | Should -Throw -ErrorId "ParameterNotApplicable,$fqid"
        }

        It 'reports an unreadable file and chooses from the others' {
            $bad = Join-Path $TestDrive 'bad.npy'
            Set-Content -LiteralPath $bad -Value 'not an array'
            $q = New-InferableQuantizer -Method Pot -FromPath $a, $bad -ErrorMethod NoClipping -ErrorVariable errors -ErrorAction SilentlyContinue
            $q.Spec.Threshold[0] | Should -Be 4
            @($errors).Count | Should -Be 1
            $errors[0].TargetObject | Should -Be $bad
        }
    }

    Context 'tab completion and help' {
        It 'completes -Method values' {
            $line = 'New-InferableQuantizer -Method '
            $completions = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
            $completions | Should -Be @('LutPot', 'LutSymmetric', 'Pot', 'Symmetric', 'Uniform')
        }

        It 'completes -Target values from a prefix' {
            $line = 'New-InferableQuantizer -Target Act'
            (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText | Should -Be 'Activation'
        }

        It 'has help with examples' {
            $help = Get-Help New-InferableQuantizer -Examples
            @($help.examples.example).Count | Should -BeGreaterOrEqual 2
            $help.examples.example[0].code | Should -Match 'New-InferableQuantizer'
            (Get-Help New-InferableQuantizer).Synopsis | Should -Match 'inferable quantizer'
        }
    }
}
