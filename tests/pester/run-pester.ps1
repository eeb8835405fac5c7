#Requires -Version 7.4
<#
.SYNOPSIS
    Runs the QuantShell Pester tests against the built module (build/build-module.sh first).
.DESCRIPTION
    Imports Pester 5.7.1 from the NuGet packages folder (restoring tests/pester/Pester.Restore.csproj when it is
    missing), imports ./QuantShell.psd1 and runs every *.Tests.ps1 here. Then it prints each skipped test with its
    reason ("skipped: Test: reason"), one line per file ("Pester file: NAME.Tests.ps1: N passed, N failed, N skipped
    (Result)", which build/test.sh checks against its list of files that must run) and last "Pester: N passed,
    N failed, N skipped"; the exit code is 1 if a test failed or none ran.
#>
[CmdletBinding()]
param(
    # Verbosity of Pester's own output: None, Normal, Detailed or Diagnostic.
    [ValidateSet('None', 'Normal', 'Detailed', 'Diagnostic')]
    [string] $Output = 'Normal'
)

$ErrorActionPreference = 'Stop'
$pesterVersion = '5.7.1'
$repoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path

function Get-NuGetPackagesFolder {
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    # Asks NuGet itself, so a globalPackagesFolder set in NuGet.Config is honoured too.
    $listed = & dotnet nuget locals global-packages --list 2>$null | Select-Object -First 1
    if ($LASTEXITCODE -eq 0 -and $listed -match '^\s*global-packages:\s*(.+?)\s*$') { return $Matches[1] }
    Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget/packages'
}

$pesterManifest = Join-Path (Get-NuGetPackagesFolder) "pester/$pesterVersion/tools/Pester.psd1"
if (-not (Test-Path -LiteralPath $pesterManifest)) {
    & dotnet restore (Join-Path $PSScriptRoot 'Pester.Restore.csproj') --nologo | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet restore of Pester $pesterVersion failed." }
    $pesterManifest = Join-Path (Get-NuGetPackagesFolder) "pester/$pesterVersion/tools/Pester.psd1"
    if (-not (Test-Path -LiteralPath $pesterManifest)) { throw "Pester $pesterVersion not found at $pesterManifest after restore." }
}

Get-Module Pester | Remove-Module -Force
Import-Module $pesterManifest -Force
Import-Module (Join-Path $repoRoot 'QuantShell.psd1') -Force

$configuration = New-PesterConfiguration
$configuration.Run.Path = $PSScriptRoot
$configuration.Run.PassThru = $true
$configuration.Run.Exit = $false
$configuration.Output.Verbosity = $Output

$result = Invoke-Pester -Configuration $configuration

# A test that cannot run here (no root to mount, ...) is skipped with its reason: print them all.
foreach ($test in $result.Skipped) {
    $reason = @($test.ErrorRecord | ForEach-Object { $_.Exception.Message }) -join '; '
    # Set-ItResult -Skipped -Because gives the reason; a static -Skip on It or Describe gives none.
    if (-not $reason) { $reason = 'no reason given (a static -Skip)' }
    Write-Output "skipped: $($test.ExpandedPath): $reason"
}

foreach ($container in $result.Containers) {
    $name = if ($container.Type -eq 'File') { Split-Path -Leaf $container.Item } else { "$($container.Item)" }
    Write-Output "Pester file: ${name}: $($container.PassedCount) passed, $($container.FailedCount) failed, $($container.SkippedCount) skipped ($($container.Result))"
}

# Failures outside tests (a broken BeforeAll, a file that does not parse) count as failures too.
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
$passed = $result.PassedCount
Write-Output "Pester: $passed passed, $failed failed, $($result.SkippedCount) skipped"
if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
exit 0
