BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:CommandFqid = 'QuantShell.PowerShell.Commands.MeasureQuantizationCommand'

    # The metrics written out: y = clamp(round_half_even(x * (1/s)), qmin, qmax) * s, errors in float64 of the float32 values.
    function Get-DirectMetric([float[]] $Values, [double] $Scale, [int] $QuantMin, [int] $QuantMax) {
        [float] $inverse = [float]1 / [float]$Scale
        $squared = 0.0; $absolute = 0.0; $max = 0.0; $signal = 0.0; $clipped = 0
        $levels = [System.Collections.Generic.HashSet[int]]::new()
        foreach ($x in $Values) {
            [float] $product = $x * $inverse
            $unclamped = [Math]::Round([double]$product, [MidpointRounding]::ToEven)
            $q = [Math]::Min([Math]::Max($unclamped, $QuantMin), $QuantMax)
            if ($q -ne $unclamped) { $clipped++ }
            $null = $levels.Add([int]$q)
            $y = [double]([float]($q * [float]$Scale))
            $e = [Math]::Abs([double]$x - $y)
            $squared += $e * $e; $absolute += $e; $max = [Math]::Max($max, $e); $signal += [double]$x * [double]$x
        }
        [pscustomobject]@{
            Mse = $squared / $Values.Length; Mae = $absolute / $Values.Length; MaxError = $max
            SqnrDb = 10 * [Math]::Log10($signal / $squared); ClippedFraction = $clipped / $Values.Length; DistinctLevels = $levels.Count
        }
    }
}

