# The cmdlets under the faults of shared machines, on real file systems: a full disk (a 1 MiB tmpfs), outputs that are
# links, a read-only folder (a read-only bind mount: root ignores permission bits), -Fsync, and an input that shrinks
# while it is read. Mounting needs root;
# where it is refused the test is skipped with the reason, never passed silently. The same guarantees through
# dotnet-quant, and the ones that belong to a process (signals, racing processes): QuantShell.Cli.Tests.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:CommandFqid = 'QuantShell.PowerShell.Commands.InvokeQuantizeCommand'
}

Describe 'Invoke-Quantize and Export-InferableQuantizer under faults' -Skip:(-not $IsLinux) {
    BeforeEach {
        $dir = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        $q = New-InferableQuantizer -Target Activation -Method Symmetric -NumBits 8 -Threshold 1
        $a = New-TestNpy (Join-Path $dir 'a.npy') @(4) @(0.1, 0.7, -0.9, 0.3)
    }

    It 'reports NoSpaceLeft on a full disk, leaves no temporary file and an existing output as it was' {
        $mount = Join-Path $dir 'full'
        $reason = Mount-Scratch $mount @('-t', 'tmpfs', '-o', 'size=1m', 'quantshell-test', $mount)
        if ($reason) { Set-ItResult -Skipped -Because $reason; return }
        try {
            $big = New-TestNpy (Join-Path $dir 'big.npy') @(1048576) ([float[]]::new(1048576))
            $existing = Join-Path $mount 'big.npy'
            [System.IO.File]::WriteAllBytes($existing, [byte[]](1, 2, 3))
            # The big input alone: several inputs are written in parallel, so a small one beside it could meet the disk
            # full of the big one's temporary file (CI saw that once); alone, each outcome is certain.
            $results = Invoke-Quantize -LiteralPath $big -Quantizer $q -OutputDirectory $mount -Force -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -Be "NoSpaceLeft,$CommandFqid"
            $errors[0].CategoryInfo.Category | Should -Be 'WriteError'
            $errors[0].Exception.Message | Should -BeLike "*$existing*no space left*"
            [System.IO.File]::ReadAllBytes($existing) | Should -Be @(1, 2, 3)
            @($results).Count | Should -Be 0
            # The small input fits in what the big one gave back, and is written.
            $results = Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputDirectory $mount -Force -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors.Count | Should -Be 0
            @($results).Count | Should -Be 1
            @(Get-ChildItem -LiteralPath $mount -Force).Name | Sort-Object | Should -Be @('a.npy', 'big.npy')

            $json = Join-Path $mount 'q.json'
            $filler = [System.IO.File]::OpenWrite((Join-Path $mount 'filler'))
            try { while ($true) { $filler.Write([byte[]]::new(65536), 0, 65536) } } catch { } finally { $filler.Dispose() }
            { $q | Export-InferableQuantizer -Path $json -Fsync } | Should -Throw -ErrorId 'NoSpaceLeft,QuantShell.PowerShell.Commands.ExportInferableQuantizerCommand'
            Test-Path -LiteralPath $json | Should -BeFalse
            @(Get-ChildItem -LiteralPath $mount -Force -Filter '*.tmp').Count | Should -Be 0
        }
        finally {
            Dismount-Scratch $mount
        }
    }

    It 'refuses an output that is the input through a <Kind>, even with -Force' -TestCases @(
        @{ Kind = 'symbolic link' }, @{ Kind = 'hard link' }, @{ Kind = 'linked folder' }
    ) {
        $output = switch ($Kind) {
            'symbolic link' { (New-Item -ItemType SymbolicLink -Path (Join-Path $dir 'link.npy') -Target $a).FullName }
            'hard link' { (New-Item -ItemType HardLink -Path (Join-Path $dir 'hard.npy') -Target $a).FullName }
            'linked folder' { Join-Path (New-Item -ItemType SymbolicLink -Path (Join-Path $TestDrive "folder$([guid]::NewGuid().ToString('N'))") -Target $dir).FullName 'a.npy' }
        }
        $before = [System.IO.File]::ReadAllBytes($a)
        $null = Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputPath $output -Force -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -Be "OutputIsInput,$CommandFqid"
        [System.IO.File]::ReadAllBytes($a) | Should -Be $before
    }

    It 'replaces an output that is a symbolic link only with -Force, and then the link itself' {
        $precious = Join-Path $dir 'precious.bin'
        [System.IO.File]::WriteAllBytes($precious, [byte[]](7, 7, 7))
        $output = (New-Item -ItemType SymbolicLink -Path (Join-Path $dir 'out.npy') -Target $precious).FullName
        $null = Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputPath $output -ErrorVariable errors -ErrorAction SilentlyContinue
        $errors[0].FullyQualifiedErrorId | Should -Be "OutputExists,$CommandFqid"
        $errors[0].Exception.Message | Should -BeLike '*symbolic link*'
        $errors[0].ErrorDetails.Message | Should -BeLike '*; use -Force to replace the link itself*'
        $result = Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputPath $output -Force
        $result.OutputPath | Should -Be $output
        (Get-Item -LiteralPath $output).LinkTarget | Should -BeNullOrEmpty
        [System.IO.File]::ReadAllBytes($precious) | Should -Be @(7, 7, 7)
    }

    It 'reports OutputDirectoryUnwritable for a read-only folder and still writes the other inputs' {
        $source = Join-Path $dir 'src'
        $null = New-Item -ItemType Directory -Path $source
        $b = New-TestNpy (Join-Path $source 'b.npy') @(2) @(0.5, -0.5)
        $readOnly = Join-Path $dir 'ro'
        $reason = Mount-Scratch $readOnly @('--bind', $source, $readOnly) -ReadOnly
        if ($reason) { Set-ItResult -Skipped -Because $reason; return }
        try {
            $results = Invoke-Quantize -LiteralPath (Join-Path $readOnly 'b.npy'), $a -Quantizer $q -ErrorVariable errors -ErrorAction SilentlyContinue
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -Be "OutputDirectoryUnwritable,$CommandFqid"
            $errors[0].Exception.Message | Should -BeLike '*read-only file system*'
            @($results).Count | Should -Be 1
            Test-Path -LiteralPath (Join-Path $dir 'a.q.npy') | Should -BeTrue
            @(Get-ChildItem -LiteralPath $source -Force).Name | Should -Be @('b.npy')
        }
        finally {
            Dismount-Scratch $readOnly
        }
    }

    It 'reports OutputDirectoryIsFile for an output folder that is a file' {
        { Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputDirectory $a } | Should -Throw -ErrorId "OutputDirectoryIsFile,$CommandFqid"
    }

    It '-Fsync writes the same file as without it' {
        $plain = (Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputPath (Join-Path $dir 'plain.npy')).OutputPath
        $synced = (Invoke-Quantize -LiteralPath $a -Quantizer $q -OutputPath (Join-Path $dir 'synced.npy') -Fsync).OutputPath
        [System.IO.File]::ReadAllBytes($synced) | Should -Be ([System.IO.File]::ReadAllBytes($plain))
        $q | Export-InferableQuantizer -Path (Join-Path $dir 'q.json') -Fsync
        (Import-InferableQuantizer -Path (Join-Path $dir 'q.json')).Spec.Threshold | Should -Be @(1)
        $null = Measure-Quantization -LiteralPath $a -Quantizer $q -PlotPath (Join-Path $dir 'plot.png') -Fsync
        Test-Path -LiteralPath (Join-Path $dir 'plot.png') | Should -BeTrue
        @(Get-ChildItem -LiteralPath $dir -Force -Filter '*.tmp').Count | Should -Be 0
    }

    # Another process truncates the input while Invoke-Quantize reads it. The cmdlet runs in a fresh pwsh (this session's
    # own pwsh.dll, run by dotnet directly), which the test stops (SIGSTOP) once the output holds a MiB, so that it is
    # certainly in the middle of the 1 GiB input (a hole on the disk), then truncates the input and lets pwsh go on.
    It 'reports an input that shrinks while it is read as NpyDataTruncated, naming it, and writes nothing' {
        $in = Join-Path $dir 'big.npy'
        $dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (268435456,), }"
        $total = [int]([Math]::Ceiling((10 + $dict.Length + 1) / 64) * 64)
        $header = [byte[]](0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0) + [System.BitConverter]::GetBytes([uint16]($total - 10)) +
            [System.Text.Encoding]::ASCII.GetBytes($dict.PadRight($total - 11) + "`n")
        $file = [System.IO.FileStream]::new($in, 'CreateNew')
        try { $file.Write($header, 0, $header.Length); $file.SetLength($total + 1GB) } finally { $file.Dispose() }
        $out = Join-Path $dir 'out.npy'
        $script = "Import-Module '$ManifestPath'; `$q = New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 1; " +
            "Invoke-Quantize -LiteralPath '$in' -Quantizer `$q -OutputPath '$out' -ErrorVariable failures -ErrorAction SilentlyContinue; " +
            "foreach (`$failure in `$failures) { 'ID ' + `$failure.FullyQualifiedErrorId; 'MESSAGE ' + `$failure.Exception.Message }"
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        foreach ($argument in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-Command', $script) { $start.ArgumentList.Add($argument) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $pwsh = [System.Diagnostics.Process]::Start($start)
        try {
            $stdout = $pwsh.StandardOutput.ReadToEndAsync()
            $stderr = $pwsh.StandardError.ReadToEndAsync()
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            while ($true) {
                $temp = @(Get-ChildItem -LiteralPath $dir -Filter '.out.npy.*.tmp' -Force)
                if ($temp.Count -eq 1 -and $temp[0].Length -ge 1MB) { break }
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 60 -Because 'the cmdlet should start writing'
                $pwsh.HasExited | Should -BeFalse -Because "pwsh should still be running: $(if ($pwsh.HasExited) { $stderr.Result })"
                Start-Sleep -Milliseconds 5
            }
            & kill -STOP $pwsh.Id
            (Get-Item -LiteralPath $temp[0].FullName -Force).Length | Should -BeLessThan (1GB - 64MB) -Because 'pwsh should be stopped well before the end'
            $file = [System.IO.FileStream]::new($in, 'Open', 'Write', 'ReadWrite')
            try { $file.SetLength($total + 2MB) } finally { $file.Dispose() }
            & kill -CONT $pwsh.Id
            $pwsh.WaitForExit(60000) | Should -BeTrue
            $lines = $stdout.Result -split "`n" | Where-Object { $_ }
            $lines.Count | Should -Be 2 -Because "one error is expected: $($stdout.Result) $($stderr.Result)"
            $lines[0].Trim() | Should -Be "ID NpyDataTruncated,$CommandFqid"
            $lines[1] | Should -BeLike "MESSAGE $in*: data is truncated*the file shrank to $($total + 2MB) bytes while it was being read.*"
            @(Get-ChildItem -LiteralPath $dir -Force | Where-Object Name -Like '*out.npy*').Count | Should -Be 0
        }
        finally {
            if (-not $pwsh.HasExited) { & kill -CONT $pwsh.Id; $pwsh.Kill($true) }
            $pwsh.Dispose()
        }
    }
}
