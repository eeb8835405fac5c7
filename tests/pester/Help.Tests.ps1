# The help cannot drift from the code: the markdown sources (docs/cmdlets) document exactly the cmdlets' parameters,
# Get-Help -Full (the MAML that build/generate-help.ps1 writes from them) is complete, the examples and the PowerShell
# blocks of the README and docs/ use only parameters that exist, and the argument completers offer what each parameter takes.
BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    Import-Module (Join-Path $PSScriptRoot '../../build/CmdletHelp.psm1') -Force
    $script:SourceFolder = Get-HelpSourceFolder
    $script:Common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters

    # The parameters a cmdlet's markdown must have a section for: its own, and -WhatIf/-Confirm where it has them.
    function Get-DocumentedParameter($Command) {
        @($Command.Parameters.Keys | Where-Object { $_ -notin $script:Common -or $_ -in 'WhatIf', 'Confirm' } | Sort-Object)
    }

    # Problems with the parameters a piece of PowerShell uses: each command it calls that can be resolved must have
    # each parameter named (or a unique prefix of one, or an alias). Returns the problems and how many uses were checked.
    function Test-ParameterUse([string] $Code, [string] $Where) {
        $tokens = $null; $errors = $null
        $ast = [System.Management.Automation.Language.Parser]::ParseInput($Code, [ref]$tokens, [ref]$errors)
        $problems = [System.Collections.Generic.List[string]]::new()
        foreach ($e in $errors) { $problems.Add("${Where}: does not parse: $($e.Message)") }
        $checked = 0
        foreach ($commandAst in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $commandAst.GetCommandName()
            if (-not $name) { continue }
            $command = Get-Command $name -ErrorAction SilentlyContinue | Select-Object -First 1
            if ($null -eq $command -or $command.CommandType -notin 'Cmdlet', 'Function') { continue }
            $names = @($command.Parameters.Values | ForEach-Object { $_.Name; $_.Aliases })
            foreach ($parameter in $commandAst.CommandElements | Where-Object { $_ -is [System.Management.Automation.Language.CommandParameterAst] }) {
                $checked++
                $used = $parameter.ParameterName
                $exact = $names -contains $used
                $prefixed = @($command.Parameters.Keys | Where-Object { $_.StartsWith($used, [StringComparison]::OrdinalIgnoreCase) })
                if (-not $exact -and $prefixed.Count -ne 1) { $problems.Add("${Where}: $name has no parameter -$used") }
            }
        }
        [pscustomobject]@{ Problems = $problems.ToArray(); Checked = $checked }
    }
}

Describe 'Help sources in docs/cmdlets' {
    It 'has one source per cmdlet and no other' {
        $cmdlets = @(Get-Command -Module QuantShell -CommandType Cmdlet | ForEach-Object Name | Sort-Object)
        $sources = @(Get-ChildItem -LiteralPath $SourceFolder -Filter *.md | ForEach-Object BaseName | Sort-Object)
        $cmdlets.Count | Should -Be 10
        $sources | Should -Be $cmdlets
    }

    It '<Name>.md has a section for every parameter and none for a parameter that does not exist' -ForEach @(
        Get-Command -Module QuantShell -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } }
    ) {
        $command = Get-Command $Name
        $source = Read-CmdletHelpSource -Path (Join-Path $SourceFolder "$Name.md")
        @($source.Parameters.Name | Sort-Object) | Should -Be (Get-DocumentedParameter $command)
        $source.Examples.Count | Should -BeGreaterThan 0
    }

    It 'the markdown reader rejects a source without its sections and a misnamed parameter heading' {
        $bad = Join-Path $TestDrive 'Invoke-Quantize.md'
        Set-Content -LiteralPath $bad -Value "# Invoke-Quantize`n`n## SYNOPSIS`n`nx`n"
        { Read-CmdletHelpSource -Path $bad } | Should -Throw '*DESCRIPTION*missing*'
        Set-Content -LiteralPath $bad -Value "# Invoke-Quantize`n## SYNOPSIS`nx`n## DESCRIPTION`nx`n## EXAMPLES`n## PARAMETERS`n### Path`nThe files.`n"
        { Read-CmdletHelpSource -Path $bad } | Should -Throw "*'### -Name'*"
    }
}

