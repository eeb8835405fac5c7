BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    $conformanceCases = @(Get-ConformanceCase -Suite conformance)
    $mctCases = @(Get-ConformanceCase -Suite conformance-mct)
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
    Context 'conformance (shared/conformance and shared/conformance-mct)' {
        It 'runs every case of both suites' -ForEach @{ PyTorchCount = $conformanceCases.Count; MctCount = $mctCases.Count; LutCount = @($mctCases | Where-Object { $_.Quantizer.method -like 'lut*' }).Count } {
            $PyTorchCount | Should -BeGreaterOrEqual 62
            $MctCount | Should -Be 96
            $LutCount | Should -Be 36
        }

        It '<Suite>/<Name> matches through Import-InferableQuantizer' -ForEach ($conformanceCases + $mctCases) {
            $quantizerFile = Join-Path $TestDrive "$Suite-$Name.json"
            $Quantizer | ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $quantizerFile
            $q = Import-InferableQuantizer -LiteralPath $quantizerFile
            $output = Join-Path $TestDrive "$Suite-$Name.imported.npy"
            $result = Invoke-Quantize -LiteralPath $InputFile -Quantizer $q -OutputPath $output -ErrorAction Stop
            $result.OutputPath | Should -Be $output
            $result.InputPath | Should -Be $InputFile
            Assert-MatchesExpected $output $Expected $ByValue
        }

        It '<Suite>/<Name> matches through New-InferableQuantizer' -ForEach ($conformanceCases + $mctCases) {
            $parameters = ConvertTo-QuantizerParameter $Quantizer
            $q = New-InferableQuantizer @parameters
            $output = Join-Path $TestDrive "$Suite-$Name.new.npy"
            $null = Invoke-Quantize -LiteralPath $InputFile -Quantizer $q -OutputPath $output -ErrorAction Stop
            Assert-MatchesExpected $output $Expected $ByValue
        }
    }

    Context 'the seed example' {
        It 'quantizes a (1,3,3,3) .npy into [-4, 4)' {
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
            $random = [System.Random]::new(7)
            $values = [float[]](1..27 | ForEach-Object { $random.NextDouble() * 100 - 50 })
            $inputFile = New-TestNpy (Join-Path $TestDrive 'seed.npy') @(1, 3, 3, 3) $values
            $result = Invoke-Quantize -Path $inputFile -Quantizer $q
            $result | Should -BeOfType ([QuantShell.Core.Jobs.Quantize.QuantizationResult])
            $result.OutputPath | Should -Be (Join-Path $TestDrive 'seed.q.npy')
            $result.ShapeText | Should -Be '(1, 3, 3, 3)'
            $result.DType | Should -Be 'float32'
            # No axis given: the first axis of length 3, and the result says so (in its quantizer too).
            $result.ChannelAxis | Should -Be 1
            $result.Quantizer.ChannelAxis | Should -Be 1
            @($result.Scale) | Should -Be @(0.015625, 0.03125, 0.0078125)
            $data = [QuantShell.Core.Formats.NpyArray]::Read($result.OutputPath).Data
            ($data | Measure-Object -Maximum).Maximum | Should -BeLessThan 4
            ($data | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual -4
        }

        It 'gives the same values as the TorchSharp path' {
            Import-Module $TorchManifestPath   # the Tensor path: TorchSharp and libtorch
            $q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
            $x = [TorchSharp.torch]::rand([long[]]@(1, 3, 3, 3)) * 100 - 50
            $values = [float[]]$x.data[float]().ToArray()
            $inputFile = New-TestNpy (Join-Path $TestDrive 'seed-tensor.npy') @(1, 3, 3, 3) $values
            $result = Invoke-Quantize -LiteralPath $inputFile -Quantizer $q
            $fromFile = [float[]][QuantShell.Core.Formats.NpyArray]::Read($result.OutputPath).Data
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

        It 'takes files from Get-QuantTensor through the pipeline, filtered by their statistics' {
            $results = Get-QuantTensor -Path (Join-Path $dir '*.npy') | Where-Object Max -GT 2 | Invoke-Quantize -Quantizer $q
            @($results).Count | Should -Be 2
            @($results.InputPath | Sort-Object) | Should -Be @($a, $b)
            $one = Get-QuantTensor -LiteralPath $a | Invoke-Quantize -Quantizer $q -OutputPath (Join-Path $dir 'one.npy')
            $one.InputPath | Should -Be $a
        }

        It 'quantizes a file given twice once' {
            $results = Invoke-Quantize -Path $a, (Join-Path $dir 'a*.npy') -Quantizer $q -OutputDirectory (Join-Path $dir 'twice') -ErrorVariable errors
            @($results).Count | Should -Be 1
            @($errors).Count | Should -Be 0
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
            $errors[0].FullyQualifiedErrorId | Should -Be "InputFileNotFound,$CommandFqid"
        }

        It 'reports a missing literal path' {
            $missing = Join-Path $dir 'missing.npy'
            $null = Invoke-Quantize -LiteralPath $missing -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "InputFileNotFound,$CommandFqid"
            $errors[0].TargetObject | Should -Be $missing
        }

        It 'run twice over a wildcard with -Calibrate, skips the first run''s outputs with a warning' {
            $first = Invoke-Quantize -Path (Join-Path $dir '*.npy') -Method Symmetric -Calibrate
            @($first).Count | Should -Be 2
            $second = Invoke-Quantize -Path (Join-Path $dir '*.npy') -Method Symmetric -Calibrate -Force -WarningVariable warnings -WarningAction SilentlyContinue
            @($second.InputPath | Sort-Object) | Should -Be @($a, $b)
            @($second | ForEach-Object { $_.Selection.InputCount }) | Should -Be @(2, 2)
            @($warnings).Count | Should -Be 2
            "$($warnings[0])" | Should -BeLike "$(Join-Path $dir 'a.q.npy'): skipped: it is named as the default output of $a, which is also an input*"
            Test-Path -LiteralPath (Join-Path $dir 'a.q.q.npy') | Should -BeFalse
            Test-Path -LiteralPath (Join-Path $dir 'b.q.q.npy') | Should -BeFalse
        }

        It 'skips an earlier output that comes through the pipeline before its input' {
            # Get-ChildItem lists a.int.npy before a.npy: the rule does not depend on the order.
            $own = New-TestNpy (Join-Path $dir 'a.int.npy') @(2) @(0.5, -0.5)
            $results = Get-ChildItem -LiteralPath $dir -Filter 'a*.npy' | Invoke-Quantize -Quantizer $q -WarningVariable warnings -WarningAction SilentlyContinue
            @($results.InputPath) | Should -Be @($a)
            "$(@($warnings)[0])" | Should -BeLike "$own`: skipped*"
        }

        It 'quantizes an earlier output named on its own' {
            $own = New-TestNpy (Join-Path $dir 'a.q.npy') @(2) @(0.5, -0.5)
            $result = Invoke-Quantize -Path $own -Quantizer $q -WarningVariable warnings
            $result.OutputPath | Should -Be (Join-Path $dir 'a.q.q.npy')
            $warnings | Should -BeNullOrEmpty
        }

        It 'refuses non-FileSystem paths' {
            $null = Invoke-Quantize -Path 'Env:PATH' -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "PathNotFileSystem,$CommandFqid"
        }

        It 'refuses a path on a drive PowerShell does not have' {
            $null = Invoke-Quantize -LiteralPath 'NoSuchDrive:/x.npy' -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "PathInvalid,$CommandFqid"
            "$($errors[0])" | Should -BeLike 'NoSuchDrive:/x.npy: not a valid path*'
        }

        It 'names a file of no kind it reads, listing the kinds it does' {
            $notes = Join-Path $dir 'notes.txt'
            Set-Content -LiteralPath $notes -Value 'not a tensor file at all'
            $null = Invoke-Quantize -Path $notes -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors[0].FullyQualifiedErrorId | Should -Be "TensorFileNotRecognized,$CommandFqid"
            "$($errors[0])" | Should -BeLike '*notes.txt: is not a tensor file QuantShell reads; it reads .npy, .npz, .safetensors, PyTorch checkpoints*ONNX models (.onnx).'
        }

        It 'writes to -OutputPath for a single input' {
            $out = Join-Path $dir 'custom.npy'
            $result = Invoke-Quantize -Path $a -Quantizer $q -OutputPath $out
            $result.OutputPath | Should -Be $out
            Test-Path -LiteralPath $out | Should -BeTrue
        }

        It 'rejects -OutputPath with several inputs and writes nothing' {
            { Invoke-Quantize -Path $a, $b -Quantizer $q -OutputPath (Join-Path $dir 'one.npy') } |
                Should -Throw -ErrorId "OutputPathWithSeveralInputs,$CommandFqid"
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
            $text | Should -Match 'Input\s+Shape\s+DType\s+Method\s+NumBits\s+Threshold / Range / LUT\s+Scale\s+MSE\s+SQNR dB\s+Output'
            $text | Should -Match 'a\.npy\s+\(2, 3\)\s+float32\s+Symmetric\s+8\s+4\s+0\.03125'
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
            [QuantShell.Core.Formats.NpyArray]::Read($out).Data | Should -Be @([float]0, [float]0.75, [float]-2, [float]1.75)
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
            $data = [QuantShell.Core.Formats.NpyArray]::Read($out).Data
            [float]::IsNaN($data[1]) | Should -BeTrue
        }
    }

    Context 'quantizer built from parameters, values chosen from the data' {
        BeforeAll {
            # Mostly small values and one outlier, so that the MSE-optimal POT threshold clips (it is not max|x|).
            $values = [float[]]@(0..199 | ForEach-Object { [float]([Math]::Sin($_ * 0.37) * 0.8 + [Math]::Cos($_ * 1.3) * 0.3) }) + [float]6.5
            $selDir = Join-Path $TestDrive 'selection'
            $null = New-Item -ItemType Directory -Path $selDir
            $x = New-TestNpy (Join-Path $selDir 'x.npy') @(201) $values

            # Mean squared error of quantizing $Path with a given quantizer, computed here from the output file.
            function Get-OutputMse([string] $Path, $Quantizer) {
                $out = Join-Path $TestDrive ('mse-' + [guid]::NewGuid().ToString('N') + '.npy')
                $null = Invoke-Quantize -LiteralPath $Path -Quantizer $Quantizer -OutputPath $out -ErrorAction Stop
                $xs = [QuantShell.Core.Formats.NpyArray]::Read($Path).Data
                $ys = [QuantShell.Core.Formats.NpyArray]::Read($out).Data
                $sum = 0.0
                for ($i = 0; $i -lt $xs.Length; $i++) { $d = [double]$xs[$i] - [double]$ys[$i]; $sum += $d * $d }
                Remove-Item -LiteralPath $out
                $sum / $xs.Length
            }
        }

        It 'works with -Method Pot alone and reports the threshold it chose' {
            $result = Invoke-Quantize -Path $x -Method Pot
            $result | Should -BeOfType ([QuantShell.Core.Jobs.Quantize.QuantizationResult])
            $result.Method | Should -Be 'Pot'
            $result.Target | Should -Be 'Weights'
            $result.NumBits | Should -Be 8
            $result.Signed | Should -BeTrue
            @($result.Threshold).Count | Should -Be 1
            [double]::IsPow2($result.Threshold[0]) | Should -BeTrue
            @($result.Scale) | Should -Be @([float]($result.Threshold[0] / 128))
            Test-Path -LiteralPath (Join-Path $selDir 'x.q.npy') | Should -BeTrue
            ($result | Out-String -Width 200) | Should -Match ('Pot\s+8\s+' + [regex]::Escape($result.Threshold[0].ToString('G7', [cultureinfo]::InvariantCulture)) + '\s')
        }

        It 'with -Search Optimal chooses the MSE-optimal power of two at <Bits> bits (brute force over 2^-30..2^30, ties to the larger)' -ForEach @(
            @{ Bits = 8; Clips = $false }
            @{ Bits = 3; Clips = $true }
        ) {
            $best = [double]::PositiveInfinity
            $bestThreshold = $null
            foreach ($k in -30..30) {
                $t = [Math]::Pow(2, $k)
                $mse = Get-OutputMse $x (New-InferableQuantizer -Target Weights -Method Pot -NumBits $Bits -Threshold $t)
                if ($mse -le $best) { $best = $mse; $bestThreshold = $t }
            }
            $result = Invoke-Quantize -Path $x -Method Pot -NumBits $Bits -Search Optimal -OutputPath (Join-Path $TestDrive "brute$Bits.npy") -Force
            $result.Threshold[0] | Should -Be $bestThreshold
            # At 3 bits the optimum clips the outlier 6.5 (threshold below 8); at 8 bits it covers it.
            ($bestThreshold -lt 8) | Should -Be $Clips
            # The reported MSE comes from the kernel's short float32 partial sums: equal to 1e-6 relative.
            [Math]::Abs(($result.Mse) - ($best)) | Should -BeLessOrEqual (1e-6 * $best)
        }

        It 'with -ErrorMethod NoClipping -Search Optimal chooses the smallest power of two >= max|x|' {
            $result = Invoke-Quantize -Path $x -Method Pot -ErrorMethod NoClipping -Search Optimal -OutputPath (Join-Path $TestDrive 'noclip.npy') -Force
            $result.Threshold[0] | Should -Be 8
            $exact = New-TestNpy (Join-Path $TestDrive 'exact.npy') @(3) @(-4, 2, 0.5)
            (Invoke-Quantize -Path $exact -Method Pot -ErrorMethod NoClipping -Search Optimal -Force).Threshold[0] | Should -Be 4
            # MCT keeps the largest positive value on the signed grid: max(-min, max * 128/127) = 2.0157... -> 4
            $top = New-TestNpy (Join-Path $TestDrive 'top.npy') @(3) @(-1, 2, 0.5)
            (Invoke-Quantize -Path $top -Method Pot -ErrorMethod NoClipping -Search Optimal -Force).Threshold[0] | Should -Be 2
            (Invoke-Quantize -Path $top -Method Pot -ErrorMethod NoClipping -Force).Threshold[0] | Should -Be 4
        }

        It 'chooses per-channel values along axis 0 without -ChannelAxis, and says so' {
            $random = [System.Random]::new(21)
            $conv = New-TestNpy (Join-Path $TestDrive 'conv.npy') @(4, 3, 2, 2) ([float[]](1..48 | ForEach-Object { $random.NextDouble() * 2 - 1 }))
            $result = Invoke-Quantize -Path $conv -PerChannel -Force
            $result.ChannelAxis | Should -Be 0
            $result.Quantizer.ChannelAxis | Should -Be 0
            @($result.Threshold).Count | Should -Be 4
            ($result | Out-String -Width 200) | Should -Match 'symmetric/ch0|Symmetric/ch0'
        }

        It 'takes the other building parameters (-Target, -NumBits, -Signed, -PerChannel, -ChannelAxis)' {
            $m = New-TestNpy (Join-Path $TestDrive 'm.npy') @(2, 3) @(0.1, -0.2, 0.3, 1.5, -2.5, 3)
            $result = Invoke-Quantize -Path $m -Method Symmetric -NumBits 4 -PerChannel -ChannelAxis 0 -ErrorMethod NoClipping -Search Optimal -Force
            $result.NumBits | Should -Be 4
            $result.QuantMin | Should -Be -8
            $result.PerChannel | Should -BeTrue
            $result.ChannelAxis | Should -Be 0
            @($result.Threshold) | Should -Be @([double][float]0.3, [double][float]3)
            $unsigned = Invoke-Quantize -Path $m -Target Activation -Method Symmetric -Signed:$false -ErrorMethod NoClipping -Force
            $unsigned.Signed | Should -BeFalse
            $unsigned.QuantMin | Should -Be 0
            $relu = New-TestNpy (Join-Path $TestDrive 'relu.npy') @(3) @(0.5, 1.5, 3)
            $signed = Invoke-Quantize -Path $relu -Target Activation -Method Symmetric -Signed -ErrorMethod NoClipping -Force
            $signed.Signed | Should -BeTrue -Because 'non-negative activations would be unsigned without -Signed'
            $signed.QuantMin | Should -Be -128
            $act = Invoke-Quantize -Path $m -Target Activation -Method Uniform -ErrorMethod NoClipping -Force
            $act.Target | Should -Be 'Activation'
            $act.Threshold | Should -BeNullOrEmpty
            $act.MinRange[0] | Should -BeLessOrEqual -2.5
            $act.MaxRange[0] | Should -BeGreaterOrEqual (3 - 6 / 255)
        }

        It 'uses a complete quantizer built from -Threshold as given' {
            $result = Invoke-Quantize -Path $x -Method Pot -Threshold 2 -OutputPath (Join-Path $TestDrive 'given.npy') -Force
            $result.Threshold[0] | Should -Be 2
        }

        It 'uses a complete uniform quantizer built from -MinRange and -MaxRange as given' {
            $output = Join-Path $TestDrive 'range.npy'
            $result = Invoke-Quantize -Path $x -Target Activation -Method Uniform -NumBits 4 -MinRange -1.5 -MaxRange 2.5 -OutputPath $output -Force
            $result.Selection | Should -BeNullOrEmpty
            @($result.MinRange) | Should -Be @(-1.5)
            @($result.MaxRange) | Should -Be @(2.5)
            # The same bytes as the quantizer built separately.
            $q = New-InferableQuantizer -Target Activation -Method Uniform -NumBits 4 -MinRange -1.5 -MaxRange 2.5
            $again = Join-Path $TestDrive 'range.again.npy'
            $null = Invoke-Quantize -Path $x -Quantizer $q -OutputPath $again
            Get-NpyDataHex $output | Should -Be (Get-NpyDataHex $again)
            $values = [QuantShell.Core.Formats.NpyArray]::Read($output).Data
            ($values | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual -1.5
            ($values | Measure-Object -Maximum).Maximum | Should -BeLessOrEqual 2.5
        }

        It 'takes files from Get-ChildItem through the pipeline, each with its own threshold' {
            $dir = Join-Path $TestDrive 'perfile'
            $null = New-Item -ItemType Directory -Path $dir
            $null = New-TestNpy (Join-Path $dir 'small.npy') @(4) @(0.1, -0.2, 0.25, 0.3)
            $null = New-TestNpy (Join-Path $dir 'large.npy') @(4) @(10, -20, 25, 30)
            $results = Get-ChildItem -LiteralPath $dir -Filter *.npy | Invoke-Quantize -Method Pot -ErrorMethod NoClipping
            @($results).Count | Should -Be 2
            $byName = @{}
            foreach ($r in $results) { $byName[(Split-Path -Leaf $r.InputPath)] = $r.Threshold[0] }
            $byName['small.npy'] | Should -Be 0.5
            $byName['large.npy'] | Should -Be 32
        }

        It '-Calibrate chooses one quantizer equal to the one chosen on the concatenated data' {
            $dir = Join-Path $TestDrive 'calibrate'
            $null = New-Item -ItemType Directory -Path $dir
            $first = [float[]]@(0..39 | ForEach-Object { [float]([Math]::Sin($_) * 1.5) })
            $second = [float[]]@(0..59 | ForEach-Object { [float]([Math]::Cos($_ * 0.7) * 3.2) })
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(10, 4) $first
            $b = New-TestNpy (Join-Path $dir 'b.npy') @(15, 4) $second
            $both = New-TestNpy (Join-Path $TestDrive 'both.npy') @(25, 4) ($first + $second)
            foreach ($method in 'Pot', 'Symmetric', 'Uniform') {
                $results = Invoke-Quantize -Path $a, $b -Method $method -Calibrate -Force
                @($results).Count | Should -Be 2
                $expected = New-InferableQuantizer -Method $method -FromPath $both
                foreach ($r in $results) {
                    if ($method -eq 'Uniform') {
                        @($r.MinRange) | Should -Be @($expected.Spec.MinRange)
                        @($r.MaxRange) | Should -Be @($expected.Spec.MaxRange)
                    }
                    else {
                        @($r.Threshold) | Should -Be @($expected.Spec.Threshold)
                    }
                }
                # Without -Calibrate the two files get different values.
                $separate = Invoke-Quantize -Path $a, $b -Method $method -Force
                ($separate[0].Scale[0]) | Should -Not -Be $separate[1].Scale[0]
            }
        }

        It '-Calibrate reports a bad file and chooses from the others' {
            $dir = Join-Path $TestDrive 'calibrate-bad'
            $null = New-Item -ItemType Directory -Path $dir
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(3) @(0.5, -1, 0.25)
            $b = New-TestNpy (Join-Path $dir 'b.npy') @(2) @(2.5, 1)
            $bad = Join-Path $dir 'bad.npy'
            Set-Content -LiteralPath $bad -Value 'not an array'
            $results = Invoke-Quantize -Path (Join-Path $dir '*.npy') -Method Pot -ErrorMethod NoClipping -Calibrate -ErrorVariable errors -ErrorAction SilentlyContinue
            @($results).Count | Should -Be 2
            @($results.Threshold | Select-Object -Unique) | Should -Be @(4)
            @($errors).Count | Should -Be 1
            $errors[0].TargetObject | Should -Be $bad
            $errors[0].FullyQualifiedErrorId | Should -BeLike "Npy*,$CommandFqid"
            Test-Path -LiteralPath (Join-Path $dir 'bad.q.npy') | Should -BeFalse
        }

        It '-ExportQuantizer writes the applied quantizer; Import + Invoke reproduces the output bytes' {
            $dir = Join-Path $TestDrive 'export'
            $null = New-Item -ItemType Directory -Path $dir
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(2, 3) @(0.1, -0.7, 0.35, 1.2, -2.9, 0.05)
            $b = New-TestNpy (Join-Path $dir 'b.npy') @(2, 3) @(0.6, -0.1, 0.9, -1.1, 2.2, 0.4)
            $json = Join-Path $dir 'q.json'
            $results = Invoke-Quantize -Path $a, $b -Method Symmetric -NumBits 6 -Calibrate -ExportQuantizer $json
            Test-Path -LiteralPath $json | Should -BeTrue
            $q = Import-InferableQuantizer -LiteralPath $json
            @($q.Spec.Threshold) | Should -Be @($results[0].Threshold)
            $q.NumBits | Should -Be 6
            foreach ($r in $results) {
                $again = Join-Path $dir ('again-' + (Split-Path -Leaf $r.InputPath))
                $null = Invoke-Quantize -LiteralPath $r.InputPath -Quantizer $q -OutputPath $again
                [System.IO.File]::ReadAllBytes($again) | Should -Be ([System.IO.File]::ReadAllBytes($r.OutputPath))
            }
        }

        It '-ExportQuantizer with one input exports its chosen quantizer; honours -Force and -WhatIf' {
            $dir = Join-Path $TestDrive 'export-one'
            $null = New-Item -ItemType Directory -Path $dir
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(3) @(0.1, -0.7, 0.35)
            $json = Join-Path $dir 'q.json'
            Invoke-Quantize -Path $a -Method Pot -ExportQuantizer $json -WhatIf
            Test-Path -LiteralPath $json | Should -BeFalse
            $result = Invoke-Quantize -Path $a -Method Pot -ExportQuantizer $json
            (Import-InferableQuantizer -LiteralPath $json).Spec.Threshold[0] | Should -Be $result.Threshold[0]
            { Invoke-Quantize -Path $a -Method Pot -ExportQuantizer $json -OutputPath (Join-Path $dir 'other.npy') } |
                Should -Throw -ErrorId "OutputExists,$CommandFqid"
            Test-Path -LiteralPath (Join-Path $dir 'other.npy') | Should -BeFalse
            $null = Invoke-Quantize -Path $a -Method Pot -ExportQuantizer $json -Force
        }

        It '-ExportQuantizer with two inputs without -Calibrate is a terminating error and writes nothing' {
            $dir = Join-Path $TestDrive 'export-two'
            $null = New-Item -ItemType Directory -Path $dir
            $a = New-TestNpy (Join-Path $dir 'a.npy') @(2) @(0.5, -1)
            $b = New-TestNpy (Join-Path $dir 'b.npy') @(2) @(2, 1)
            { Invoke-Quantize -Path $a, $b -Method Pot -ExportQuantizer (Join-Path $dir 'q.json') } |
                Should -Throw -ErrorId "ExportQuantizerNeedsOneQuantizer,$CommandFqid"
            @(Get-ChildItem -LiteralPath $dir).Name | Sort-Object | Should -Be @('a.npy', 'b.npy')
            # A complete quantizer is one quantizer for all inputs.
            $null = Invoke-Quantize -Path $a, $b -Method Pot -Threshold 2 -ExportQuantizer (Join-Path $dir 'q.json')
            Test-Path -LiteralPath (Join-Path $dir 'q.json') | Should -BeTrue
        }

        It '-P with -ErrorMethod Mse is a terminating error' {
            { Invoke-Quantize -Path $x -Method Pot -P 3 } | Should -Throw -ErrorId "ParameterNotApplicable,$CommandFqid"
            { Invoke-Quantize -Path $x -Method Pot -ErrorMethod Lp -P 0 } | Should -Throw -ErrorId "ErrorExponentInvalid,$CommandFqid"
        }

        It '-ErrorMethod Lp -P 3 chooses a threshold' {
            $result = Invoke-Quantize -Path $x -Method Symmetric -ErrorMethod Lp -P 3 -OutputPath (Join-Path $TestDrive 'lp.npy') -Force
            $result.Threshold[0] | Should -BeGreaterThan 0
        }

        It 'selection parameters with a complete quantizer are a terminating error' {
            $q = New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 4
            { Invoke-Quantize -Path $x -Quantizer $q -Calibrate } | Should -Throw -ErrorId "SelectionOptionNotApplicable,$CommandFqid"
            { Invoke-Quantize -Path $x -Quantizer $q -ErrorMethod Mae } | Should -Throw -ErrorId "SelectionOptionNotApplicable,$CommandFqid"
            { Invoke-Quantize -Path $x -Method Pot -Threshold 4 -ErrorMethod Mse } | Should -Throw -ErrorId "SelectionOptionNotApplicable,$CommandFqid"
        }

        It 'bad building parameters are a terminating error before any file is read' {
            { Invoke-Quantize -Path $x -Method Pot -NumBits 17 } | Should -Throw -ErrorId "NumBitsOutOfRange,$CommandFqid"
            { Invoke-Quantize -Path $x -Target Activation -Method Pot -PerChannel } | Should -Throw -ErrorId "PerChannelActivationNotSupported,$CommandFqid"
            { Invoke-Quantize -Path $x -Method Pot -Threshold 3 } | Should -Throw -ErrorId "ThresholdNotPowerOfTwo,$CommandFqid"
        }
    }

    Context 'progress' {
        BeforeAll {
            # The progress records a command writes, as a host without a console receives them (a runspace's Progress stream).
            function Get-ProgressRecord([string] $Command) {
                $ps = [powershell]::Create()
                try {
                    $null = $ps.AddScript("Import-Module '$ManifestPath'; `$ProgressPreference = 'Continue'; $Command")
                    $null = $ps.Invoke()
                    $ps.Streams.Error | Should -BeNullOrEmpty
                    , @($ps.Streams.Progress | Where-Object Activity -eq 'Invoke-Quantize')
                }
                finally {
                    $ps.Dispose()
                }
            }

            # Every record counts inputs that exist ("1 of 1", never "2 of 1"), and the last one closes the bar.
            function Assert-ProgressRight([object[]] $Records, [int] $Inputs) {
                $Records.Count | Should -BeGreaterThan 1
                foreach ($record in $Records[0..($Records.Count - 2)]) {
                    $record.RecordType | Should -Be 'Processing'
                    $record.StatusDescription -match '^(\d+) of (\d+)' | Should -BeTrue -Because $record.StatusDescription
                    [int]$Matches[1] | Should -BeLessOrEqual ([int]$Matches[2]) -Because $record.StatusDescription
                    [int]$Matches[2] | Should -BeLessOrEqual $Inputs -Because $record.StatusDescription
                }
                $Records[-1].RecordType | Should -Be 'Completed'
                $Records[-1].PercentComplete | Should -Be 100
            }
        }

        BeforeEach {
            $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
            $null = New-Item -ItemType Directory -Path $dir
            foreach ($name in 'a', 'b', 'c') { $null = New-TestNpy (Join-Path $dir "$name.npy") @(2, 3) @(0.1, 0.2, -0.3, 1.5, 2.5, -3) }
        }

        It 'of a single input is counted 1 of 1 and completed' {
            $records = Get-ProgressRecord "Invoke-Quantize -LiteralPath '$(Join-Path $dir 'a.npy')' -Method Symmetric -Calibrate"
            Assert-ProgressRight $records 1
            $records[0].StatusDescription | Should -Be '1 of 1: a.npy'
        }

        It 'of piped inputs is counted up to 3 of 3 and completed' {
            $records = Get-ProgressRecord "Get-ChildItem -LiteralPath '$dir' -Filter *.npy | ForEach-Object { Start-Sleep -Milliseconds 300; `$_ } | Invoke-Quantize -Method Symmetric"
            Assert-ProgressRight $records 3
            @($records.StatusDescription) | Should -Not -Contain '4 of 3: c.npy'
        }
    }

    Context '-Search (MCT''s values from tests/fixtures/selection, or the least error)' {
        BeforeAll {
            $fixtures = Join-Path $RepoRoot 'tests/fixtures/selection'
            $manifest = Get-Content -LiteralPath (Join-Path $fixtures 'manifest.json') -Raw | ConvertFrom-Json
            # The first case with these properties (the manifest's order is fixed), its inputs and its parameters.
            function Get-FixtureCase([string] $Target, [string] $Method, [string] $ErrorMethod, [bool] $PerChannel, [string] $InputName) {
                $c = $manifest.cases | Where-Object {
                    $_.target -eq $Target -and $_.method -eq $Method -and $_.errorMethod -eq $ErrorMethod -and
                    $_.perChannel -eq $PerChannel -and -not $_.PSObject.Properties['zThreshold'] -and $_.inputs[0] -like "*$InputName*"
                } | Select-Object -First 1
                $c | Should -Not -BeNullOrEmpty
                $parameters = @{ Target = $Target; Method = $Method; NumBits = $c.numBits; ErrorMethod = $ErrorMethod }
                if ($PerChannel) { $parameters.PerChannel = $true; $parameters.ChannelAxis = $c.channelAxis }
                $paths = @($c.inputs | ForEach-Object {
                    $copy = Join-Path $TestDrive (Split-Path $_ -Leaf)
                    Copy-Item -LiteralPath (Join-Path $fixtures $_) -Destination $copy -Force
                    $copy
                })
                [pscustomobject]@{ Case = $c; Parameters = $parameters; Paths = $paths }
            }
        }

        It 'gives MCT''s values by default and with -Search Mct: <Target> <Method> <ErrorMethod>' -ForEach @(
            @{ Target = 'Weights'; Method = 'Symmetric'; ErrorMethod = 'Mse'; PerChannel = $false; InputName = 'w_outliers' }
            @{ Target = 'Weights'; Method = 'Uniform'; ErrorMethod = 'Kl'; PerChannel = $true; InputName = 'w_normal' }
            @{ Target = 'Activation'; Method = 'Pot'; ErrorMethod = 'Mae'; PerChannel = $false; InputName = 'a_heavy' }
        ) {
            $f = Get-FixtureCase $Target.ToLowerInvariant() $Method.ToLowerInvariant() $ErrorMethod.ToLowerInvariant() $PerChannel $InputName
            $p = $f.Parameters
            foreach ($search in @(@{}, @{ Search = 'Mct' })) {
                $result = Invoke-Quantize -LiteralPath $f.Paths[0] @p @search -OutputPath (Join-Path $TestDrive 'mct.npy') -Force
                $result.Selection.Search | Should -Be 'Mct'
                if ($Method -eq 'Uniform') {
                    @($result.MinRange) | Should -Be @($f.Case.expected.minRange)
                    @($result.MaxRange) | Should -Be @($f.Case.expected.maxRange)
                } else {
                    @($result.Threshold) | Should -Be @($f.Case.expected.threshold)
                }
            }
        }

        It '-Search Optimal has no larger MSE, in Invoke-Quantize, Measure-Quantization and New-InferableQuantizer' {
            $f = Get-FixtureCase 'weights' 'symmetric' 'mse' $false 'w_heavy'
            $p = $f.Parameters
            $mct = Invoke-Quantize -LiteralPath $f.Paths[0] @p -OutputPath (Join-Path $TestDrive 'm.npy') -Force
            $optimal = Invoke-Quantize -LiteralPath $f.Paths[0] @p -Search Optimal -OutputPath (Join-Path $TestDrive 'o.npy') -Force
            $optimal.Selection.Search | Should -Be 'Optimal'
            $optimal.Mse | Should -BeLessOrEqual $mct.Mse
            $measured = Measure-Quantization -LiteralPath $f.Paths[0] @p -Search Optimal
            $measured.Selection.Search | Should -Be 'Optimal'
            @($measured.Threshold) | Should -Be @($optimal.Threshold)
            $q = New-InferableQuantizer @p -FromLiteralPath $f.Paths[0] -Search Mct
            @($q.Spec.Threshold) | Should -Be @($f.Case.expected.threshold)
        }

        It '-Search with a complete quantizer is an error (SelectionOptionNotApplicable)' {
            $f = Get-FixtureCase 'weights' 'pot' 'mse' $false 'w_normal'
            { Invoke-Quantize -LiteralPath $f.Paths[0] -Method Pot -Threshold 1 -Search Optimal -OutputPath (Join-Path $TestDrive 'c.npy') -Force -ErrorAction Stop } |
                Should -Throw -ErrorId 'SelectionOptionNotApplicable,*'
        }
    }

    Context 'help' {
        It 'has help with examples' {
            $help = Get-Help Invoke-Quantize -Examples
            @($help.examples.example).Count | Should -BeGreaterOrEqual 3
            ($help.examples.example.code -join "`n") | Should -Match 'Get-ChildItem .* \| Invoke-Quantize'
            ($help.examples.example.code -join "`n") | Should -Match 'Invoke-Quantize -Path \S+ -Method Pot'
            (Get-Help Invoke-Quantize -Parameter Calibrate).name | Should -Be 'Calibrate'
        }
    }
}
