# The modules as users get them: one version everywhere (Directory.Build.props), manifests that pass
# Test-ModuleManifest with the gallery fields, the staged folders (QuantShell without any TorchSharp or libtorch file),
# and the round trip of README's "Install" section: register artifacts/packages as a PSResource repository,
# Install-PSResource into a scratch home, and in a fresh pwsh Import-Module by name and quantize.
# build/test.sh packs the modules first (build/pack-module.sh); a missing package fails here, it is never skipped.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath

    $props = [xml](Get-Content -Raw -LiteralPath (Join-Path $RepoRoot 'Directory.Build.props'))
    $script:Version = @($props.Project.PropertyGroup.Version | Where-Object { $_ })[0]
    $script:ModuleVersion = $Version -replace '-.*$', ''
    $script:PackagesDir = Join-Path $RepoRoot 'artifacts/packages'
    $script:StagingDir = Join-Path $RepoRoot 'artifacts/module'
    $script:CorePackage = Join-Path $PackagesDir "QuantShell.$Version.nupkg"
    $script:TorchPackage = Join-Path $PackagesDir "QuantShell.Torch.$Version.nupkg"
    $script:RuntimePackage = Join-Path $PackagesDir "QuantShell.OnnxRuntime.$Version.nupkg"
    $script:RuntimeManifestPath = Join-Path $RepoRoot 'module/QuantShell.OnnxRuntime/QuantShell.OnnxRuntime.psd1'
    foreach ($required in $CorePackage, $TorchPackage, $RuntimePackage, (Join-Path $StagingDir 'QuantShell/QuantShell.psd1'), (Join-Path $StagingDir 'QuantShell.Torch/QuantShell.Torch.psd1'),
                          (Join-Path $StagingDir 'QuantShell.OnnxRuntime/QuantShell.OnnxRuntime.psd1')) {
        if (-not (Test-Path -LiteralPath $required)) { throw "$required is missing: run build/pack-module.sh (build/test.sh does)." }
    }

    # A psd1/PowerShell string literal of a value.
    function ConvertTo-Literal([string] $Value) { "'" + $Value.Replace("'", "''") + "'" }

    # Runs a script in a fresh pwsh whose home is $HomeDir: the PowerShell user module folder, the PSResource repository
    # list and every cache are under it, and PSModulePath is not inherited, so nothing of this machine's user is read
    # or changed. The pwsh is this session's own (pwsh.dll under $PSHOME), run by dotnet directly: 'dotnet pwsh'
    # resolves local tools through $HOME/.dotnet, which the scratch home does not have.
    function Invoke-FreshPwsh([string] $HomeDir, [string] $Script) {
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        foreach ($argument in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-OutputFormat', 'Text', '-Command', $Script) { $start.ArgumentList.Add($argument) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.WorkingDirectory = $HomeDir
        $start.Environment['HOME'] = $HomeDir
        $start.Environment['XDG_DATA_HOME'] = Join-Path $HomeDir '.local/share'
        $start.Environment['XDG_CONFIG_HOME'] = Join-Path $HomeDir '.config'
        $start.Environment['XDG_CACHE_HOME'] = Join-Path $HomeDir '.cache'
        $start.Environment['NO_COLOR'] = '1'
        $null = $start.Environment.Remove('PSModulePath')
        $process = [System.Diagnostics.Process]::Start($start)
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(600000)) { $process.Kill($true); throw "pwsh did not finish in 10 minutes: $Script" }
        [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result; Error = $stderr.Result }
    }

    # What a managed assembly's headers say about ReadyToRun (docs/design/coreclr/botr/readytorun-format.md in
    # dotnet/runtime): an image compiled ReadyToRun sets COMIMAGE_FLAGS_IL_LIBRARY in its CLI header, whose
    # ManagedNativeHeader points to a READYTORUN_HEADER starting with the signature "RTR" (0x00525452); its COFF machine is
    # the target's (AMD64 0x8664, XOR 0x7B79 for Linux: 0xFD1D). A portable (IL-only) assembly has neither.
    function Get-ReadyToRunInfo([string] $Path) {
        $stream = [System.IO.File]::OpenRead($Path)
        try {
            $pe = [System.Reflection.PortableExecutable.PEReader]::new($stream)
            $cor = $pe.PEHeaders.CorHeader
            $native = $cor.ManagedNativeHeaderDirectory
            $signature = if ($native.Size -ge 4) { [BitConverter]::ToUInt32([byte[]]$pe.GetSectionData($native.RelativeVirtualAddress).GetContent(0, 4), 0) } else { 0 }
            [pscustomobject]@{
                ILLibrary = $cor.Flags.HasFlag([System.Reflection.PortableExecutable.CorFlags]::ILLibrary)
                ReadyToRun = $signature -eq 0x00525452
                Machine = [int]$pe.PEHeaders.CoffHeader.Machine
            }
        }
        finally { $stream.Dispose() }
    }

    # The last line a fresh pwsh printed, as the JSON object the script wrote there; fails with everything it said.
    function Get-FreshPwshResult($Run) {
        $Run.ExitCode | Should -Be 0 -Because "the fresh pwsh said:`n$($Run.Output)`n$($Run.Error)"
        ($Run.Output.Trim() -split "`n")[-1] | ConvertFrom-Json
    }
}