Describe 'Get-Help -Full' {
    It 'describes every parameter of <Name> with what the cmdlet declares' -ForEach @(
        Get-Command -Module QuantShell -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } }
    ) {
        $command = Get-Command $Name
        $help = Get-Help $Name -Full
        $source = Read-CmdletHelpSource -Path (Join-Path $SourceFolder "$Name.md")
        $help.Synopsis | Should -Be $source.Synopsis
        $helpParameters = @($help.parameters.parameter)
        @($helpParameters.name | Sort-Object) | Should -Be (Get-DocumentedParameter $command)
        foreach ($parameter in $helpParameters) {
            $metadata = $command.Parameters[$parameter.name]
            $text = ($parameter.description | ForEach-Object Text) -join ' '
            $text | Should -Be (($source.Parameters | Where-Object Name -EQ $parameter.name).Paragraphs -join ' ') -Because "-$($parameter.name)"
            $mandatory = [bool]($metadata.ParameterSets.Values | Where-Object IsMandatory)
            $parameter.required | Should -Be ([string]$mandatory).ToLowerInvariant() -Because "-$($parameter.name) mandatory"
            $aliases = if ($metadata.Aliases.Count) { $metadata.Aliases -join ', ' } else { 'none' }
            $parameter.aliases | Should -Be $aliases -Because "-$($parameter.name) aliases"
        }
        @($help.syntax.syntaxItem).Count | Should -Be @($command.ParameterSets).Count
    }

    It 'shows position, pipeline input and wildcards as the cmdlet declares them' {
        $path = (Get-Help Invoke-Quantize -Parameter Path)
        $path.position | Should -Be '0'
        $path.pipelineInput | Should -Be 'True (ByValue)'
        $path.globbing | Should -Be 'true'
        $literal = (Get-Help Get-QuantTensor -Parameter LiteralPath)
        $literal.pipelineInput | Should -Be 'True (ByPropertyName)'
        $literal.position | Should -Be 'named'
        (Get-Help New-InferableQuantizer -Parameter Method).type.name | Should -Be 'QuantizationMethod'
        # Defaults come from the markdown's "Default: ..." sentence.
        (Get-Help Invoke-Quantize -Parameter NumBits).defaultValue | Should -Be '8'
        (Get-Help Invoke-Quantize -Parameter ChannelAxis).defaultValue | Should -Be 'auto'
        (Get-Help Measure-Quantization -Parameter Percentile).defaultValue | Should -Be '99.99'
        (Get-Help Invoke-Quantize -Parameter Threshold).defaultValue | Should -Be 'None'
    }

    It 'states the core''s own default for every parameter that has one' {
        $arguments = [QuantShell.Core.Rules.QuantizerArguments]
        $selection = [QuantShell.Core.Selection.SelectionOptions]
        $spec = [QuantShell.Core.Quantization.QuantizerSpec]
        $lower = [QuantShell.Core.Jobs.Lower.LowerRequest]
        $defaults = @(
            foreach ($cmdlet in 'Invoke-Quantize', 'Measure-Quantization') {
                @{ Cmdlet = $cmdlet; Parameter = 'Target'; Value = $arguments::DefaultTarget }
                @{ Cmdlet = $cmdlet; Parameter = 'Method'; Value = $arguments::DefaultMethod }
                @{ Cmdlet = $cmdlet; Parameter = 'NumBits'; Value = $arguments::DefaultNumBits }
            }
            foreach ($cmdlet in 'Invoke-Quantize', 'Measure-Quantization', 'New-InferableQuantizer') {
                @{ Cmdlet = $cmdlet; Parameter = 'LutValuesBitwidth'; Value = $spec::DefaultLutValuesBitwidth }
                @{ Cmdlet = $cmdlet; Parameter = 'Eps'; Value = '1e-8'; Core = $spec::DefaultEps }
            }
            foreach ($cmdlet in 'Invoke-Quantize', 'Measure-Quantization', 'New-InferableQuantizer', 'Invoke-Calibrate') {
                @{ Cmdlet = $cmdlet; Parameter = 'ErrorMethod'; Value = $selection::DefaultErrorMethod }
                @{ Cmdlet = $cmdlet; Parameter = 'P'; Value = $selection::DefaultP }
                @{ Cmdlet = $cmdlet; Parameter = 'Percentile'; Value = $selection::DefaultPercentile }
            }
            @{ Cmdlet = 'Invoke-Quantize'; Parameter = 'Format'; Value = [QuantShell.Core.Jobs.Quantize.QuantizeRequest]::DefaultFormat }
            @{ Cmdlet = 'Invoke-Calibrate'; Parameter = 'Method'; Value = [QuantShell.Core.Jobs.Calibrate.CalibrateRequest]::DefaultMethod }
            @{ Cmdlet = 'ConvertTo-StandardOnnx'; Parameter = 'Weights'; Value = $lower::DefaultWeights }
            @{ Cmdlet = 'ConvertTo-StandardOnnx'; Parameter = 'Activations'; Value = $lower::DefaultActivations }
        )
        $defaults.Count | Should -Be 28
        foreach ($default in $defaults) {
            if ($default.Core) { [double]$default.Value | Should -Be $default.Core }
            (Get-Help $default.Cmdlet -Parameter $default.Parameter).defaultValue |
                Should -Be ([string]::Format([cultureinfo]::InvariantCulture, '{0}', $default.Value)) -Because "$($default.Cmdlet) -$($default.Parameter)"
        }
        # A switch the quantizer decides when it is omitted is not "False".
        (Get-Help Invoke-Quantize -Parameter Signed).defaultValue | Should -Not -Be 'False'
    }
}

