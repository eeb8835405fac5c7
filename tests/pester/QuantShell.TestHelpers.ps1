# Shared helpers for the QuantShell Pester tests; dot-sourced in BeforeDiscovery/BeforeAll blocks.

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
# Every suite (xunit and Pester) finds the shared cases the same way: $env:QUANTSHELL_SHARED, else ../shared.
$script:SharedDir = if ($env:QUANTSHELL_SHARED) { [System.IO.Path]::GetFullPath($env:QUANTSHELL_SHARED) } else { [System.IO.Path]::GetFullPath((Join-Path $script:RepoRoot '../shared')) }
$script:ConformanceDir = Join-Path $script:SharedDir 'conformance'
$script:ManifestPath = Join-Path $script:RepoRoot 'QuantShell.psd1'
# The Tensor path's module in the clone's layout (build/build-module.sh fills its bin/): tests that quantize TorchSharp
# tensors import it; the QuantShell module alone never loads TorchSharp.
$script:TorchManifestPath = Join-Path $script:RepoRoot 'module/QuantShell.Torch/QuantShell.Torch.psd1'
# The suites and the number of cases each must hold: fewer means a wrong or damaged folder, never "no tests".
$script:ConformanceSuites = @{ 'conformance' = 62; 'conformance-mct' = 96 }
# The dotnet-quant build the parity tests run (build/test.sh builds the solution in Release first).
$script:ToolAssembly = Join-Path $script:RepoRoot 'src/QuantShell.Cli/bin/Release/net10.0/dotnet-quant.dll'

# The cases of a suite; throws (stopping discovery) when the folder is missing or holds too few cases.
function Get-ConformanceCase {
    param([ValidateSet('conformance', 'conformance-mct')] [string] $Suite = 'conformance')
    $folder = Join-Path $script:SharedDir $Suite
    $file = Join-Path $folder 'cases.json'
    if (-not (Test-Path -LiteralPath $file)) { throw "$file is missing: the shared conformance cases are needed (set QUANTSHELL_SHARED)." }
    $cases = @(Get-Content -Raw -LiteralPath $file -ErrorAction Stop | ConvertFrom-Json)
    if ($cases.Count -lt $script:ConformanceSuites[$Suite]) { throw "$file lists $($cases.Count) cases; at least $($script:ConformanceSuites[$Suite]) are expected." }
    foreach ($case in $cases) {
        @{
            Suite     = $Suite
            Name      = $case.name
            Quantizer = $case.quantizer
            InputFile = Join-Path $folder $case.input
            Expected  = Join-Path $folder $case.expected
            # Our output is always little-endian C order; these expected files are not, so compare values there.
            ByValue   = $case.name -in @('e_big_endian', 'e_fortran_order')
        }
    }
}

# The data bytes of an .npy file (everything after the header) as hex, for byte-for-byte comparison.
function Get-NpyDataHex([string] $Path) {
    $bytes = [System.IO.File]::ReadAllBytes($Path)
    $major = $bytes[6]
    $headerEnd = if ($major -eq 1) { 10 + [System.BitConverter]::ToUInt16($bytes, 8) } else { 12 + [System.BitConverter]::ToUInt32($bytes, 8) }
    [System.Convert]::ToHexString($bytes, $headerEnd, $bytes.Length - $headerEnd)
}

# The values of an .npy file as exact bit patterns (C order, byte order normalised), so NaN and -0.0 compare exactly.
function Get-NpyValueBits([string] $Path) {
    $array = [QuantShell.Core.Formats.NpyArray]::Read($Path)
    $bits = foreach ($value in $array.Data) {
        switch ($value.GetType().Name) {
            'Single' { [System.BitConverter]::SingleToInt32Bits($value) }
            'Double' { [System.BitConverter]::DoubleToInt64Bits($value) }
            'Half' { [System.BitConverter]::HalfToInt16Bits($value) }
        }
    }
    [pscustomobject]@{ Shape = ($array.Shape -join ','); DType = $array.DType.Name; Bits = @($bits) -join ',' }
}

function New-TestNpy([string] $Path, [long[]] $Shape, [float[]] $Values) {
    [QuantShell.Core.Formats.NpyArray]::new($Shape, $Values).Write($Path)
    $Path
}

# New-InferableQuantizer parameters equivalent to a quantizer object in the JSON quantizer-file format.
function ConvertTo-QuantizerParameter($Quantizer) {
    $parameters = @{ Target = $Quantizer.target; Method = $Quantizer.method; NumBits = [int]$Quantizer.numBits }
    if ($null -ne $Quantizer.threshold) { $parameters.Threshold = [double[]]$Quantizer.threshold }
    if ($null -ne $Quantizer.minRange) { $parameters.MinRange = [double[]]$Quantizer.minRange }
    if ($null -ne $Quantizer.maxRange) { $parameters.MaxRange = [double[]]$Quantizer.maxRange }
    if ($null -ne $Quantizer.signed) { $parameters.Signed = [switch][bool]$Quantizer.signed }
    if ($Quantizer.perChannel) { $parameters.PerChannel = [switch]$true }
    if ($null -ne $Quantizer.channelAxis) { $parameters.ChannelAxis = [int]$Quantizer.channelAxis }
    if ($null -ne $Quantizer.lutValues) { $parameters.LutValues = [double[]]$Quantizer.lutValues }
    if ($null -ne $Quantizer.lutValuesBitwidth) { $parameters.LutValuesBitwidth = [int]$Quantizer.lutValuesBitwidth }
    if ($null -ne $Quantizer.eps) { $parameters.Eps = [double]$Quantizer.eps }
    $parameters
}

# Mounts a scratch file system for a test (a small tmpfs, a bind mount); returns $null, or the reason it cannot be done
# here (not Linux, not root, refused), for Set-ItResult -Skipped -Because. Dismount-Scratch undoes it.
function Mount-Scratch([string] $Path, [string[]] $Arguments, [switch] $ReadOnly) {
    if (-not $IsLinux) { return 'mounting a scratch file system needs Linux' }
    if ((& id -u) -ne '0') { return "mounting a scratch file system needs root (running as $(& id -un))" }
    $null = New-Item -ItemType Directory -Path $Path -Force
    $output = & mount @Arguments 2>&1
    if ($LASTEXITCODE -ne 0) { return "mount $($Arguments -join ' ') was refused: $output" }
    if ($ReadOnly) {
        $output = & mount -o remount,bind,ro $Path 2>&1
        if ($LASTEXITCODE -ne 0) { Dismount-Scratch $Path; return "a read-only bind mount is not allowed here: $output" }
    }
    $null
}

function Dismount-Scratch([string] $Path) {
    foreach ($attempt in 1..10) {
        & umount $Path 2>$null
        if ($LASTEXITCODE -eq 0) { return }
        Start-Sleep -Milliseconds 100
    }
    & umount --lazy $Path
}
