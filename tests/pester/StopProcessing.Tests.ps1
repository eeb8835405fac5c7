# Stopping Invoke-Quantize in the middle of a file (Ctrl+C runs StopProcessing): the input is a FIFO that a writer feeds
# slowly, so the cmdlet is certainly mid-way when the pipeline is stopped. Neither the output nor its temporary file may
# be left behind.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
}

Describe 'Invoke-Quantize stopped mid-file' -Skip:(-not $IsLinux) {
    It 'leaves no output and no temporary file' {
        $dir = Join-Path $TestDrive 'stop'
        $null = New-Item -ItemType Directory -Path $dir
        $fifo = Join-Path $dir 'slow.npy'
        & mkfifo $fifo
        # A header that promises 256M float32 values, then 1 MiB of zeros every 50 ms.
        $dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }"
        $total = [int]([Math]::Ceiling((10 + $dict.Length + 1) / 64) * 64)
        $header = [byte[]](0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0) + [System.BitConverter]::GetBytes([uint16]($total - 10)) +
            [System.Text.Encoding]::ASCII.GetBytes($dict.PadRight($total - 11) + "`n")
        [System.IO.File]::WriteAllBytes((Join-Path $dir 'header.bin'), $header)
        [System.IO.File]::WriteAllBytes((Join-Path $dir 'chunk.bin'), [byte[]]::new(1MB))
        $script = "{ cat '$dir/header.bin'; while true; do cat '$dir/chunk.bin' || exit 0; sleep 0.05; done; } > '$fifo' 2>/dev/null"
        $writer = Start-Process -FilePath sh -ArgumentList '-c', "`"$script`"" -PassThru
        $out = Join-Path $dir 'out.npy'
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$ManifestPath'; `$q = New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 1; Invoke-Quantize -LiteralPath '$fifo' -Quantizer `$q -OutputPath '$out'")
            $handle = $ps.BeginInvoke()
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while (@(Get-ChildItem -LiteralPath $dir -Filter '.out.npy.*.tmp' -Force).Count -eq 0) {
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 30 -Because 'the cmdlet should start writing'
                $handle.IsCompleted | Should -BeFalse -Because 'the cmdlet should still be running'
                Start-Sleep -Milliseconds 20
            }
            $ps.Stop()
            $handle.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            @(Get-ChildItem -LiteralPath $dir -Force | Where-Object Name -Like '*out.npy*').Count | Should -Be 0
        }
        finally {
            $ps.Dispose()
            if (-not $writer.HasExited) { $writer.Kill($true) }
        }
    }
}
