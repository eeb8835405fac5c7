# ConvertTo-StandardOnnx on the MCT-exported models of shared/onnx-mctq: the output has no mct_quantizers node left,
# the fake-quantized weights equal MCT's bit for bit, the result objects describe what happened, and it writes exactly
# what 'dotnet quant lower' writes. Hostile models are error records with no output.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:MctqDir = Join-Path $SharedDir 'onnx-mctq'
    $script:Models = @(Get-Content -Raw -LiteralPath (Join-Path $MctqDir 'models.json') | ConvertFrom-Json)
    if ($Models.Count -ne 4) { throw "onnx-mctq/models.json lists $($Models.Count) models; 4 are expected." }
    function Copy-Model([string] $Name) {
        $target = Join-Path $Dir "$Name.onnx"
        Copy-Item -LiteralPath (Join-Path $MctqDir "$Name.onnx") -Destination $target -Force
        $target
    }
    function Get-ModelInitializer([string] $Path, [string] $Name) {
        $model = [QuantShell.Core.Formats.Onnx.OnnxModel]::Load($Path)
        $model.ReadValues($model.MainGraph.FindInitializer($Name), $null)
    }
}

Describe 'ConvertTo-StandardOnnx' {
    BeforeEach {
        # A folder per test: TestDrive is shared by the tests of a block.
        $script:Dir = (New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('N')))).FullName
    }

    It 'lowers <Name> with fake weights, exact activations: weights equal MCT''s, no custom op is left' -ForEach @(
        @{ Name = 'mctq_0' }, @{ Name = 'mctq_1' }
    ) {
        $source = Copy-Model $Name
        $result = ConvertTo-StandardOnnx -Path $source
        $result | Should -BeOfType ([QuantShell.Core.Jobs.Lower.LowerResult])
        $result.OutputPath | Should -Be (Join-Path $Dir "$Name.lowered.onnx")
        $result.Weights | Should -Be 'Fake'        # the core's defaults when neither form is given
        $result.Activations | Should -Be 'Exact'
        $result.WeightsQuantized | Should -Be 3
        $result.ActivationsLowered | Should -Be 3
        $result.Opset | Should -Be 15
        $lowered = [QuantShell.Core.Formats.Onnx.OnnxModel]::Load($result.OutputPath)
        @($lowered.Proto.Graph.Node | Where-Object Domain -eq 'mct_quantizers').Count | Should -Be 0
        @($lowered.Proto.OpsetImport | Where-Object Domain -eq 'mct_quantizers').Count | Should -Be 0
        $entry = $Models | Where-Object name -eq $Name
        $weights = @($entry.weights.PSObject.Properties)
        $weights.Count | Should -Be 3
        foreach ($weight in $weights) {
            $actual = Get-ModelInitializer $result.OutputPath $weight.Name
            $expected = [QuantShell.Core.Formats.NpyArray]::Read((Join-Path $MctqDir $weight.Value))
            ([float[]]$actual.Data | ForEach-Object { [BitConverter]::SingleToInt32Bits($_) }) -join ',' |
                Should -Be (([float[]]$expected.Data | ForEach-Object { [BitConverter]::SingleToInt32Bits($_) }) -join ',')
        }
    }

    It 'writes the same bytes as dotnet quant lower, for -Weights Qdq -Activations Qdq' {
        $source = Copy-Model 'mctq_0'
        $cmdlet = Join-Path $Dir 'cmdlet.onnx'
        $cli = Join-Path $Dir 'cli.onnx'
        $result = ConvertTo-StandardOnnx -LiteralPath $source -OutputPath $cmdlet -Weights Qdq -Activations Qdq
        $result.Weights | Should -Be 'Qdq'
        $result.Activations | Should -Be 'Qdq'
        ($result.Nodes | Where-Object Target -eq 'Weights').StorageType | Should -Be @('int8', 'int8', 'uint8')
        & dotnet $ToolAssembly lower $source --output-path $cli --weights qdq --activations qdq | Out-Null
        $LASTEXITCODE | Should -Be 0
        [Convert]::ToHexString([IO.File]::ReadAllBytes($cmdlet)) | Should -Be ([Convert]::ToHexString([IO.File]::ReadAllBytes($cli)))
    }

    It 'takes models from the pipeline, honours -WhatIf and refuses to replace an output without -Force' {
        $first = Copy-Model 'mctq_0'
        $second = Copy-Model 'mctq_1'
        Get-ChildItem -LiteralPath $first, $second | ConvertTo-StandardOnnx -WhatIf | Should -BeNullOrEmpty
        Test-Path -LiteralPath (Join-Path $Dir 'mctq_0.lowered.onnx') | Should -BeFalse
        $results = @(Get-ChildItem -LiteralPath $first, $second | ConvertTo-StandardOnnx)
        $results.Count | Should -Be 2
        ConvertTo-StandardOnnx -Path $first -ErrorVariable failures -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'OutputExists*'
        (ConvertTo-StandardOnnx -Path $first -Force).OutputPath | Should -Be $results[0].OutputPath
    }

    It 'reports a hostile model as an error record with no output, and goes on with the next' {
        $bytes = [IO.File]::ReadAllBytes((Join-Path $MctqDir 'mctq_0.onnx'))
        $truncated = Join-Path $Dir 'truncated.onnx'
        [IO.File]::WriteAllBytes($truncated, $bytes[0..($bytes.Length / 2)])
        $good = Copy-Model 'mctq_1'
        $results = @(ConvertTo-StandardOnnx -LiteralPath $truncated, $good -ErrorVariable failures -ErrorAction SilentlyContinue)
        $results.Count | Should -Be 1
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'OnnxModelInvalid*'
        $failures[0].CategoryInfo.Category | Should -Be 'InvalidData'
        Test-Path -LiteralPath (Join-Path $Dir 'truncated.lowered.onnx') | Should -BeFalse
    }

    It 'refuses a model over 2 GiB by its size (OnnxModelTooLarge) and one nested 101 deep (OnnxModelInvalid), with no output' {
        # 2 GiB + 1 byte, a hole on the disk.
        $big = Join-Path $Dir 'big.onnx'
        $file = [IO.FileStream]::new($big, 'CreateNew')
        try { $file.SetLength(2GB + 1) } finally { $file.Dispose() }
        # ir_version 8, then 101 messages nested in each other: graph (ModelProto field 7), its node (GraphProto field 1),
        # the node's attribute (NodeProto field 5), the attribute's graph (AttributeProto field 6), ... (each length a varint
        # of one or two bytes: the whole is under 16 KiB).
        [byte[]] $content = @()
        for ($level = 101; $level -ge 1; $level--) {
            $field = if ($level -eq 1) { 7 } else { @(5, 6, 1)[$level % 3] }
            [byte[]] $length = if ($content.Length -lt 128) { @($content.Length) } else { @((($content.Length -band 0x7F) -bor 0x80), ($content.Length -shr 7)) }
            $content = [byte[]](@(($field -shl 3) -bor 2) + $length + $content)
        }
        $deep = Join-Path $Dir 'deep.onnx'
        [IO.File]::WriteAllBytes($deep, [byte[]](@(8, 8) + $content))
        $results = @(ConvertTo-StandardOnnx -LiteralPath $big, $deep -ErrorVariable failures -ErrorAction SilentlyContinue)
        $results.Count | Should -Be 0
        $failures.Count | Should -Be 2
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'OnnxModelTooLarge,*'
        $failures[0].Exception.Message | Should -BeLike '*the file is 2147483649 bytes; an ONNX protobuf is at most 2 GiB*'
        $failures[1].FullyQualifiedErrorId | Should -BeLike 'OnnxModelInvalid,*'
        $failures[1].Exception.Message | Should -BeLike '*its messages nest more than 100 deep*'
        @(Get-ChildItem -LiteralPath $Dir -Filter '*.lowered.onnx').Count | Should -Be 0
    }

    It 'stops before reading anything when -OutputPath is given for several models' {
        $first = Copy-Model 'mctq_0'
        $second = Copy-Model 'mctq_1'
        { ConvertTo-StandardOnnx -Path $first, $second -OutputPath (Join-Path $Dir 'one.onnx') -ErrorAction Stop } |
            Should -Throw -ErrorId 'OutputPathWithSeveralInputs*'
    }

    It 'shows results as a table' {
        $result = ConvertTo-StandardOnnx -Path (Copy-Model 'mctq_0') -Force
        $text = $result | Format-Table | Out-String
        $text | Should -Match 'mctq_0.onnx'
        $text | Should -Match '3 weights, 3 activations'
    }
}