Describe 'One version' {
    It 'Directory.Build.props has a version a module can carry' {
        $Version | Should -Match '^\d+\.\d+\.\d+(-[0-9A-Za-z]+)?$'
    }

    It 'the clone''s manifests say that version, and QuantShell.Torch and QuantShell.OnnxRuntime require exactly that QuantShell' {
        (Import-PowerShellDataFile -LiteralPath $ManifestPath).ModuleVersion | Should -Be $ModuleVersion
        foreach ($path in $TorchManifestPath, $RuntimeManifestPath) {
            $manifest = Import-PowerShellDataFile -LiteralPath $path
            $manifest.ModuleVersion | Should -Be $ModuleVersion
            $required = @($manifest.RequiredModules)
            $required.Count | Should -Be 1
            $required[0].ModuleName | Should -Be 'QuantShell'
            $required[0].RequiredVersion | Should -Be $ModuleVersion
            $required[0].GUID | Should -Be (Import-PowerShellDataFile -LiteralPath $ManifestPath).GUID
        }
    }

    It '(Get-Module QuantShell).Version and the assemblies'' product version are that version' {
        (Get-Module QuantShell).Version | Should -Be ([version]$ModuleVersion)
        $bin = Join-Path $RepoRoot 'module/bin'
        foreach ($assembly in 'QuantShell.PowerShell.dll', 'QuantShell.Core.dll') {
            [System.Diagnostics.FileVersionInfo]::GetVersionInfo((Join-Path $bin $assembly)).ProductVersion | Should -Be $Version -Because $assembly
        }
        [System.Diagnostics.FileVersionInfo]::GetVersionInfo((Join-Path $RepoRoot 'module/QuantShell.Torch/bin/QuantShell.Torch.dll')).ProductVersion | Should -Be $Version
        [System.Diagnostics.FileVersionInfo]::GetVersionInfo((Join-Path $RepoRoot 'module/QuantShell.OnnxRuntime/bin/QuantShell.OnnxRuntime.dll')).ProductVersion | Should -Be $Version
    }

    It 'dotnet quant --version prints exactly that version' {
        $printed = & dotnet $ToolAssembly --version
        $LASTEXITCODE | Should -Be 0
        $printed | Should -Be $Version
    }

    It 'CHANGELOG.md has a section for that version, which the packages carry as release notes' {
        $changelog = Get-Content -Raw -LiteralPath (Join-Path $RepoRoot 'CHANGELOG.md')
        $changelog | Should -Match "(?m)^## \[$([regex]::Escape($Version))\] - \d{4}-\d{2}-\d{2}$"
        foreach ($name in 'QuantShell', 'QuantShell.Torch', 'QuantShell.OnnxRuntime') {
            $notes = (Import-PowerShellDataFile -LiteralPath (Join-Path $StagingDir "$name/$name.psd1")).PrivateData.PSData.ReleaseNotes
            $notes | Should -Not -BeNullOrEmpty
            $section = $changelog.Replace("`r`n", "`n").Substring($changelog.IndexOf("## [$Version]"))
            $section.Contains($notes.Replace("`r`n", "`n")) | Should -BeTrue -Because "$name's release notes are the section of $Version"
        }
    }
}

