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
    It 'Invoke-Quantize -Rules takes a hashtable and emits one result per tensor' {
        $rules = @{ rules = @(
            @{ match = '*.bias'; skip = $true }
            @{ match = 'conv.*'; quantizer = @{ target = 'weights'; method = 'pot'; numBits = 4; perChannel = $true; channelAxis = 0 } }
        ) }
        $results = @(Invoke-Quantize -Path $Model -Rules $rules -OutputPath (Join-Path $TestDrive 'rules.npz'))
        $results.Count | Should -Be 3
        ($results | Where-Object TensorName -eq 'conv.weight').Method | Should -Be 'Pot'
        ($results | Where-Object TensorName -eq 'conv.bias').SkipReason | Should -Be "rule 0 ('*.bias') skips it"
        ($results | Where-Object TensorName -eq 'fc.weight').SkipReason | Should -Be 'no rule matches it'
        Get-TensorBytes (Join-Path $TestDrive 'rules.npz') 'fc.weight' | Should -Be (Get-TensorBytes $Model 'fc.weight')
    }

    It 'Invoke-Quantize -Rules takes a rules file, and refuses rules with quantizer parameters' {
        $file = Join-Path $TestDrive 'rules.json'
        '{"rules": [{"match": "*.weight", "quantizer": {"target": "weights", "method": "symmetric", "numBits": 6}}]}' | Set-Content -LiteralPath $file
        $results = @(Invoke-Quantize -Path $Model -Rules $file -OutputPath (Join-Path $TestDrive 'file-rules.npz'))
        @($results | Where-Object { -not $_.Skipped }).Count | Should -Be 2
        { Invoke-Quantize -Path $Model -Rules $file -Method Pot -OutputPath (Join-Path $TestDrive 'x.npz') } |
            Should -Throw -ErrorId 'OptionConflict,QuantShell.PowerShell.Commands.InvokeQuantizeCommand'
    }

    It '-Format Int and Invoke-Dequantize give back the fake output bit for bit' {
        $fake = Join-Path $TestDrive 'fake.npz'; $codes = Join-Path $TestDrive 'codes.npz'; $back = Join-Path $TestDrive 'back.npz'
        $null = Invoke-Quantize -Path $Model -Method Uniform -NumBits 5 -OutputPath $fake
        $int = @(Invoke-Quantize -Path $Model -Method Uniform -NumBits 5 -OutputPath $codes -Format Int)
        ($int | Where-Object TensorName -eq 'conv.weight').Format | Should -Be 'Int'
        $dequantized = @(Invoke-Dequantize -Path $codes -OutputPath $back)
        @($dequantized | Where-Object Dequantized).Count | Should -Be 2
        foreach ($tensor in 'conv.weight', 'conv.bias', 'fc.weight') {
            Get-TensorBytes $back $tensor | Should -Be (Get-TensorBytes $fake $tensor) -Because $tensor
        }
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
        $fake = @(Invoke-Quantize -Path $onnx -Method Pot -NumBits 6)
        $fake.Count | Should -Be 10
        ($fake | Where-Object { -not $_.Skipped }).TensorName | Should -Be @('conv.weight', 'fc.weight', 'proj.weight', 'head.weight', 'tied', 'sub.weight')
        ($fake | Where-Object TensorName -eq 'proj.weight').ChannelAxis | Should -Be 1
        $qdq = @(Invoke-Quantize -Path $onnx -Method Pot -NumBits 6 -Format Qdq)
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
}
