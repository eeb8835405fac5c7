# The README's PowerShell example runs as written. The code block under "## PowerShell" runs statement by statement, in
# order, in a fresh pwsh with $ErrorActionPreference = 'Stop', from a copy of examples/ laid out as a clone is after
# ./build/run-example.sh (../QuantShell.psd1 and ../module are this clone's built module): no statement may fail or
# leave an error record, and every output it names must exist afterwards. It runs twice in the same folder: the block
# empties its own output folder, so a user can run it again as written.

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')

    # The fenced code blocks of one language under a level-2 heading of the README, up to the next level-2 heading.
    function Get-ReadmeBlock([string] $Heading, [string] $Language) {
        $readme = Get-Content -LiteralPath (Join-Path $RepoRoot 'README.md') -Raw
        $section = [regex]::Match($readme, "(?ms)^## $([regex]::Escape($Heading))\r?\n(.*?)(?=^## |\z)")
        if (-not $section.Success) { throw "README.md has no section '## $Heading'." }
        @([regex]::Matches($section.Groups[1].Value, "(?ms)^``````$Language\r?\n(.*?)^``````") | ForEach-Object { $_.Groups[1].Value })
    }

    # Runs a block in a fresh pwsh (this session's own pwsh.dll, run by dotnet), one statement after the other, each
    # dot-sourced so that the variables a statement sets are there for the next. The last line printed is a JSON
    # summary: how many statements the block has, how many ran, and the error records left in $Error.
    function Invoke-ReadmeBlock([string] $Code, [string] $WorkingDirectory) {
        $blockPath = Join-Path $TestDrive 'block.ps1'
        Set-Content -LiteralPath $blockPath -Value $Code -NoNewline
        $runnerPath = Join-Path $TestDrive 'run-block.ps1'
        Set-Content -LiteralPath $runnerPath -Value @'
param([Parameter(Mandatory)] [string] $BlockPath)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$PSStyle.OutputRendering = 'PlainText'
$tokens = $null; $parseErrors = $null
$ast = [System.Management.Automation.Language.Parser]::ParseInput([System.IO.File]::ReadAllText($BlockPath), [ref]$tokens, [ref]$parseErrors)
if ($parseErrors.Count) { throw "The block does not parse: $($parseErrors[0])" }
$statements = @($ast.EndBlock.Statements)
$ran = 0
foreach ($statement in $statements) {
    "PS> $($statement.Extent.Text)"
    . ([scriptblock]::Create($statement.Extent.Text)) | Out-String -Width 160
    $ran++
}
[pscustomobject]@{ Statements = $statements.Count; Ran = $ran; Errors = @($Error | ForEach-Object { "$_" }) } | ConvertTo-Json -Compress
'@
        $start = [System.Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        foreach ($argument in (Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive', '-File', $runnerPath, '-BlockPath', $blockPath) {
            $start.ArgumentList.Add($argument)
        }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.WorkingDirectory = $WorkingDirectory
        $start.Environment['NO_COLOR'] = '1'
        $process = [System.Diagnostics.Process]::Start($start)
        $stdout = $process.StandardOutput.ReadToEndAsync()
        $stderr = $process.StandardError.ReadToEndAsync()
        if (-not $process.WaitForExit(300000)) { $process.Kill($true); throw "The README's PowerShell block did not finish in 5 minutes." }
        [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result; Error = $stderr.Result }
    }
}

Describe "The README's PowerShell example" {
    BeforeAll {
        $script:Blocks = @(Get-ReadmeBlock 'PowerShell' 'powershell')
        # A clone after the set-up: the built module beside a copy of examples/ (without the outputs of a run there).
        $script:Clone = Join-Path $TestDrive 'clone'
        $null = New-Item -ItemType Directory -Path $Clone
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Clone 'QuantShell.psd1') -Target $ManifestPath
        $null = New-Item -ItemType SymbolicLink -Path (Join-Path $Clone 'module') -Target (Join-Path $RepoRoot 'module')
        Copy-Item -LiteralPath (Join-Path $RepoRoot 'examples') -Destination $Clone -Recurse
        Remove-Item -LiteralPath (Join-Path $Clone 'examples/out') -Recurse -Force -ErrorAction Ignore
        $script:Examples = Join-Path $Clone 'examples'
    }

    It 'is one powershell block under "## PowerShell" that starts by importing the clone''s module' {
        $Blocks.Count | Should -Be 1
        ($Blocks[0] -split "`n")[0] | Should -BeLike 'Import-Module ../QuantShell.psd1*'
    }

    It 'runs as written from examples/, every statement, twice, with no error' {
        $statementCount = $null
        foreach ($round in 1, 2) {
            $run = Invoke-ReadmeBlock $Blocks[0] $Examples
            $run.ExitCode | Should -Be 0 -Because "round $round; the block said:`n$($run.Output)`n$($run.Error)"
            $summary = ($run.Output.Trim() -split "`n")[-1] | ConvertFrom-Json
            $summary.Errors | Should -BeNullOrEmpty -Because "round $round"
            $summary.Ran | Should -Be $summary.Statements
            $run.Error | Should -BeNullOrEmpty -Because "round $round wrote to stderr"
            $statementCount = $summary.Statements
        }
        # Every statement ran (28 in the README as written; comments are not statements): a block cut short or emptied
        # by a broken fence fails here.
        $statementCount | Should -BeGreaterOrEqual 25
    }

    It 'wrote every output the block names, and the seed''s result' {
        $named = @([regex]::Matches($Blocks[0], '(?<![\w./-])out/[\w.-]+') | ForEach-Object Value | Sort-Object -Unique)
        $named.Count | Should -BeGreaterOrEqual 15
        foreach ($path in $named) { Join-Path $Examples $path | Should -Exist }
        @(Get-ChildItem -LiteralPath (Join-Path $Examples 'out/weights') -Filter *.npy).Count | Should -Be 3
        # The seed's claim: with thresholds 2, 4, 1 every value lies in [-4, 4).
        $values = [QuantShell.Core.Formats.NpyArray]::Read((Join-Path $Examples 'out/x.q.npy')).Data
        ($values | Measure-Object -Maximum).Maximum | Should -BeLessThan 4
        ($values | Measure-Object -Minimum).Minimum | Should -BeGreaterOrEqual -4
        # "back to the fake format, bit for bit": the dequantized int format is the file the fake format of the same
        # quantizer (POT, thresholds chosen per channel) gives.
        $fake = Join-Path $TestDrive 'model.fake.safetensors'
        $null = Invoke-Quantize -Path (Join-Path $Examples 'model.safetensors') -Method Pot -OutputPath $fake
        (Get-FileHash -LiteralPath (Join-Path $Examples 'out/model.back.safetensors')).Hash | Should -Be (Get-FileHash -LiteralPath $fake).Hash
    }
}