Describe 'Examples and the README' {
    It 'every example of every cmdlet parses and uses only parameters that exist' {
        $examples = 0; $checked = 0; $problems = @()
        foreach ($file in Get-ChildItem -LiteralPath $SourceFolder -Filter *.md) {
            $source = Read-CmdletHelpSource -Path $file.FullName
            foreach ($example in $source.Examples) {
                $examples++
                $result = Test-ParameterUse $example.Code "$($file.Name) example $($example.Number)"
                $problems += $result.Problems; $checked += $result.Checked
            }
        }
        $problems | Should -BeNullOrEmpty
        $examples | Should -BeGreaterOrEqual 30
        $checked | Should -BeGreaterThan 100
    }

    It "the PowerShell blocks of the README and of docs/ use only parameters that exist" {
        # The README and the reference pages of docs/ (docs/cmdlets is checked above, example by example).
        $pages = @(Get-Item -LiteralPath (Join-Path $RepoRoot 'README.md')) + @(Get-ChildItem -LiteralPath (Join-Path $RepoRoot 'docs') -Filter *.md | Sort-Object Name)
        $pages.Count | Should -BeGreaterOrEqual 10
        $blockCount = 0; $checked = 0; $readmeChecked = 0; $problems = @()
        foreach ($page in $pages) {
            $name = [System.IO.Path]::GetRelativePath($RepoRoot, $page.FullName)
            $blocks = [regex]::Matches((Get-Content -LiteralPath $page.FullName -Raw), '(?ms)^```powershell\r?\n(.*?)^```')
            foreach ($block in $blocks) {
                $blockCount++
                $result = Test-ParameterUse $block.Groups[1].Value $name
                $problems += $result.Problems; $checked += $result.Checked
                if ($name -eq 'README.md') { $readmeChecked += $result.Checked }
            }
        }
        $problems | Should -BeNullOrEmpty
        $blockCount | Should -BeGreaterThan 5
        $readmeChecked | Should -BeGreaterThan 40
        $checked | Should -BeGreaterThan 60
    }

    It 'the check finds a parameter that does not exist' {
        (Test-ParameterUse 'Invoke-Quantize -Path x.npy -ChannelAxes 0' 'test').Problems | Should -BeLike '*Invoke-Quantize has no parameter -ChannelAxes*'
    }
}