Describe 'The installed manifests' {
    It 'pass Test-ModuleManifest: <Name>' -ForEach @(
        @{ Name = 'QuantShell' }, @{ Name = 'QuantShell.Torch' }, @{ Name = 'QuantShell.OnnxRuntime' }
    ) {
        # QuantShell.Torch's RequiredModules resolve by name, as they will once installed.
        $saved = $env:PSModulePath
        try {
            $env:PSModulePath = $StagingDir + [System.IO.Path]::PathSeparator + $saved
            $manifest = Test-ModuleManifest -Path (Join-Path $StagingDir "$Name/$Name.psd1") -ErrorAction Stop
        }
        finally {
            $env:PSModulePath = $saved
        }
        $manifest.Version | Should -Be ([version]$ModuleVersion)
        $manifest.CompatiblePSEditions | Should -Be @('Core')
        $manifest.PowerShellVersion | Should -Be ([version]'7.4')
        $manifest.Tags | Should -Contain 'quantization'
        $manifest.ProjectUri | Should -Not -BeNullOrEmpty
        $manifest.LicenseUri | Should -Not -BeNullOrEmpty
        $manifest.ReleaseNotes | Should -Not -BeNullOrEmpty
        $manifest.Description | Should -Match 'nine'
    }

    It 'the clone''s manifest passes Test-ModuleManifest and describes the quantizers and the model formats' {
        $manifest = Test-ModuleManifest -Path $ManifestPath -ErrorAction Stop
        foreach ($word in 'nine', 'POT', 'symmetric', 'uniform', 'LUT', '.npy', '.npz', 'safetensors', 'torch.save', 'ONNX') {
            $manifest.Description | Should -BeLike "*$word*"
        }
    }

    It 'QuantShell''s is the clone''s manifest with its paths made relative to the installed folder' {
        $clone = Import-PowerShellDataFile -LiteralPath $ManifestPath
        $installed = Import-PowerShellDataFile -LiteralPath (Join-Path $StagingDir 'QuantShell/QuantShell.psd1')
        $pathKeys = 'NestedModules', 'ScriptsToProcess', 'FormatsToProcess', 'TypesToProcess'
        @($installed.Keys | Sort-Object) | Should -Be @($clone.Keys | Sort-Object)
        $compared = 0
        foreach ($key in $clone.Keys) {
            if ($key -in $pathKeys) {
                @($installed[$key]) | Should -Be @($clone[$key] | ForEach-Object { $_ -replace '^module/', '' }) -Because $key
                foreach ($path in $installed[$key]) { Join-Path $StagingDir "QuantShell/$path" | Should -Exist }
            }
            elseif ($key -eq 'PrivateData') {
                foreach ($field in $clone.PrivateData.PSData.Keys | Where-Object { $_ -ne 'ReleaseNotes' }) {
                    @($installed.PrivateData.PSData[$field]) | Should -Be @($clone.PrivateData.PSData[$field]) -Because $field
                }
            }
            else {
                $installed[$key] | Should -Be $clone[$key] -Because $key
            }
            $compared++
        }
        $compared | Should -Be $clone.Count
    }
}

Describe 'The staged modules' {
    It 'QuantShell ships no TorchSharp, libtorch or ONNX Runtime file, and its package is under 10 MB' {
        $folder = Join-Path $StagingDir 'QuantShell'
        @(Get-ChildItem -LiteralPath $folder -Recurse -File | Where-Object Name -Match 'torch|onnxruntime') | Should -BeNullOrEmpty
        Join-Path $folder 'bin/QuantShell.PowerShell.dll' | Should -Exist
        Join-Path $folder 'bin/en-US/QuantShell.PowerShell.dll-Help.xml' | Should -Exist
        Join-Path $folder 'LICENSE' | Should -Exist
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = [System.IO.Compression.ZipFile]::OpenRead($CorePackage)
        try { @($archive.Entries.FullName | Where-Object { $_ -match 'torch|onnxruntime' }) | Should -BeNullOrEmpty }
        finally { $archive.Dispose() }
        (Get-Item -LiteralPath $CorePackage).Length | Should -BeLessThan 10MB
    }

    It 'QuantShell ships QuantShell.Core portable in bin and ReadyToRun for linux-x64 in bin/linux-x64' {
        $folder = Join-Path $StagingDir 'QuantShell/bin'
        $portable = Get-ReadyToRunInfo (Join-Path $folder 'QuantShell.Core.dll')
        $portable.ReadyToRun | Should -BeFalse
        $portable.ILLibrary | Should -BeFalse
        $portable.Machine | Should -Be 0x014C -Because 'an AnyCPU assembly says I386 and runs on every platform'
        $precompiled = Get-ReadyToRunInfo (Join-Path $folder 'linux-x64/QuantShell.Core.dll')
        $precompiled.ReadyToRun | Should -BeTrue
        $precompiled.ILLibrary | Should -BeTrue
        $precompiled.Machine | Should -Be 0xFD1D -Because 'compiled for Linux on x64'
        # The two are one build: the same assembly version and product version.
        $names = foreach ($path in (Join-Path $folder 'QuantShell.Core.dll'), (Join-Path $folder 'linux-x64/QuantShell.Core.dll')) {
            [System.Reflection.AssemblyName]::GetAssemblyName($path).FullName
        }
        $names[1] | Should -Be $names[0]
        [System.Diagnostics.FileVersionInfo]::GetVersionInfo((Join-Path $folder 'linux-x64/QuantShell.Core.dll')).ProductVersion | Should -Be $Version
        @(Get-ChildItem -LiteralPath (Join-Path $folder 'linux-x64') -File).Name | Should -Be @('QuantShell.Core.dll')
    }

    It 'QuantShell.Torch ships TorchSharp and libtorch, and no second copy of what QuantShell ships' {
        $bin = Join-Path $StagingDir 'QuantShell.Torch/bin'
        foreach ($file in 'QuantShell.Torch.dll', 'TorchSharp.dll', 'libLibTorchSharp.so', 'libtorch.so', 'libtorch_cpu.so', 'libc10.so', 'LICENSE-LIBTORCH.txt') {
            Join-Path $bin $file | Should -Exist
        }
        $core = @(Get-ChildItem -LiteralPath (Join-Path $StagingDir 'QuantShell/bin') -File).Name
        $core | Should -Contain 'QuantShell.Core.dll'
        @(Get-ChildItem -LiteralPath $bin -File | Where-Object Name -In $core) | Should -BeNullOrEmpty
    }
}

