BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath

    # An .npz is a zip of .npy files: build one the way numpy.savez lays it out.
    function New-TestNpz([string] $Path, [hashtable] $Arrays) {
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        $null = New-Item -ItemType Directory -Path $folder
        foreach ($name in $Arrays.Keys) { $null = New-TestNpy (Join-Path $folder "$name.npy") $Arrays[$name].Shape $Arrays[$name].Values }
        [System.IO.Compression.ZipFile]::CreateFromDirectory($folder, $Path, [System.IO.Compression.CompressionLevel]::NoCompression, $false)
        $Path
    }

    function Get-TensorBytes([string] $Path, [string] $Tensor) {
        $file = [QuantShell.Core.Formats.TensorFiles]::Open($Path)
        try {
            $stream = $file.OpenTensor($file.Tensor($Tensor))
            $copy = [System.IO.MemoryStream]::new()
            $stream.CopyTo($copy); $stream.Dispose()
            [Convert]::ToHexString($copy.ToArray())
        }
        finally { $file.Dispose() }
    }

    $random = [System.Random]::new(43)
    $values = { param($n) [float[]](1..$n | ForEach-Object { $random.NextDouble() * 2 - 1 }) }
    $script:Model = New-TestNpz (Join-Path $TestDrive 'model.npz') @{
        'conv.weight' = @{ Shape = [long[]]@(4, 2, 3); Values = & $values 24 }
        'conv.bias'   = @{ Shape = [long[]]@(4); Values = & $values 4 }
        'fc.weight'   = @{ Shape = [long[]]@(3, 4); Values = & $values 12 }
    }
}

