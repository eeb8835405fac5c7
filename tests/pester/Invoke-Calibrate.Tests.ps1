# Invoke-Calibrate and Compare-OnnxModel: the same rules and figures as 'dotnet quant calibrate/compare', error records
# with the core's ids, -WhatIf, and ONNX Runtime from the QuantShell.OnnxRuntime module: imported on first use, a clear
# error without it, never loaded by the other cmdlets.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    $script:RuntimeManifestPath = Join-Path $RepoRoot 'module/QuantShell.OnnxRuntime/QuantShell.OnnxRuntime.psd1'
    $script:SmallCnn = Join-Path $RepoRoot 'tests/fixtures/models/small_cnn.onnx'

    # Seeded samples of small_cnn's input x [1, 3, 8, 8].
    function New-Samples([string] $Folder, [int] $Count = 3, [int] $Seed = 5) {
        $null = New-Item -ItemType Directory -Force -Path $Folder
        $random = [System.Random]::new($Seed)
        for ($i = 0; $i -lt $Count; $i++) {
            $values = [float[]]::new(192)
            for ($k = 0; $k -lt 192; $k++) { $values[$k] = [float]($random.NextDouble() * 4 - 2) }
            $null = New-TestNpy (Join-Path $Folder "s$i.npy") @(1, 3, 8, 8) $values
        }
        $Folder
    }

    # A fresh pwsh: what a user's session sees (PSModulePath given, nothing imported).
    function Invoke-FreshPwsh([string] $Script, [string] $ModulePath = '') {
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        foreach ($argument in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-OutputFormat', 'Text', '-Command', $Script) { $start.ArgumentList.Add($argument) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.Environment['PSModulePath'] = $ModulePath
        $start.Environment['NO_COLOR'] = '1'
        $process = [System.Diagnostics.Process]::Start($start)
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(300000)) { $process.Kill($true); throw "pwsh did not finish: $Script" }
        $process.ExitCode | Should -Be 0 -Because "the fresh pwsh said:`n$($stdout.Result)`n$($stderr.Result)"
        ($stdout.Result.Trim() -split "`n")[-1] | ConvertFrom-Json
    }
}