Describe 'The staged QuantShell.OnnxRuntime module' {
    It 'ships ONNX Runtime with its linux-x64 natives, and no second copy of what QuantShell ships' {
        $bin = Join-Path $StagingDir 'QuantShell.OnnxRuntime/bin'
        foreach ($file in 'QuantShell.OnnxRuntime.dll', 'Microsoft.ML.OnnxRuntime.dll', 'libonnxruntime.so') {
            Join-Path $bin $file | Should -Exist
        }
        @(Get-ChildItem -LiteralPath $bin -Recurse -File | Where-Object Name -Match '\.dll$' | Where-Object Name -Like 'onnxruntime*') | Should -BeNullOrEmpty -Because 'no Windows natives'
        $core = @(Get-ChildItem -LiteralPath (Join-Path $StagingDir 'QuantShell/bin') -File).Name
        @(Get-ChildItem -LiteralPath $bin -File | Where-Object Name -In $core) | Should -BeNullOrEmpty
        (Get-Item -LiteralPath $RuntimePackage).Length | Should -BeLessThan 20MB
    }

    It 'its managed assemblies are compiled ReadyToRun for linux-x64, the one platform its natives are for' {
        $bin = Join-Path $StagingDir 'QuantShell.OnnxRuntime/bin'
        foreach ($file in 'QuantShell.OnnxRuntime.dll', 'Microsoft.ML.OnnxRuntime.dll') {
            $info = Get-ReadyToRunInfo (Join-Path $bin $file)
            $info.ReadyToRun | Should -BeTrue -Because $file
            $info.Machine | Should -Be 0xFD1D -Because $file
        }
    }
}

Describe 'Install-PSResource round trip' {
    BeforeAll {
        $script:ScratchHome = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'home')).FullName
        # As in a real home: PSResourceGet keeps its repository list under .NET's LocalApplicationData, which is ""
        # while ~/.local/share does not exist (the list then lands in the working directory and is lost).
        $null = New-Item -ItemType Directory -Path (Join-Path $ScratchHome '.local/share'), (Join-Path $ScratchHome '.config'), (Join-Path $ScratchHome '.cache')
        $script:Work = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'work')).FullName
        $script:InstalledRoot = Join-Path $ScratchHome '.local/share/powershell/Modules'
        $script:SeedInput = Join-Path $ConformanceDir 'e_seed_example.input.npy'
        $script:SeedExpected = Join-Path $ConformanceDir 'e_seed_example.expected.npy'
        $script:Checkpoint = Join-Path $RepoRoot 'tests/fixtures/models/state_dict.pt'
        $script:OnnxModel = Join-Path $SharedDir 'onnx-mctq/mctq_0.onnx'
        # README's "Install" section, with the packages folder as an absolute path.
        $script:RegisterAndInstall = @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name QuantShellLocal -Uri $(ConvertTo-Literal $PackagesDir)