Describe 'Model files through the cmdlets' {
    It 'Invoke-Quantize -Rules takes a hashtable and emits one summary per model, a result per tensor in its Tensors' {
        $rules = @{ rules = @(
            @{ match = '*.bias'; skip = $true }
            @{ match = 'conv.*'; quantizer = @{ target = 'weights'; method = 'pot'; numBits = 4; perChannel = $true; channelAxis = 0 } }
        ) }
        $summary = @(Invoke-Quantize -Path $Model -Rules $rules -OutputPath (Join-Path $TestDrive 'rules.npz'))
        $summary.Count | Should -Be 1
        $summary[0] | Should -BeOfType ([QuantShell.Core.Jobs.Quantize.ModelQuantizationSummary])
        $summary[0].QuantizedCount | Should -Be 1
        $summary[0].SkippedCount | Should -Be 2
        @($summary[0].Skipped | ForEach-Object { "$($_.Count) $($_.Reason)" }) | Should -Be @('1 no rule matches', "1 skipped by rule 0 ('*.bias')")
        $summary[0].InputBytes | Should -Be (Get-Item $Model).Length
        $summary[0].OutputBytes | Should -Be (Get-Item (Join-Path $TestDrive 'rules.npz')).Length
        $results = @($summary[0].Tensors)
        $results.Count | Should -Be 3
        $summary[0].SqnrDb | Should -Be ($results | Where-Object TensorName -eq 'conv.weight').SqnrDb
        ($results | Where-Object TensorName -eq 'conv.weight').Method | Should -Be 'Pot'
        ($results | Where-Object TensorName -eq 'conv.bias').SkipReason | Should -Be "rule 0 ('*.bias') skips it"
        ($results | Where-Object TensorName -eq 'fc.weight').SkipReason | Should -Be 'no rule matches it'
        Get-TensorBytes (Join-Path $TestDrive 'rules.npz') 'fc.weight' | Should -Be (Get-TensorBytes $Model 'fc.weight')
    }

    It 'Invoke-Quantize -Rules takes a rules file, and refuses rules with quantizer parameters' {
        $file = Join-Path $TestDrive 'rules.json'
        '{"rules": [{"match": "*.weight", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 6}}]}' | Set-Content -LiteralPath $file
        $results = @((Invoke-Quantize -Path $Model -Rules $file -OutputPath (Join-Path $TestDrive 'file-rules.npz')).Tensors)
        @($results | Where-Object { -not $_.Skipped }).Count | Should -Be 2
        { Invoke-Quantize -Path $Model -Rules $file -Method Pot -OutputPath (Join-Path $TestDrive 'x.npz') } |
            Should -Throw -ErrorId 'OptionConflict,QuantShell.PowerShell.Commands.InvokeQuantizeCommand'
    }

    It '-Format Int and Invoke-Dequantize give back the fake output bit for bit' {
        $fake = Join-Path $TestDrive 'fake.npz'; $codes = Join-Path $TestDrive 'codes.npz'; $back = Join-Path $TestDrive 'back.npz'
        $null = Invoke-Quantize -Path $Model -Method Uniform -NumBits 5 -OutputPath $fake
        $int = @((Invoke-Quantize -Path $Model -Method Uniform -NumBits 5 -OutputPath $codes -Format Int).Tensors)
        ($int | Where-Object TensorName -eq 'conv.weight').Format | Should -Be 'Int'
        $dequantized = @(Invoke-Dequantize -Path $codes -OutputPath $back)
        @($dequantized | Where-Object Dequantized).Count | Should -Be 2
        foreach ($tensor in 'conv.weight', 'conv.bias', 'fc.weight') {
            Get-TensorBytes $back $tensor | Should -Be (Get-TensorBytes $fake $tensor) -Because $tensor
        }
    }

    It 'a model piped from Get-QuantTensor (an object per tensor) is quantized once' {
        $summary = @(Get-QuantTensor -Path $Model | Invoke-Quantize -OutputPath (Join-Path $TestDrive 'piped.npz') -Force -ErrorVariable errors)
        $summary.Count | Should -Be 1
        @($errors).Count | Should -Be 0
        $summary[0].TensorCount | Should -Be @(Get-QuantTensor -Path $Model).Count
    }

    It 'Get-QuantTensor lists the tensors of a model file, with statistics when asked' {
        $listed = @(Get-QuantTensor -Path $Model)
        $listed.Count | Should -Be 3
        $listed | ForEach-Object { $_.Min | Should -BeNullOrEmpty }
        $stats = @(Get-QuantTensor -Path $Model -Statistics)
        $stats | ForEach-Object { $_.Max | Should -BeLessOrEqual 1 }
    }

    It 'Measure-Quantization measures the tensors the rules select' {
        $measured = @(Measure-Quantization -Path $Model -Rules @{ rules = @(@{ match = 'fc.*'; quantizer = @{ target = 'weights'; method = 'pot'; numBits = 8 } }) })
        $measured.Count | Should -Be 1
        $measured[0].TensorName | Should -Be 'fc.weight'
    }

    It 'Invoke-Quantize finds the weights of an ONNX model from its graph; -Format Qdq and Invoke-Dequantize give back the fake format' {
        $onnx = Join-Path $TestDrive 'small_cnn.onnx'
        Copy-Item (Join-Path $RepoRoot 'tests/fixtures/models/small_cnn.onnx') $onnx
        $fake = @(Invoke-Quantize -Path $onnx -Method Pot -NumBits 6 | Select-Object -ExpandProperty Tensors)
        $fake.Count | Should -Be 10
        ($fake | Where-Object { -not $_.Skipped }).TensorName | Should -Be @('conv.weight', 'fc.weight', 'proj.weight', 'head.weight', 'tied', 'sub.weight')
        ($fake | Where-Object TensorName -eq 'proj.weight').ChannelAxis | Should -Be 1
        $qdq = @((Invoke-Quantize -Path $onnx -Method Pot -NumBits 6 -Format Qdq).Tensors)
        ($qdq | Where-Object TensorName -eq 'conv.weight').Format | Should -Be 'Qdq'
        $back = Join-Path $TestDrive 'back.onnx'
        $dequantized = @(Invoke-Dequantize -Path (Join-Path $TestDrive 'small_cnn.qdq.onnx') -OutputPath $back)
        @($dequantized | Where-Object Dequantized).Count | Should -Be 6
        foreach ($tensor in 'conv.weight', 'fc.weight', 'sub.weight', 'conv.bias') {
            Get-TensorBytes $back $tensor | Should -Be (Get-TensorBytes (Join-Path $TestDrive 'small_cnn.q.onnx') $tensor) -Because $tensor
        }
        { Invoke-Quantize -Path $onnx -Format Int -OutputPath (Join-Path $TestDrive 'm.int.onnx') -ErrorAction Stop } |
            Should -Throw -ErrorId 'OutputFormatNotSupported*'
    }

    It 'Invoke-Quantize -Verbose writes a verbose message per tensor of a model; the summary has a table view' {
        $onnx = Join-Path $TestDrive 'verbose.onnx'
        Copy-Item (Join-Path $RepoRoot 'tests/fixtures/models/small_cnn.onnx') $onnx
        $all = @(Invoke-Quantize -Path $onnx -OutputPath (Join-Path $TestDrive 'verbose.q.onnx') -Verbose 4>&1)
        # ShouldProcess adds its own "Performing the operation" message.
        $verbose = @($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -notlike 'Performing the operation*' })
        $summary = @($all | Where-Object { $_ -is [QuantShell.Core.Jobs.Quantize.ModelQuantizationSummary] })
        $verbose.Count | Should -Be 10
        $summary.Count | Should -Be 1
        $verbose[0].Message | Should -BeLike '`[conv.weight`] float32 (4, 3, 3, 3): Symmetric 8-bit per channel (axis 0), SQNR *'
        @($verbose | Where-Object Message -Like '*: skipped (*').Count | Should -Be 4
        $summary[0].QuantizedCount | Should -Be 6
        $summary[0].TensorCount | Should -Be 10
        $summary[0].Warning | Should -BeNullOrEmpty
        $table = $summary[0] | Format-Table | Out-String -Width 300
        $table | Should -Match 'Quantized'
        $table | Should -Match '6/10'
        $table | Should -Match '4: 1 a bias of Conv, 1 a bias of Gemm, 1 bool values \(not floating\), 1 not a weight \(read by Mul\)'
    }

    It 'A model where nothing is quantized gets a warning that says why, from Invoke-Quantize, Get-QuantTensor and Measure-Quantization' {
        $onnx = Join-Path $TestDrive 'warn.onnx'
        Copy-Item (Join-Path $RepoRoot 'tests/fixtures/models/small_cnn.onnx') $onnx
        $qdq = Join-Path $TestDrive 'warn.qdq.onnx'
        $null = Invoke-Quantize -Path $onnx -Format Qdq -OutputPath $qdq -WarningVariable none
        $none | Should -BeNullOrEmpty
        $summary = Invoke-Quantize -Path $qdq -OutputPath (Join-Path $TestDrive 'again.onnx') -WarningVariable quantizeWarning -WarningAction SilentlyContinue
        $summary.QuantizedCount | Should -Be 0
        $summary.Warning | Should -BeLike 'no float weights: the model is already quantized (integer weights read by DequantizeLinear *'
        @($quantizeWarning).Count | Should -Be 1
        "$($quantizeWarning[0])" | Should -Be "$($qdq): nothing quantized, the output holds the same values: $($summary.Warning)"
        $null = Get-QuantTensor -Path $qdq -WarningVariable inspectWarning -WarningAction SilentlyContinue
        "$($inspectWarning[0])" | Should -BeLike "$($qdq): nothing to quantize by default: no float weights: the model is already quantized*"
        @(Measure-Quantization -Path $qdq -WarningVariable measureWarning -WarningAction SilentlyContinue).Count | Should -Be 0
        "$($measureWarning[0])" | Should -BeLike "$($qdq): nothing measured: no float weights: the model is already quantized*"
    }

    It 'Measure-Quantization -PerChannelDetail writes a ChannelMeasurement per channel, with its tensor' {
        $onnx = Join-Path $RepoRoot 'tests/fixtures/models/small_cnn.onnx'
        $tensors = @(Measure-Quantization -Path $onnx -NumBits 4)
        $tensors.Count | Should -Be 6
        $channels = @(Measure-Quantization -Path $onnx -NumBits 4 -PerChannelDetail)
        $channels.Count | Should -Be ($tensors | ForEach-Object { $_.Channels.Count } | Measure-Object -Sum).Sum
        $channels | ForEach-Object { $_ | Should -BeOfType ([QuantShell.Core.Jobs.Measure.ChannelMeasurement]) }
        $conv = @($channels | Where-Object TensorName -eq 'conv.weight')
        $conv.Channel | Should -Be @(0, 1, 2, 3)
        $conv[2].SqnrDb | Should -Be ($tensors | Where-Object TensorName -eq 'conv.weight').Channels[2].SqnrDb
        $worst = $channels | Sort-Object SqnrDb | Select-Object -First 1
        $worst.SqnrDb | Should -Be ($tensors.Channels.SqnrDb | Measure-Object -Minimum).Minimum
        ($channels | Format-Table | Out-String -Width 200) | Should -Match 'Tensor: small_cnn.onnx \[conv.weight\]'
    }
}
