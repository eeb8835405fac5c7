# Importing the manifest before the module is built gives a message that says what to run, not an assembly-load error.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
}

Describe 'Import-Module before the build' {
    It 'says to run build/build-module.sh' {
        $copy = Join-Path $TestDrive 'unbuilt'
        $null = New-Item -ItemType Directory -Path (Join-Path $copy 'module')
        Copy-Item -LiteralPath $ManifestPath -Destination $copy
        Copy-Item -Path (Join-Path $RepoRoot 'module/*.ps1'), (Join-Path $RepoRoot 'module/*.ps1xml') -Destination (Join-Path $copy 'module')
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("try { Import-Module '$(Join-Path $copy 'QuantShell.psd1')' -ErrorAction Stop; 'imported' } catch { `$_.Exception.Message }")
            $said = @($ps.Invoke()) -join "`n"
            $said | Should -BeLike '*QuantShell is not built yet: run*build/build-module.sh*'
            $said | Should -Not -BeLike '*imported*'
        }
        finally {
            $ps.Dispose()
        }
    }
}