Install-PSResource QuantShell -Repository QuantShellLocal -Scope CurrentUser -TrustRepository
"@
    }

    It 'installs QuantShell for the current user from the local folder repository' {
        $run = Invoke-FreshPwsh $ScratchHome ($RegisterAndInstall + @'

Get-InstalledPSResource -Scope CurrentUser | Select-Object Name, @{ n = 'Version'; e = { $_.Version.ToString() } }, InstalledLocation | ConvertTo-Json -Compress -AsArray
'@)
        $installed = @(Get-FreshPwshResult $run)
        $installed.Count | Should -Be 1
        $installed[0].Name | Should -Be 'QuantShell'
        $installed[0].Version | Should -Be $ModuleVersion
        $installed[0].InstalledLocation | Should -Be $InstalledRoot
        Join-Path $InstalledRoot "QuantShell/$ModuleVersion/QuantShell.psd1" | Should -Exist
        @(Get-ChildItem -LiteralPath (Join-Path $InstalledRoot 'QuantShell') -Recurse -File | Where-Object Name -Match 'torch') | Should -BeNullOrEmpty
    }

    It 'imports QuantShell by name in a fresh pwsh and quantizes a file, a checkpoint and an ONNX model without TorchSharp' {
        $run = Invoke-FreshPwsh $ScratchHome @"
`$ErrorActionPreference = 'Stop'
Import-Module QuantShell
`$q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed -ChannelAxis -1
`$null = Invoke-Quantize -Path $(ConvertTo-Literal $SeedInput) -Quantizer `$q -OutputPath seed.q.npy
`$null = Invoke-Quantize -Path $(ConvertTo-Literal $Checkpoint) -OutputPath model.q.pt
`$null = ConvertTo-StandardOnnx -Path $(ConvertTo-Literal $OnnxModel) -OutputPath model.onnx
`$tensorError = try { `$q.Quantize(1); `$null } catch { `$_.Exception.InnerException.InnerException }
[pscustomobject]@{
    ModuleBase = (Get-Module QuantShell).ModuleBase
    Version = (Get-Module QuantShell).Version.ToString()
    TorchAssemblies = @([AppDomain]::CurrentDomain.GetAssemblies().GetName().Name -match 'Torch')
    CoreLocation = [QuantShell.Core.Formats.NpyArray].Assembly.Location
    TensorErrorId = `$tensorError.ErrorId
    TensorErrorMessage = `$tensorError.Message
} | ConvertTo-Json -Compress
"@
        $result = Get-FreshPwshResult $run
        $result.ModuleBase | Should -Be (Join-Path $InstalledRoot "QuantShell/$ModuleVersion")
        $result.Version | Should -Be $ModuleVersion
        @($result.TorchAssemblies) | Should -BeNullOrEmpty
        # On linux-x64 the core's ReadyToRun image is the one loaded (module/QuantShell.Init.ps1).
        $result.CoreLocation | Should -Be (Join-Path $InstalledRoot "QuantShell/$ModuleVersion/bin/linux-x64/QuantShell.Core.dll")
        Get-NpyDataHex (Join-Path $ScratchHome 'seed.q.npy') | Should -Be (Get-NpyDataHex $SeedExpected)
        # The installed module writes what the clone's writes.
        $null = Invoke-Quantize -Path $Checkpoint -OutputPath (Join-Path $Work 'model.q.pt')
        $null = ConvertTo-StandardOnnx -Path $OnnxModel -OutputPath (Join-Path $Work 'model.onnx')
        foreach ($file in 'model.q.pt', 'model.onnx') {
            (Get-FileHash -LiteralPath (Join-Path $ScratchHome $file)).Hash | Should -Be (Get-FileHash -LiteralPath (Join-Path $Work $file)).Hash -Because $file
        }
        # Without QuantShell.Torch, the Tensor path says what to install.
        $result.TensorErrorId | Should -Be 'TensorModuleNotInstalled'
        $result.TensorErrorMessage | Should -BeLike "*Install-PSResource QuantShell.Torch*"
    }

    It 'installs QuantShell.Torch, whose import by name brings QuantShell, and quantizes a tensor as the file path does' {
        $install = Invoke-FreshPwsh $ScratchHome @'
$ErrorActionPreference = 'Stop'
Install-PSResource QuantShell.Torch -Repository QuantShellLocal -Scope CurrentUser -TrustRepository
'@
        $install.ExitCode | Should -Be 0 -Because "$($install.Output)`n$($install.Error)"
        Join-Path $InstalledRoot "QuantShell.Torch/$ModuleVersion/bin/libtorch_cpu.so" | Should -Exist

        $run = Invoke-FreshPwsh $ScratchHome @"
`$ErrorActionPreference = 'Stop'
Import-Module QuantShell.Torch
`$seed = [QuantShell.Core.Formats.NpyArray]::Read($(ConvertTo-Literal $SeedInput))
`$tensor = [TorchSharp.torch]::tensor([float[]]`$seed.Data).reshape([long[]]`$seed.Shape)
`$q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed -ChannelAxis -1
`$values = [float[]]`$q.Quantize(`$tensor).data[float]().ToArray()
[pscustomobject]@{
    Modules = @(Get-Module QuantShell, QuantShell.Torch | Sort-Object Name | ForEach-Object { "`$(`$_.Name) `$(`$_.Version)" })
    TorchBase = (Get-Module QuantShell.Torch).ModuleBase
    Bits = @(`$values | ForEach-Object { [BitConverter]::SingleToInt32Bits(`$_) }) -join ','
} | ConvertTo-Json -Compress
"@
        $result = Get-FreshPwshResult $run
        @($result.Modules) | Should -Be @("QuantShell $ModuleVersion", "QuantShell.Torch $ModuleVersion")
        $result.TorchBase | Should -Be (Join-Path $InstalledRoot "QuantShell.Torch/$ModuleVersion")
        $result.Bits | Should -Be (Get-NpyValueBits $SeedExpected).Bits
    }

    It 'imports an installed QuantShell.Torch on the first $quantizer.Quantize($tensor)' {
        # TorchSharp loaded by the script itself, QuantShell.Torch not imported: the script method imports it.
        $run = Invoke-FreshPwsh $ScratchHome @'
$ErrorActionPreference = 'Stop'
Import-Module QuantShell
$before = [bool](Get-Module QuantShell.Torch)
Add-Type -LiteralPath (Join-Path (Get-Module -ListAvailable QuantShell.Torch).ModuleBase 'bin/TorchSharp.dll')
$q = New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 1
$y = $q.Quantize([TorchSharp.torch]::tensor([float[]](0.3, -2.0, 0.999)))
[pscustomobject]@{ Before = $before; After = [bool](Get-Module QuantShell.Torch); Values = [float[]]$y.data[float]().ToArray() } | ConvertTo-Json -Compress
'@
        $result = Get-FreshPwshResult $run
        $result.Before | Should -BeFalse
        $result.After | Should -BeTrue
        # POT, 8 bits, threshold 1: steps of 1/128, clipped to [-1, 127/128].
        @($result.Values) | Should -Be @((38 / 128), -1, (127 / 128))
    }

    It 'installs QuantShell.OnnxRuntime, which the first Invoke-Calibrate imports by name' {
        $install = Invoke-FreshPwsh $ScratchHome @'
$ErrorActionPreference = 'Stop'
Install-PSResource QuantShell.OnnxRuntime -Repository QuantShellLocal -Scope CurrentUser -TrustRepository
'@
        $install.ExitCode | Should -Be 0 -Because "$($install.Output)`n$($install.Error)"
        Join-Path $InstalledRoot "QuantShell.OnnxRuntime/$ModuleVersion/bin/libonnxruntime.so" | Should -Exist
        $data = (New-Item -ItemType Directory -Path (Join-Path $Work 'samples')).FullName
        $values = [float[]]::new(192)
        for ($i = 0; $i -lt 192; $i++) { $values[$i] = [float](($i % 17) / 4.0 - 2) }
        $null = New-TestNpy (Join-Path $data 's0.npy') @(1, 3, 8, 8) $values
        $run = Invoke-FreshPwsh $ScratchHome @"
`$ErrorActionPreference = 'Stop'
Import-Module QuantShell
`$results = @(Invoke-Calibrate -Path $(ConvertTo-Literal (Join-Path $RepoRoot 'tests/fixtures/models/small_cnn.onnx')) -DataPath $(ConvertTo-Literal $data) -OutputPath rules.json)
[pscustomobject]@{
    Count = `$results.Count
    RuntimeBase = (Get-Module QuantShell.OnnxRuntime).ModuleBase
} | ConvertTo-Json -Compress
"@
        $result = Get-FreshPwshResult $run
        $result.Count | Should -Be 9
        $result.RuntimeBase | Should -Be (Join-Path $InstalledRoot "QuantShell.OnnxRuntime/$ModuleVersion")
        Join-Path $ScratchHome 'rules.json' | Should -Exist
    }
}
