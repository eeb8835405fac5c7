BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath

    # Seeded gaussian weights, shape (8, 64).
    $random = [System.Random]::new(41)
    $values = [float[]](1..512 | ForEach-Object { [Math]::Sqrt(-2 * [Math]::Log(1 - $random.NextDouble())) * [Math]::Cos(2 * [Math]::PI * $random.NextDouble()) * 0.1 })
    $script:Weights = New-TestNpy (Join-Path $TestDrive 'w.npy') @(8, 64) $values
}

Describe 'The LUT quantizers through the cmdlets' {
    It 'New-InferableQuantizer builds each of the three LUT classes, and the view shows the table' {
        $w = New-InferableQuantizer -Method LutSymmetric -NumBits 2 -LutValues 3, -90, 40, 3 -Threshold 0.7
        $w.GetType().Name | Should -Be 'WeightsLUTSymmetricInferableQuantizer'
        @($w.LutValues) | Should -Be @(3, -90, 40, 3)
        $w.LutValuesBitwidth | Should -Be 8
        $w.Eps | Should -Be 1e-8
        $p = New-InferableQuantizer -Method LutPot -NumBits 2 -LutValues 1, 2 -Threshold 0.5, 2 -PerChannel -LutValuesBitwidth 4 -Eps 0
        $p.GetType().Name | Should -Be 'WeightsLUTPOTInferableQuantizer'
        $a = New-InferableQuantizer -Target Activation -Method LutPot -NumBits 3 -LutValues 0, 7, 200 -Threshold 4 -Signed:$false
        $a.GetType().Name | Should -Be 'ActivationLutPOTInferableQuantizer'
        $a.Spec.IsSigned | Should -BeFalse
        $text = $w, $p, $a | Out-String -Width 250
        $text | Should -Match 'LUT \[3, -90, 40, 3\]'
        $text | Should -Match 'LUT \[0, 7, 200\]'
        $text | Should -Match '0\.00546875' # the step t / 2^(B - 1): float32 0.7 / 128
    }

    It 'Export- and Import-InferableQuantizer keep every LUT field' {
        $q = New-InferableQuantizer -Method LutPot -NumBits 2 -LutValues 5, -3, 5, 0 -Threshold 0.25, 0.5 -PerChannel -ChannelAxis 0 -LutValuesBitwidth 6 -Eps 1e-4
        $file = Join-Path $TestDrive 'lut.json'
        $q | Export-InferableQuantizer -Path $file
        $json = Get-Content -Raw $file | ConvertFrom-Json
        $json.method | Should -Be 'lutPot'
        @($json.lutValues) | Should -Be @(5, -3, 5, 0)
        $json.lutValuesBitwidth | Should -Be 6
        $json.eps | Should -Be 1e-4
        $back = Import-InferableQuantizer -Path $file
        $back.Spec.ToString() | Should -Be $q.Spec.ToString()
    }

    It 'Invoke-Quantize -Method LutPot -NumBits 3 chooses a table and a threshold, and applies them' {
        $result = Invoke-Quantize -Path $Weights -Method LutPot -NumBits 3 -OutputPath (Join-Path $TestDrive 'w.lut.npy')
        $result.Method | Should -Be 'LutPot'
        @($result.LutValues).Count | Should -BeLessOrEqual 8
        @($result.LutValues) | Should -Contain 0
        [double]::IsPow2($result.Threshold[0]) | Should -BeTrue
        $result.Selection.ErrorMethod | Should -Be 'Mse'
        ($result | Out-String -Width 250) | Should -Match 'LUT \['
        # The quantizer it reports gives the same output as a file.
        $again = Invoke-Quantize -Path $Weights -Quantizer (New-InferableQuantizer -Method LutPot -NumBits 3 -LutValues $result.LutValues -Threshold $result.Threshold) -OutputPath (Join-Path $TestDrive 'w.again.npy')
        Get-NpyDataHex $again.OutputPath | Should -Be (Get-NpyDataHex $result.OutputPath)
    }

    It 'the Tensor path gives the file path''s values for a LUT quantizer' {
        Import-Module $TorchManifestPath   # the Tensor path: TorchSharp and libtorch
        $x = ([TorchSharp.torch]::rand([long[]]@(2, 3, 16)) - 0.5) * 0.8
        $inputFile = New-TestNpy (Join-Path $TestDrive 'tensor.npy') @(2, 3, 16) ([float[]]$x.data[float]().ToArray())
        $q = New-InferableQuantizer -Method LutSymmetric -NumBits 3 -LutValues (-100, -40, -10, 0, 10, 40, 100) -Threshold (1..16 | ForEach-Object { 0.05 * $_ }) -PerChannel
        $result = Invoke-Quantize -LiteralPath $inputFile -Quantizer $q
        $fromFile = [float[]][QuantShell.Core.Formats.NpyArray]::Read($result.OutputPath).Data
        $fromTensor = [float[]]$q.Quantize($x).data[float]().ToArray()
        ($fromTensor -join ',') | Should -Be ($fromFile -join ',')
    }

    It 'Measure-Quantization counts table entries as levels; -ErrorMethod Percentile and Kl choose the threshold' {
        $m = Measure-Quantization -Path $Weights -Method LutSymmetric -NumBits 2 -LutValues -64, 0, 64 -Threshold 0.3
        $m.LevelsAvailable | Should -Be 3
        $m.DistinctLevels | Should -Be 3
        $m.RangeMin | Should -Be ([float]-0.15)
        $p = Measure-Quantization -Path $Weights -Method Symmetric -NumBits 4 -ErrorMethod Percentile -Percentile 100
        $p.Threshold[0] | Should -Be ([QuantShell.Core.Formats.NpyArray]::Read($Weights).Data | ForEach-Object { [Math]::Abs($_) } | Measure-Object -Maximum).Maximum
        $p.Selection.Percentile | Should -Be 100
        $k = Measure-Quantization -Path $Weights -Method Pot -NumBits 4 -ErrorMethod Kl
        $k.Selection.ErrorMethod | Should -Be 'Kl'
        [double]::IsPow2($k.Threshold[0]) | Should -BeTrue
    }

    It 'New-InferableQuantizer -FromPath chooses the table, per channel one shared table' {
        $q = New-InferableQuantizer -FromPath $Weights -Method LutPot -NumBits 3 -PerChannel -ChannelAxis 0
        $q.Spec.Threshold.Count | Should -Be 8
        @($q.LutValues).Count | Should -BeLessOrEqual 8
        $q.Spec.IsComplete | Should -BeTrue
    }

    It 'rejects -Percentile with another error method, naming the parameter' {
        { Invoke-Quantize -Path $Weights -Method Pot -Percentile 99 -ErrorAction Stop } | Should -Throw -ErrorId 'ParameterNotApplicable*'
    }
}
