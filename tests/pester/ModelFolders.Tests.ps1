BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:Fixture = Join-Path $PSScriptRoot '..' 'fixtures' 'models' 'hf_sharded' | Resolve-Path | Select-Object -ExpandProperty Path
    $script:Linear = @('model.layers.0.self_attn.q_proj', 'model.layers.0.mlp.up_proj', 'model.layers.0.mlp.down_proj',
                       'model.layers.1.self_attn.q_proj', 'model.layers.1.mlp.down_proj')
}

Describe 'Hugging Face model folders through Invoke-Quantize' {
    It 'writes the compressed-tensors layout with group-wise scales: packed weights, config.json quantization_config, files copied' {
        $out = Join-Path $TestDrive 'ct'
        $summary = @(Invoke-Quantize -Path $Fixture -OutputPath $out -Format CompressedTensors -Method Symmetric -NumBits 4 -GroupSize 8)
        # One summary for the folder, its tensors inside.
        $summary.Count | Should -Be 1
        $summary[0].FileFormat | Should -Be 'model folder'
        $summary[0].TensorCount | Should -Be 10
        $summary[0].QuantizedCount | Should -Be 5
        $results = $summary[0].Tensors
        @($results).Count | Should -Be 10
        @($results | Where-Object { -not $_.Skipped }).Count | Should -Be 5
        $results | Where-Object { -not $_.Skipped } | ForEach-Object { $_.GroupSize | Should -Be 8; $_.Format | Should -Be 'CompressedTensors' }
        $config = Get-Content (Join-Path $out 'config.json') -Raw | ConvertFrom-Json
        $config.model_type | Should -Be 'llama'
        $config.quantization_config.quant_method | Should -Be 'compressed-tensors'
        $config.quantization_config.config_groups.group_0.weights.group_size | Should -Be 8
        $config.quantization_config.config_groups.group_0.weights.strategy | Should -Be 'group'
        $config.quantization_config.ignore | Should -Be @('lm_head')
        $index = Get-Content (Join-Path $out 'model.safetensors.index.json') -Raw | ConvertFrom-Json -AsHashtable
        foreach ($module in $Linear) {
            $index.weight_map.ContainsKey("$module.weight_packed") | Should -BeTrue
            $index.weight_map.ContainsKey("$module.weight") | Should -BeFalse
        }
        foreach ($file in 'tokenizer.json', 'generation_config.json', 'README.md', (Join-Path 'extra' 'LICENSE.txt')) {
            (Get-FileHash (Join-Path $out $file)).Hash | Should -Be (Get-FileHash (Join-Path $Fixture $file)).Hash
        }
        # dequantize reads a shard back with the config beside it
        $back = @(Invoke-Dequantize -Path (Join-Path $out 'model-00001-of-00002.safetensors') -OutputPath (Join-Path $TestDrive 'back.safetensors'))
        @($back | Where-Object Dequantized).Count | Should -Be 3
    }

    It 'is one input to Get-QuantTensor and Measure-Quantization too: every tensor, and the ones Invoke-Quantize quantizes' {
        $tensors = @(Get-QuantTensor -Path $Fixture)
        $tensors.Count | Should -Be 10
        $tensors[0].Format | Should -Be 'model folder of 2 safetensors shards'
        $tensors.TensorName | Should -Contain 'lm_head.weight'
        $measured = @(Measure-Quantization -Path $Fixture -Method Symmetric -NumBits 4 -GroupSize 8)
        $measured.TensorName | Should -Be ($Linear | ForEach-Object { "$_.weight" })
        $quantized = @((Invoke-Quantize -Path $Fixture -OutputPath (Join-Path $TestDrive 'm') -Method Symmetric -NumBits 4 -GroupSize 8).Tensors | Where-Object { -not $_.Skipped })
        for ($i = 0; $i -lt 5; $i++) { $measured[$i].SqnrDb | Should -BeLessThan ($quantized[$i].SqnrDb + 1e-4); $measured[$i].SqnrDb | Should -BeGreaterThan ($quantized[$i].SqnrDb - 1e-4) }
        # The folder's objects bind to -LiteralPath: measured once, not once per tensor.
        @(Get-Item $Fixture | Measure-Quantization).Count | Should -Be 5
    }

    It 'dequantizes an int folder back into the fake folder (Invoke-Dequantize), -WhatIf writing nothing' {
        $fake = Join-Path $TestDrive 'fake'; $ints = Join-Path $TestDrive 'ints'; $back = Join-Path $TestDrive 'back'
        Invoke-Quantize -Path $Fixture -OutputPath $fake -NumBits 4 | Out-Null
        Invoke-Quantize -Path $Fixture -OutputPath $ints -NumBits 4 -Format Int | Out-Null
        Invoke-Dequantize -Path $ints -OutputPath $back -WhatIf
        Test-Path $back | Should -BeFalse
        $results = @(Invoke-Dequantize -Path $ints -OutputPath $back)
        $results.Count | Should -Be 10
        @($results | Where-Object Dequantized).Count | Should -Be 5
        foreach ($file in Get-ChildItem $fake -Recurse -File) {
            $relative = [System.IO.Path]::GetRelativePath($fake, $file.FullName)
            (Get-FileHash (Join-Path $back $relative)).Hash | Should -Be (Get-FileHash $file.FullName).Hash
        }
    }

    It 'splits the shards with -Part and completes with -Finish' {
        $out = Join-Path $TestDrive 'split'
        $a = @(Invoke-Quantize -Path $Fixture -OutputPath $out -Part 1/2 -NumBits 4)
        $b = @(Invoke-Quantize -Path $Fixture -OutputPath $out -Part 2/2 -NumBits 4)
        # A summary per part; each tensor of the folder in one of them.
        ($a.Count + $b.Count) | Should -Be 2
        ($a[0].TensorCount + $b[0].TensorCount) | Should -Be 10
        Test-Path $out | Should -BeFalse
        Invoke-Quantize -Path $Fixture -OutputPath $out -Finish
        Test-Path (Join-Path $out 'model-00002-of-00002.safetensors') | Should -BeTrue
        (Get-FileHash (Join-Path $out 'config.json')).Hash | Should -Be (Get-FileHash (Join-Path $Fixture 'config.json')).Hash
    }

    It 'reports a bad folder as one error record with its id, and writes nothing' {
        $in = Join-Path $TestDrive 'bad'
        Copy-Item -Recurse $Fixture $in
        Remove-Item (Join-Path $in 'model-00001-of-00002.safetensors')
        $out = Join-Path $TestDrive 'bad-out'
        $results = @(Invoke-Quantize -Path $in -OutputPath $out -ErrorVariable errors -ErrorAction SilentlyContinue)
        $results.Count | Should -Be 0
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'ModelFolderShardMissing*'
        $errors[0].Exception.Message | Should -BeLike '*model-00001-of-00002.safetensors*'
        Test-Path $out | Should -BeFalse
    }

    It 'refuses a ragged group in the compressed-tensors format, naming the tensor' {
        $out = Join-Path $TestDrive 'ragged'
        Invoke-Quantize -Path $Fixture -OutputPath $out -Format CompressedTensors -GroupSize 16 -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'OutputFormatNotSupported*'
        $errors[0].Exception.Message | Should -BeLike '*q_proj.weight*'
        Test-Path $out | Should -BeFalse
    }
}
