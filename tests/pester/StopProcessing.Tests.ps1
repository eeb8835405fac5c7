# Stopping Invoke-Quantize in the middle of a file (Ctrl+C runs StopProcessing), and ending the pwsh it runs in with
# SIGTERM or SIGHUP (no StopProcessing then: the module's handler removes the file): the input is a FIFO that a writer
# feeds slowly, so the cmdlet is certainly mid-way. Neither the output nor its temporary file may be left behind.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
}

Describe 'Invoke-Quantize stopped mid-file' -Skip:(-not $IsLinux) {
    BeforeAll {
        # A FIFO in a new folder of $TestDrive, and a writer that sends it a header promising 256M float32 values, then
        # 1 MiB of zeros every 50 ms until the reader is gone.
        function Start-SlowInput([string] $Name) {
            $dir = Join-Path $TestDrive $Name
            $null = New-Item -ItemType Directory -Path $dir
            $fifo = Join-Path $dir 'slow.npy'
            & mkfifo $fifo
            $dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }"
            $total = [int]([Math]::Ceiling((10 + $dict.Length + 1) / 64) * 64)
            $header = [byte[]](0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0) + [System.BitConverter]::GetBytes([uint16]($total - 10)) +
                [System.Text.Encoding]::ASCII.GetBytes($dict.PadRight($total - 11) + "`n")
            [System.IO.File]::WriteAllBytes((Join-Path $dir 'header.bin'), $header)
            [System.IO.File]::WriteAllBytes((Join-Path $dir 'chunk.bin'), [byte[]]::new(1MB))
            $script = "{ cat '$dir/header.bin'; while true; do cat '$dir/chunk.bin' || exit 0; sleep 0.05; done; } > '$fifo' 2>/dev/null"
            $writer = Start-Process -FilePath sh -ArgumentList '-c', "`"$script`"" -PassThru
            [pscustomobject]@{ Dir = $dir; Fifo = $fifo; Writer = $writer }
        }
    }

    It 'leaves no output and no temporary file' {
        $slow = Start-SlowInput 'stop'
        $dir = $slow.Dir; $fifo = $slow.Fifo; $writer = $slow.Writer
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

    # pwsh is this session's own (pwsh.dll under $PSHOME), run by dotnet directly, so the signal goes to pwsh itself.
    It 'leaves no output and no temporary file when pwsh is ended by SIG<Signal>' -TestCases @(
        @{ Signal = 'TERM'; Status = 143 }, @{ Signal = 'HUP'; Status = 129 }
    ) {
        param($Signal, $Status)
        $slow = Start-SlowInput "signal-$Signal"
        $out = Join-Path $slow.Dir 'out.npy'
        $script = "Import-Module '$ManifestPath'; `$q = New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 1; " +
            "Invoke-Quantize -LiteralPath '$($slow.Fifo)' -Quantizer `$q -OutputPath '$out'"
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        foreach ($argument in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-Command', $script) { $start.ArgumentList.Add($argument) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $pwsh = [System.Diagnostics.Process]::Start($start)
        try {
            $stderr = $pwsh.StandardError.ReadToEndAsync()
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while (@(Get-ChildItem -LiteralPath $slow.Dir -Filter '.out.npy.*.tmp' -Force).Count -eq 0) {
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 60 -Because 'the cmdlet should start writing'
                $pwsh.HasExited | Should -BeFalse -Because "pwsh should still be running: $(if ($pwsh.HasExited) { $stderr.Result })"
                Start-Sleep -Milliseconds 20
            }
            & kill "-$Signal" $pwsh.Id
            $pwsh.WaitForExit(30000) | Should -BeTrue -Because "pwsh should end on SIG$Signal"
            $pwsh.ExitCode | Should -Be $Status
            @(Get-ChildItem -LiteralPath $slow.Dir -Force | Where-Object Name -Like '*out.npy*').Count | Should -Be 0
        }
        finally {
            if (-not $pwsh.HasExited) { $pwsh.Kill($true) }
            $pwsh.Dispose()
            if (-not $slow.Writer.HasExited) { $slow.Writer.Kill($true) }
        }
    }
}