Describe 'Argument completion' {
    BeforeAll {
        $folder = Join-Path $TestDrive 'completion'
        $null = New-Item -ItemType Directory -Path (Join-Path $folder 'sub')
        foreach ($name in 'a.npy', 'b.NPZ', 'c.safetensors', 'd.pt', 'e.pth', 'f.bin', 'g.ckpt', 'h.onnx', 'notes.txt', 'q.json') {
            Set-Content -LiteralPath (Join-Path $folder $name) -Value ''
        }
        Push-Location $folder
        function Complete([string] $Line) {
            $result = TabExpansion2 -inputScript $Line -cursorColumn $Line.Length
            @($result.CompletionMatches | ForEach-Object { Split-Path -Leaf $_.CompletionText.Trim("'", '"') } | Sort-Object)
        }
        $tensors = @('a.npy', 'b.NPZ', 'c.safetensors', 'd.pt', 'e.pth', 'f.bin', 'g.ckpt', 'h.onnx', 'sub') | Sort-Object
    }
    AfterAll { Pop-Location }

    It '<Line> offers tensor and model files and folders' -ForEach @(
        @{ Line = 'Invoke-Quantize -Path ' }, @{ Line = 'Invoke-Quantize -LiteralPath ' }, @{ Line = 'Measure-Quantization -Path ' },
        @{ Line = 'Get-QuantTensor -Path ' }, @{ Line = 'Invoke-Dequantize -LiteralPath ' }, @{ Line = 'ConvertTo-StandardOnnx -Path ' },
        @{ Line = 'New-InferableQuantizer -FromPath ' }, @{ Line = 'New-InferableQuantizer -FromLiteralPath ' }, @{ Line = 'Invoke-Quantize ' },
        @{ Line = 'Invoke-Calibrate -Path ' }, @{ Line = 'Compare-OnnxModel -ReferencePath ' }, @{ Line = 'Compare-OnnxModel -CandidatePath ' }
    ) {
        Complete $Line | Should -Be $tensors
    }

    It 'completes a partial file name' {
        Complete 'Invoke-Quantize -Path ./a' | Should -Be @('a.npy')
    }

    It '<Line> offers JSON files and folders' -ForEach @(
        @{ Line = 'Invoke-Quantize -Quantizer ' }, @{ Line = 'Measure-Quantization -Quantizer ' }, @{ Line = 'Invoke-Quantize -Rules ' },
        @{ Line = 'Measure-Quantization -Rules ' }, @{ Line = 'Invoke-Quantize -ExportQuantizer ' },
        @{ Line = 'Import-InferableQuantizer -Path ' }, @{ Line = 'Export-InferableQuantizer -Path ' }, @{ Line = 'Invoke-Calibrate -OutputPath ' }
    ) {
        Complete $Line | Should -Be @('q.json', 'sub')
    }

    It '<Line> offers folders only' -ForEach @(
        @{ Line = 'Invoke-Quantize -OutputDirectory ' }, @{ Line = 'Invoke-Dequantize -OutputDirectory ' },
        @{ Line = 'Invoke-Calibrate -DataPath ' }, @{ Line = 'Compare-OnnxModel -DataPath ' }
    ) {
        Complete $Line | Should -Be @('sub')
    }

    It '<Line> offers <Expected>' -ForEach @(
        @{ Line = 'Invoke-Quantize -Method '; Expected = @('LutPot', 'LutSymmetric', 'Pot', 'Symmetric', 'Uniform') }
        @{ Line = 'New-InferableQuantizer -Method Lut'; Expected = @('LutPot', 'LutSymmetric') }
        @{ Line = 'Measure-Quantization -Target '; Expected = @('Activation', 'Weights') }
        @{ Line = 'New-InferableQuantizer -ErrorMethod '; Expected = @('Kl', 'Lp', 'Mae', 'Mse', 'NoClipping', 'Percentile') }
        @{ Line = 'Invoke-Quantize -Format '; Expected = @('CompressedTensors', 'Fake', 'Int', 'Qdq') }
    ) {
        Complete $Line | Should -Be $Expected
    }
}