Describe 'Invoke-Calibrate and Compare-OnnxModel' {
    BeforeAll {
        Import-Module $RuntimeManifestPath
        $script:Data = New-Samples (Join-Path $TestDrive 'data')
    }

    BeforeEach {
        $script:Dir = (New-Item -ItemType Directory -Path (Join-Path $TestDrive ([guid]::NewGuid().ToString('N')))).FullName
    }

    It 'calibrates small_cnn: one result per activation, and the rules dotnet quant calibrate writes' {
        $rules = Join-Path $Dir 'rules.json'
        $results = @(Invoke-Calibrate -Path $SmallCnn -DataPath $Data -OutputPath $rules)
        $results.Count | Should -Be 9
        $results[0] | Should -BeOfType ([QuantShell.Core.Jobs.Calibrate.CalibrationResult])
        @($results.TensorName) | Should -Be @('x', 'r', 'f', 'g', 'p', 'h', 't1', 't2', 'm5')
        $results[0].Samples | Should -Be 3
        $results[0].Quantizer.Method | Should -Be 'Pot'
        $results[1].Quantizer.IsSigned | Should -BeFalse
        $results[1].QdqType | Should -Be 'uint8'
        $cli = Join-Path $Dir 'cli.json'
        & dotnet $ToolAssembly calibrate $SmallCnn --data $Data --output $cli | Out-Null
        $LASTEXITCODE | Should -Be 0
        (Get-FileHash -LiteralPath $rules).Hash | Should -Be (Get-FileHash -LiteralPath $cli).Hash
        # The table view shows each activation's range and quantizer.
        ($results | Format-Table | Out-String -Width 200) | Should -Match 'Pot 8-bit unsigned'
    }

    It 'takes the selection parameters, and -WhatIf writes nothing' {
        $rules = Join-Path $Dir 'rules.json'
        $results = @(Invoke-Calibrate -Path $SmallCnn -DataPath $Data -OutputPath $rules -Method Uniform -NumBits 6 -ErrorMethod Percentile -Percentile 99)
        @($results.Quantizer.Method | Select-Object -Unique) | Should -Be @('Uniform')
        @($results.Quantizer.NumBits | Select-Object -Unique) | Should -Be @(6)
        $results[0].Selection.Percentile | Should -Be 99
        $whatIf = Join-Path $Dir 'whatif.json'
        @(Invoke-Calibrate -Path $SmallCnn -DataPath $Data -OutputPath $whatIf -WhatIf) | Should -BeNullOrEmpty
        $whatIf | Should -Not -Exist
    }

    It 'a sample that does not fit is an error record naming it, and no rules file' {
        $bad = Join-Path $Dir 'bad'
        $null = New-Item -ItemType Directory -Path $bad
        $null = New-TestNpy (Join-Path $bad 'wide.npy') @(1, 3, 8, 9) ([float[]]::new(216))
        $rules = Join-Path $Dir 'rules.json'
        $output = Invoke-Calibrate -Path $SmallCnn -DataPath $bad -OutputPath $rules -ErrorVariable failures -ErrorAction SilentlyContinue
        $output | Should -BeNullOrEmpty
        $failures.Count | Should -Be 1
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'SampleShapeMismatch,*'
        $failures[0].Exception.Message | Should -BeLike '*wide.npy*'
        $rules | Should -Not -Exist
        { Invoke-Calibrate -Path $SmallCnn -DataPath $Data -Method LutPot -ErrorAction Stop } | Should -Throw -ErrorId 'MethodInvalid,*'
    }

    It 'quantizes with the rules and compares: the figures dotnet quant compare prints' {
        $rules = Join-Path $Dir 'rules.json'
        $null = Invoke-Calibrate -Path $SmallCnn -DataPath $Data -OutputPath $rules
        $model = Join-Path $Dir 'qdq.onnx'
        $summary = Invoke-Quantize -Path $SmallCnn -Rules $rules -Format Qdq -OutputPath $model
        $summary.ActivationCount | Should -Be 9
        @($summary.Tensors | Where-Object Activation).Count | Should -Be 9
        $result = Compare-OnnxModel -ReferencePath $SmallCnn -CandidatePath $model -DataPath $Data
        $result | Should -BeOfType ([QuantShell.Core.Jobs.Compare.ComparisonResult])
        $result.OutputName | Should -Be 'z'
        $result.Top1Rows | Should -Be 3
        $cli = & dotnet $ToolAssembly compare $SmallCnn $model --data $Data --json | ConvertFrom-Json
        $LASTEXITCODE | Should -Be 0
        $result.SqnrDb | Should -Be $cli.sqnrDb
        $result.MaxAbsError | Should -Be $cli.maxAbsError
        $result.CandidateBytes | Should -Be (Get-Item -LiteralPath $model).Length
        ($result | Format-Table | Out-String -Width 200) | Should -Match 'qdq\.onnx'
        $mismatch = Compare-OnnxModel $SmallCnn (Join-Path $RepoRoot 'tests/fixtures/models/calib_cnn.onnx') -DataPath $Data -ErrorVariable failures -ErrorAction SilentlyContinue
        $mismatch | Should -BeNullOrEmpty
        $failures[0].FullyQualifiedErrorId | Should -BeLike 'CompareModelsMismatch,*'
    }
}

Describe 'ONNX Runtime comes from QuantShell.OnnxRuntime' {
    It 'without the module: OnnxRuntimeModuleNotInstalled says what to install; Invoke-Quantize loads no ONNX Runtime' {
        $result = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
Import-Module $(("'" + $ManifestPath + "'"))
`$null = Invoke-Quantize -Path '$SmallCnn' -OutputPath '$(Join-Path $TestDrive 'fresh.onnx')' -Force
`$loaded = @([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -match 'OnnxRuntime')
`$failure = try { Invoke-Calibrate -Path '$SmallCnn' -DataPath '$(Join-Path $TestDrive 'data')'; `$null } catch { `$_ }
[pscustomobject]@{ Loaded = `$loaded; ErrorId = `$failure.FullyQualifiedErrorId; Message = `$failure.Exception.Message } | ConvertTo-Json -Compress
"@
        @($result.Loaded) | Should -BeNullOrEmpty
        $result.ErrorId | Should -BeLike 'OnnxRuntimeModuleNotInstalled,*'
        $result.Message | Should -BeLike '*Install-PSResource QuantShell.OnnxRuntime*'
    }

    It 'installed but not imported: the first Invoke-Calibrate imports it' {
        $data = New-Samples (Join-Path $TestDrive 'first-use')
        $result = Invoke-FreshPwsh @"
`$ErrorActionPreference = 'Stop'
Import-Module $(("'" + $ManifestPath + "'"))
`$before = [bool](Get-Module QuantShell.OnnxRuntime)
`$results = @(Invoke-Calibrate -Path '$SmallCnn' -DataPath '$data' -OutputPath '$(Join-Path $TestDrive 'first-use.json')' -Force)
[pscustomobject]@{ Before = `$before; After = [bool](Get-Module QuantShell.OnnxRuntime); Count = `$results.Count } | ConvertTo-Json -Compress
"@ -ModulePath (Join-Path $RepoRoot 'module')
        $result.Before | Should -BeFalse
        $result.After | Should -BeTrue
        $result.Count | Should -Be 9
    }
}