Describe 'Measure-Quantization' {
    BeforeAll {
        $dir = Join-Path $TestDrive 'measure'
        $null = New-Item -ItemType Directory -Path $dir
        $tiny = New-TestNpy (Join-Path $dir 'tiny.npy') @(4) @(0.1, 0.7, -1.9, 3)
        $values = [float[]]@(0..299 | ForEach-Object { [float]([Math]::Sin($_ * 0.61) * 1.7 + [Math]::Cos($_ * 2.3) * 0.4) })
        $x = New-TestNpy (Join-Path $dir 'x.npy') @(300) $values
    }

    It 'matches a direct computation on a tiny array' {
        $q = New-InferableQuantizer -Target Activation -Method Pot -NumBits 4 -Threshold 2
        $m = Measure-Quantization -Path $tiny -Quantizer $q
        $m | Should -BeOfType ([QuantShell.Core.Jobs.Measure.MeasurementResult])
        $m.InputPath | Should -Be $tiny
        $m.Method | Should -Be 'Pot'
        $m.NumBits | Should -Be 4
        @($m.Threshold) | Should -Be @(2)
        $m.Scale | Should -Be 0.25
        $m.ZeroPoint | Should -Be 0
        $m.RangeMin | Should -Be -2
        $m.RangeMax | Should -Be 1.75
        $direct = Get-DirectMetric ([float[]]@(0.1, 0.7, -1.9, 3)) 0.25 -8 7
        [Math]::Abs(($m.Mse) - ($direct.Mse)) | Should -BeLessOrEqual 1e-12
        [Math]::Abs(($m.Mae) - ($direct.Mae)) | Should -BeLessOrEqual 1e-12
        [Math]::Abs(($m.MaxError) - ($direct.MaxError)) | Should -BeLessOrEqual 1e-12
        [Math]::Abs(($m.SqnrDb) - ($direct.SqnrDb)) | Should -BeLessOrEqual 1e-9
        $m.ClippedFraction | Should -Be 0.25
        $m.DistinctLevels | Should -Be 4
        $m.LevelsAvailable | Should -Be 16
        [Math]::Abs(($m.MaxError) - (1.25)) | Should -BeLessOrEqual 1e-6
        $m.Channels | Should -BeNullOrEmpty
        # It measures what Invoke-Quantize writes.
        $result = Invoke-Quantize -Path $tiny -Quantizer $q -OutputPath (Join-Path $TestDrive 'tiny.q.npy')
        [Math]::Abs(($m.Mse) - ($result.Mse)) | Should -BeLessOrEqual 1e-12
    }

    It 'gives one row per channel for a per-channel quantizer' {
        $matrix = New-TestNpy (Join-Path $dir 'matrix.npy') @(2, 3) @(0.1, -0.5, 0.9, 1.5, -2.5, 3)
        $m = Measure-Quantization -Path $matrix -Method Symmetric -PerChannel -ChannelAxis 0 -Threshold 1, 2
        $m.PerChannel | Should -BeTrue
        $m.ChannelAxis | Should -Be 0
        @($m.Channels).Count | Should -Be 2
        $m.Channels[0].Channel | Should -Be 0
        $m.Channels[1].Channel | Should -Be 1
        $m.Channels[0].Scale | Should -Be (1 / 128)
        $m.Channels[1].Scale | Should -Be (2 / 128)
        $m.Channels[0].Count | Should -Be 3
        $first = Get-DirectMetric ([float[]]@(0.1, -0.5, 0.9)) (1 / 128) -128 127
        $second = Get-DirectMetric ([float[]]@(1.5, -2.5, 3)) (2 / 128) -128 127
        [Math]::Abs(($m.Channels[0].Mse) - ($first.Mse)) | Should -BeLessOrEqual 1e-15
        [Math]::Abs(($m.Channels[1].Mse) - ($second.Mse)) | Should -BeLessOrEqual 1e-15
        $m.Channels[1].ClippedFraction | Should -Be (2 / 3)
        [Math]::Abs(($m.Mse) - ((($first.Mse + $second.Mse) / 2))) | Should -BeLessOrEqual 1e-15
        ($m.Channels | Out-String -Width 200) | Should -Match 'Channel\s+Count\s+Scale'
    }

    It 'measures a uniform quantizer built from -MinRange and -MaxRange, and an unsigned one from -Signed:$false' {
        $m = Measure-Quantization -Path $tiny -Target Activation -Method Uniform -NumBits 8 -MinRange -2 -MaxRange 3
        $m.Selection | Should -BeNullOrEmpty
        @($m.MinRange) | Should -Be @(-2)
        @($m.MaxRange) | Should -Be @(3)
        $m.RangeMin | Should -BeGreaterOrEqual -2.02
        $m.RangeMax | Should -BeLessOrEqual 3.02
        $m.ClippedFraction | Should -Be 0
        $unsigned = Measure-Quantization -Path $tiny -Target Activation -Method Symmetric -Threshold 2 -Signed:$false
        $unsigned.Signed | Should -BeFalse
        $unsigned.RangeMin | Should -Be 0
        $unsigned.ClippedFraction | Should -Be 0.5 # -1.9 below 0 and 3 above 2 - 2/256
        $signed = Measure-Quantization -Path $tiny -Target Activation -Method Symmetric -Threshold 2 -Signed
        $signed.RangeMin | Should -Be -2
    }

    It 'chooses the threshold from the data as Invoke-Quantize does' {
        $m = Measure-Quantization -Path $x -Method Pot
        $result = Invoke-Quantize -Path $x -Method Pot -OutputPath (Join-Path $TestDrive 'x.q.npy')
        @($m.Threshold) | Should -Be @($result.Threshold)
        # Invoke-Quantize reports the kernel's MSE (short float32 partial sums); Measure sums in float64.
        [Math]::Abs(($m.Mse) - ($result.Mse)) | Should -BeLessOrEqual (1e-6 * $m.Mse)
    }

    It 'reads naturally as a table over 4..8 bits, with decreasing MSE' {
        $rows = 4..8 | ForEach-Object { Measure-Quantization -Path $x -Method Pot -NumBits $_ }
        @($rows).Count | Should -Be 5
        @($rows.NumBits) | Should -Be @(4, 5, 6, 7, 8)
        for ($i = 1; $i -lt 5; $i++) { $rows[$i].Mse | Should -BeLessThan $rows[$i - 1].Mse }
        $text = $rows | Out-String -Width 200
        $text | Should -Match 'Input\s+Method\s+NumBits\s+Threshold / Range / LUT\s+MSE\s+MAE\s+MaxError\s+SQNR dB\s+Clipped %\s+Levels'
        @([regex]::Matches($text, 'x\.npy\s+Pot\s+\d')).Count | Should -Be 5
        @([regex]::Matches($text, 'Threshold / Range')).Count | Should -Be 1
    }

    It 'takes files from the pipeline and -Calibrate pools them' {
        $other = New-TestNpy (Join-Path $dir 'other.npy') @(3) @(5, -6, 7)
        $rows = Get-ChildItem -LiteralPath $tiny, $other | Measure-Quantization -Method Pot -ErrorMethod NoClipping -Calibrate
        @($rows).Count | Should -Be 2
        @($rows.Threshold | Select-Object -Unique) | Should -Be @(8)
        $separate = Get-ChildItem -LiteralPath $tiny, $other | Measure-Quantization -Method Pot -ErrorMethod NoClipping
        @($separate.Threshold) | Should -Be @(4, 8)
    }

    It '-PlotPath writes a PNG and refuses to overwrite it without -Force' {
        $png = Join-Path $TestDrive 'hist.png'
        $m = Measure-Quantization -Path $x -Method Pot -NumBits 4 -PlotPath $png
        $m.PlotPath | Should -Be $png
        $bytes = [System.IO.File]::ReadAllBytes($png)
        [System.Convert]::ToHexString($bytes, 0, 8) | Should -Be '89504E470D0A1A0A'
        $before = (Get-FileHash -LiteralPath $png).Hash
        { Measure-Quantization -Path $x -Method Pot -NumBits 6 -PlotPath $png } | Should -Throw -ErrorId "OutputExists,$CommandFqid"
        (Get-FileHash -LiteralPath $png).Hash | Should -Be $before
        $null = Measure-Quantization -Path $x -Method Pot -NumBits 6 -PlotPath $png -Force
        (Get-FileHash -LiteralPath $png).Hash | Should -Not -Be $before
    }

    It '-PlotPath .svg writes an SVG document with one panel title per channel' {
        $w = New-TestNpy (Join-Path $TestDrive 'w3.npy') @(3, 40) @(1..120 | ForEach-Object { [math]::Sin($_) * ($_ % 7) })
        $svg = Join-Path $TestDrive 'w3.svg'
        $m = Measure-Quantization -Path $w -Method Symmetric -NumBits 4 -PerChannel -ChannelAxis 0 -PlotPath $svg
        $m.PlotPath | Should -Be $svg
        $doc = [xml](Get-Content -LiteralPath $svg -Raw)
        $doc.DocumentElement.LocalName | Should -Be 'svg'
        $titles = @($doc.GetElementsByTagName('text') | Where-Object { $_.InnerText.Trim() -match '^channel \d$' })
        $titles.Count | Should -Be 3
    }

    It '-PlotPath with an extension other than .png or .svg fails before reading anything' {
        $missing = Join-Path $TestDrive 'never-read.npy'
        { Measure-Quantization -Path $missing -Method Pot -PlotPath (Join-Path $TestDrive 'p.jpg') } |
            Should -Throw -ErrorId "PlotFormatNotSupported,$CommandFqid"
        Test-Path -LiteralPath (Join-Path $TestDrive 'p.jpg') | Should -BeFalse
    }

    It '-PlotPath with -WhatIf writes nothing but still measures' {
        $png = Join-Path $TestDrive 'whatif.png'
        $m = Measure-Quantization -Path $x -Method Pot -PlotPath $png -WhatIf
        $m.PlotPath | Should -BeNullOrEmpty
        Test-Path -LiteralPath $png | Should -BeFalse
    }

    It '-PlotPath with several inputs is a terminating error' {
        { Measure-Quantization -Path $x, $tiny -Method Pot -PlotPath (Join-Path $TestDrive 'two.png') } |
            Should -Throw -ErrorId "PlotPathWithSeveralInputs,$CommandFqid"
    }

    It 'reports a bad file and measures the others' {
        $bad = Join-Path $TestDrive 'bad.npy'
        Set-Content -LiteralPath $bad -Value 'not an array'
        $rows = Measure-Quantization -Path $tiny, $bad -Method Pot -ErrorVariable errors -ErrorAction SilentlyContinue
        @($rows).Count | Should -Be 1
        $errors[0].TargetObject | Should -Be $bad
        $errors[0].FullyQualifiedErrorId | Should -BeLike "Npy*,$CommandFqid"
    }

    It 'rejects -P with -ErrorMethod Mse and selection parameters with a complete quantizer' {
        { Measure-Quantization -Path $x -Method Pot -P 3 } | Should -Throw -ErrorId "ParameterNotApplicable,$CommandFqid"
        { Measure-Quantization -Path $x -Method Pot -Threshold 2 -Calibrate } | Should -Throw -ErrorId "SelectionOptionNotApplicable,$CommandFqid"
    }

    It 'has help with examples' {
        $help = Get-Help Measure-Quantization -Examples
        @($help.examples.example).Count | Should -BeGreaterOrEqual 3
        ($help.examples.example.code -join "`n") | Should -Match '4\.\.8 \| ForEach-Object \{ Measure-Quantization'
        (Get-Help Measure-Quantization).Synopsis | Should -Match 'quantization error'
    }
}
