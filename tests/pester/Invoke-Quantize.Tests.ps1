BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    $conformanceCases = @(Get-ConformanceCase)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:CommandFqid = 'QuantShell.PowerShell.Commands.InvokeQuantizeCommand'

    function Assert-MatchesExpected([string] $Actual, [string] $Expected, [bool] $ByValue) {
        $actualValues = Get-NpyValueBits $Actual
        $expectedValues = Get-NpyValueBits $Expected
        $actualValues.Shape | Should -Be $expectedValues.Shape
        $actualValues.DType | Should -Be $expectedValues.DType
        if ($ByValue) {
            $actualValues.Bits | Should -Be $expectedValues.Bits
        }
        else {
            Get-NpyDataHex $Actual | Should -Be (Get-NpyDataHex $Expected)
        }
    }
}

Describe 'Invoke-Quantize' {
    Context 'conformance (shared/conformance/cases.json)' {
        It '<Name> matches through Import-InferableQuantizer' -ForEach $conformanceCases {
            $quantizerFile = Join-Path $TestDrive "$Name.json"
            $Quantizer | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $quantizerFile
            $q = Import-InferableQuantizer -LiteralPath $quantizerFile
            $output = Join-Path $TestDrive "$Name.imported.npy"
            $result = Invoke-Quantize -LiteralPath $InputFile -Quantizer $q -OutputPath $output -ErrorAction Stop
            $result.OutputPath | Should -Be $output
            $result.InputPath | Should -Be $InputFile
            Assert-MatchesExpected $output $Expected $ByValue
        }

        It '<Name> matches through New-InferableQuantizer' -ForEach $conformanceCases {
            $parameters = ConvertTo-QuantizerParameter $Quantizer
            $q = New-InferableQuantizer @parameters
            $output = Join-Path $TestDrive "$Name.new.npy"
            $null = Invoke-Quantize -LiteralPath $InputFile -Quantizer $q -OutputPath $output -ErrorAction Stop
            Assert-MatchesExpected $output $Expected $ByValue
        }
    }

    Context 'the seed example' {
        It 'quantizes a (1,3,3,3) .npy into [-4, 4)' {
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
            $values = [float[]](1..27 | ForEach-Object { (Get-Random -Minimum 0.0 -Maximum 1.0) * 100 - 50 })
            $inputFile = New-TestNpy (Join-Path $TestDrive 'seed.npy') @(1, 3, 3, 3) $values
            $result = Invoke-Quantize -Path $inputFile -Quantizer $q
            $result | Should -BeOfType ([QuantShell.Core.Processing.QuantizationResult])
            $result.OutputPath | Should -Be (Join-Path $TestDrive 'seed.q.npy')
            $result.ShapeText | Should -Be '(1, 3, 3, 3)'
            $result.DType | Should -Be 'float32'
            $result.ChannelAxis | Should -Be 3
            @($result.Scale) | Should -Be @(0.015625, 0.03125, 0.0078125)
            $data = [QuantShell.Core.IO.NpyArray]::Read($result.OutputPath).Data
            ($data | Measure-Object -Maximum).Maximum | Should -BeLessThan 4
            ($data | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual -4
        }

        It 'gives the same values as the TorchSharp path' {
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
            $x = [TorchSharp.torch]::rand([long[]]@(1, 3, 3, 3)) * 100 - 50
            $values = [float[]]$x.data[float]().ToArray()
            $inputFile = New-TestNpy (Join-Path $TestDrive 'seed-tensor.npy') @(1, 3, 3, 3) $values
            $result = Invoke-Quantize -LiteralPath $inputFile -Quantizer $q
            $fromFile = [float[]][QuantShell.Core.IO.NpyArray]::Read($result.OutputPath).Data
            $fromTensor = [float[]]$q.Quantize($x).data[float]().ToArray()
            ($fromFile -join ',') | Should -Be ($fromTensor -join ',')
        }
    }

    Context 'paths, pipeline and wildcards' {
        BeforeEach {
            $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
            $null = New-Item -ItemType Directory -Path $dir
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -Threshold 4
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(2, 3) @(0.1, 0.2, -0.3, 1.5, 2.5, -3)
            $b = New-TestNpy (Join-Path $dir 'b.npy') @(3) @(1, 2, 3)
        }

        It 'takes files from Get-ChildItem through the pipeline' {
            $results = Get-ChildItem -LiteralPath $dir -Filter *.npy | Invoke-Quantize -Quantizer $q
            @($results).Count | Should -Be 2
            Test-Path -LiteralPath (Join-Path $dir 'a.q.npy') | Should -BeTrue
            Test-Path -LiteralPath (Join-Path $dir 'b.q.npy') | Should -BeTrue
        }

        It 'expands wildcards in -Path' {
            $results = Invoke-Quantize -Path (Join-Path $dir '*.npy') -Quantizer $q
            @($results.InputPath | Sort-Object) | Should -Be @($a, $b)
        }

        It 'treats -LiteralPath literally' {
            $bracket = New-TestNpy (Join-Path $dir 'x[1].npy') @(2) @(0.5, -0.5)
            $result = Invoke-Quantize -LiteralPath $bracket -Quantizer $q
            $result.OutputPath | Should -Be (Join-Path $dir 'x[1].q.npy')
        }

        It 'reports a wildcard that matches nothing' {
            $results = Invoke-Quantize -Path (Join-Path $dir 'none*.npy') -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $results | Should -BeNullOrEmpty
            @($errors).Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -Be "PathNotFound,$CommandFqid"
        }

        It 'reports a missing literal path' {
            $missing = Join-Path $dir 'missing.npy'
            $null = Invoke-Quantize -LiteralPath $missing -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "InputFileNotFound,$CommandFqid"
            $errors[0].TargetObject | Should -Be $missing
        }

        It 'refuses non-FileSystem paths' {
            $null = Invoke-Quantize -Path 'Env:PATH' -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "PathNotFileSystem,$CommandFqid"
        }

        It 'writes to -OutputPath for a single input' {
            $out = Join-Path $dir 'custom.npy'
            $result = Invoke-Quantize -Path $a -Quantizer $q -OutputPath $out
            $result.OutputPath | Should -Be $out
            Test-Path -LiteralPath $out | Should -BeTrue
        }

        It 'rejects -OutputPath with several inputs and writes nothing' {
            { Invoke-Quantize -Path $a, $b -Quantizer $q -OutputPath (Join-Path $dir 'one.npy') } |
                Should -Throw -ErrorId "OutputPathRequiresSingleInput,$CommandFqid"
            Get-ChildItem -LiteralPath $dir -Filter *.q.npy | Should -BeNullOrEmpty
            Test-Path -LiteralPath (Join-Path $dir 'one.npy') | Should -BeFalse
        }

        It 'creates -OutputDirectory and keeps the file names' {
            $outDir = Join-Path $dir 'out/nested'
            $results = Invoke-Quantize -Path $a, $b -Quantizer $q -OutputDirectory $outDir
            @($results).Count | Should -Be 2
            Test-Path -LiteralPath (Join-Path $outDir 'a.npy') | Should -BeTrue
            Test-Path -LiteralPath (Join-Path $outDir 'b.npy') | Should -BeTrue
        }

        It 'refuses to overwrite its input' {
            $null = Invoke-Quantize -Path $a -Quantizer $q -OutputDirectory $dir -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "OutputIsInput,$CommandFqid"
        }

        It 'shows the result table view' {
            $text = Invoke-Quantize -Path $a -Quantizer $q | Out-String -Width 200
            $text | Should -Match 'Input\s+Shape\s+DType\s+Method\s+NumBits\s+Scale\s+MSE\s+SQNR dB\s+Output'
            $text | Should -Match 'a\.npy\s+\(2, 3\)\s+float32\s+Symmetric\s+8\s+0\.03125'
            $text | Should -Match 'a\.q\.npy'
        }
    }

    Context 'ShouldProcess and -Force' {
        BeforeEach {
            $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
            $null = New-Item -ItemType Directory -Path $dir
            $q = New-InferableQuantizer -Target Activation -Method Pot -NumBits 4 -Threshold 2
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(4) @(0.1, 0.7, -1.9, 3)
        }

        It '-WhatIf writes nothing' {
            $results = Invoke-Quantize -Path $a -Quantizer $q -WhatIf
            $results | Should -BeNullOrEmpty
            Test-Path -LiteralPath (Join-Path $dir 'a.q.npy') | Should -BeFalse
        }

        It '-WhatIf does not create -OutputDirectory' {
            $outDir = Join-Path $dir 'out'
            Invoke-Quantize -Path $a -Quantizer $q -OutputDirectory $outDir -WhatIf
            Test-Path -LiteralPath $outDir | Should -BeFalse
        }

        It 'leaves an existing output untouched without -Force' {
            $out = Join-Path $dir 'a.q.npy'
            Set-Content -LiteralPath $out -Value 'precious'
            $before = Get-FileHash -LiteralPath $out
            $results = Invoke-Quantize -Path $a -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $results | Should -BeNullOrEmpty
            $errors[0].FullyQualifiedErrorId | Should -Be "OutputExists,$CommandFqid"
            $errors[0].CategoryInfo.Category | Should -Be 'ResourceExists'
            (Get-FileHash -LiteralPath $out).Hash | Should -Be $before.Hash
        }

        It 'replaces an existing output with -Force' {
            $out = Join-Path $dir 'a.q.npy'
            Set-Content -LiteralPath $out -Value 'precious'
            $result = Invoke-Quantize -Path $a -Quantizer $q -Force
            $result.OutputPath | Should -Be $out
            [QuantShell.Core.IO.NpyArray]::Read($out).Data | Should -Be @([float]0, [float]0.75, [float]-2, [float]1.75)
        }
    }

    Context 'bad files' {
        BeforeAll {
            $dir = Join-Path $TestDrive 'mixed'
            $null = New-Item -ItemType Directory -Path $dir
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -Threshold 4
            $good = @(
                New-TestNpy (Join-Path $dir 'good1.npy') @(2, 2) @(0.5, -0.5, 1, 2)
                New-TestNpy (Join-Path $dir 'good2.npy') @(3) @(3, 2, 1)
                New-TestNpy (Join-Path $dir 'good3.npy') @(2) @(-1, 1)
            )
            # A text file named like an .npy, and a valid header whose data is cut short.
            $text = Join-Path $dir 'bad.npy'
            Set-Content -LiteralPath $text -Value 'this is not an array'
            $full = New-TestNpy (Join-Path $TestDrive 'full.npy') @(16) (1..16)
            $bytes = [System.IO.File]::ReadAllBytes($full)
            $truncated = Join-Path $dir 'truncated.npy'
            [System.IO.File]::WriteAllBytes($truncated, $bytes[0..($bytes.Length - 9)])
            $nonFinite = New-TestNpy (Join-Path $dir 'nan.npy') @(3) @(1, [float]::NaN, 2)

            $outDir = Join-Path $TestDrive 'mixed-out'
            $results = Get-ChildItem -LiteralPath $dir -Filter *.npy |
                Invoke-Quantize -Quantizer $q -OutputDirectory $outDir -ErrorVariable errors -ErrorAction SilentlyContinue
        }

        It 'writes every good file' {
            @($results).Count | Should -Be 3
            foreach ($file in $good) {
                Test-Path -LiteralPath (Join-Path $outDir (Split-Path -Leaf $file)) | Should -BeTrue
            }
        }

        It 'writes nothing for the bad files' {
            @(Get-ChildItem -LiteralPath $outDir -Force).Name | Sort-Object | Should -Be @('good1.npy', 'good2.npy', 'good3.npy')
        }

        It 'yields one error record per bad file' {
            @($errors).Count | Should -Be 3
            $byTarget = @{}
            foreach ($e in $errors) { $byTarget[$e.TargetObject] = $e }
            $byTarget[$text].FullyQualifiedErrorId | Should -BeLike "Npy*,$CommandFqid"
            $byTarget[$text].CategoryInfo.Category | Should -Be 'InvalidData'
            $byTarget[$truncated].FullyQualifiedErrorId | Should -Be "NpyDataTruncated,$CommandFqid"
            $byTarget[$truncated].CategoryInfo.Category | Should -Be 'InvalidData'
            $byTarget[$nonFinite].FullyQualifiedErrorId | Should -Be "NonFiniteInput,$CommandFqid"
            $byTarget[$nonFinite].Exception.Message | Should -Match '1 non-finite value'
        }

        It 'quantizes non-finite values with -AllowNonFinite' {
            $out = Join-Path $TestDrive 'nan.q.npy'
            $result = Invoke-Quantize -LiteralPath $nonFinite -Quantizer $q -OutputPath $out -AllowNonFinite
            $result.NonFiniteCount | Should -Be 1
            $data = [QuantShell.Core.IO.NpyArray]::Read($out).Data
            [float]::IsNaN($data[1]) | Should -BeTrue
        }
    }

    Context 'help' {
        It 'has help with examples' {
            $help = Get-Help Invoke-Quantize -Examples
            @($help.examples.example).Count | Should -BeGreaterOrEqual 3
            ($help.examples.example.code -join "`n") | Should -Match 'Get-ChildItem .* \| Invoke-Quantize'
        }
    }
}
