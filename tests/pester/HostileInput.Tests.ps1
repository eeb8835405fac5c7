# Every malformed file we refuse (hostile input) through Invoke-Quantize: one non-terminating error record per file
# with its own error id, category InvalidData and the file as target object; no output left; the good file in the same
# pipeline is still written; an existing output is untouched by a refused run even with -Force.

BeforeDiscovery {
    function New-NpyBytes([string] $Dict, [byte[]] $Data, [int] $Major = 1, [int] $HeaderLength = -1) {
        $preamble = if ($Major -eq 1) { 10 } else { 12 }
        $total = [Math]::Ceiling(($preamble + $Dict.Length + 1) / 64) * 64
        $header = [System.Text.Encoding]::Latin1.GetBytes($Dict.PadRight($total - $preamble - 1) + "`n")
        $length = if ($HeaderLength -ge 0) { [uint32]$HeaderLength } else { [uint32]$header.Length }
        $bytes = [System.Collections.Generic.List[byte]]::new()
        $bytes.AddRange([byte[]](0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, $Major, 0))
        if ($Major -eq 1) { $bytes.AddRange([System.BitConverter]::GetBytes([uint16]$length)) } else { $bytes.AddRange([System.BitConverter]::GetBytes($length)) }
        $bytes.AddRange($header)
        if ($Data) { $bytes.AddRange($Data) }
        , $bytes.ToArray()
    }
    function Dict([string] $Descr, [string] $Shape) { "{'descr': '$Descr', 'fortran_order': False, 'shape': $Shape, }" }
    $version = New-NpyBytes (Dict '<f4' '(2,)') ([byte[]]::new(8)); $version[6] = 7
    $nan = [byte[]]([System.BitConverter]::GetBytes([float]1) + [System.BitConverter]::GetBytes([float]::NaN))
    $script:malformed = @(
        @{ Name = 'empty'; Bytes = [byte[]]@(); Id = 'NpyMagicInvalid' }
        @{ Name = 'wrong-magic'; Bytes = [System.Text.Encoding]::ASCII.GetBytes('PK not an npy'); Id = 'NpyMagicInvalid' }
        @{ Name = 'unknown-version'; Bytes = $version; Id = 'NpyVersionNotSupported' }
        @{ Name = 'header-past-end'; Bytes = (New-NpyBytes (Dict '<f4' '(2,)') ([byte[]]::new(8)) -HeaderLength 60000); Id = 'NpyHeaderTruncated' }
        @{ Name = 'header-huge'; Bytes = (New-NpyBytes (Dict '<f4' '(2,)') ([byte[]]::new(8)) -Major 2 -HeaderLength 2000000000); Id = 'NpyHeaderTooLarge' }
        @{ Name = 'not-a-dict'; Bytes = (New-NpyBytes '[1, 2]' ([byte[]]::new(8))); Id = 'NpyHeaderInvalid' }
        @{ Name = 'extra-key'; Bytes = (New-NpyBytes "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}" ([byte[]]::new(8))); Id = 'NpyHeaderInvalid' }
        @{ Name = 'call'; Bytes = (New-NpyBytes "{'descr': '<f4', 'fortran_order': False, 'shape': (__import__('os'),)}" ([byte[]]::new(8))); Id = 'NpyHeaderInvalid' }
        @{ Name = 'object'; Bytes = (New-NpyBytes (Dict '|O' '(2,)') ([byte[]]::new(16))); Id = 'NpyObjectArrayRefused' }
        @{ Name = 'complex'; Bytes = (New-NpyBytes (Dict '<c8' '(2,)') ([byte[]]::new(16))); Id = 'NpyDTypeNotSupported' }
        @{ Name = 'structured'; Bytes = (New-NpyBytes "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }" ([byte[]]::new(8))); Id = 'NpyDTypeNotSupported' }
        @{ Name = 'unicode'; Bytes = (New-NpyBytes (Dict '<U4' '(2,)') ([byte[]]::new(32))); Id = 'NpyDTypeNotSupported' }
        @{ Name = 'negative-dim'; Bytes = (New-NpyBytes (Dict '<f4' '(-2,)') ([byte[]]::new(8))); Id = 'NpyShapeInvalid' }
        @{ Name = 'count-overflow'; Bytes = (New-NpyBytes (Dict '<f8' '(4611686018427387904, 4611686018427387904)') ([byte[]]::new(8))); Id = 'NpyShapeInvalid' }
        @{ Name = 'terabytes'; Bytes = (New-NpyBytes (Dict '<f4' '(1099511627776,)') ([byte[]]::new(8))); Id = 'NpyDataTruncated' }
        @{ Name = 'truncated'; Bytes = (New-NpyBytes (Dict '<f4' '(100,)') ([byte[]]::new(399))); Id = 'NpyDataTruncated' }
        @{ Name = 'trailing'; Bytes = (New-NpyBytes (Dict '<f4' '(2,)') ([byte[]]::new(9))); Id = 'NpyTrailingData' }
        @{ Name = 'nan'; Bytes = (New-NpyBytes (Dict '<f4' '(2,)') $nan); Id = 'NonFiniteInput' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:CommandFqid = 'QuantShell.PowerShell.Commands.InvokeQuantizeCommand'
    $script:q = New-InferableQuantizer -Target Activation -Method Symmetric -NumBits 8 -Threshold 2
}

Describe 'Invoke-Quantize on hostile input' {
    It '<Name>: one error record <Id>, InvalidData, the file as target, nothing written, the good file still done' -ForEach $malformed {
        $dir = Join-Path $TestDrive $Name
        $null = New-Item -ItemType Directory -Path $dir
        $bad = Join-Path $dir 'a-bad.npy'
        [System.IO.File]::WriteAllBytes($bad, $Bytes)
        $good = [QuantShell.Core.Formats.NpyArray]::new([long[]]@(2), [float[]]@(0.5, -1))
        $good.Write((Join-Path $dir 'b-good.npy'))
        $out = Join-Path $TestDrive "$Name-out"
        $results = Get-ChildItem -LiteralPath $dir -Filter *.npy |
            Invoke-Quantize -Quantizer $q -OutputDirectory $out -ErrorVariable errors -ErrorAction SilentlyContinue
        @($results).Count | Should -Be 1
        $results.InputPath | Should -Be (Join-Path $dir 'b-good.npy')
        @($errors).Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be "$Id,$CommandFqid"
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidData'
        $errors[0].TargetObject | Should -Be $bad
        $errors[0].Exception.Message | Should -BeLike "$bad*"
        @(Get-ChildItem -LiteralPath $out -Force).Name | Should -Be @('b-good.npy')
    }

    It '<Name>: an existing output stays byte-identical after the refused run, even with -Force' -ForEach $malformed {
        $bad = Join-Path $TestDrive "$Name.npy"
        [System.IO.File]::WriteAllBytes($bad, $Bytes)
        $existing = Join-Path $TestDrive "$Name.existing.npy"
        Set-Content -LiteralPath $existing -Value "keep me $Name" -NoNewline
        $before = (Get-FileHash -LiteralPath $existing).Hash
        Invoke-Quantize -LiteralPath $bad -Quantizer $q -OutputPath $existing -Force -ErrorVariable errors -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        @($errors).Count | Should -Be 1
        (Get-FileHash -LiteralPath $existing).Hash | Should -Be $before
        @(Get-ChildItem -LiteralPath $TestDrive -Filter '*.tmp' -Force).Count | Should -Be 0
    }
}
