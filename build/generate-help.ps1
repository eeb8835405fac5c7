<#
.SYNOPSIS
Writes the QuantShell module's MAML help (en-US/QuantShell.PowerShell.dll-Help.xml, what Get-Help reads) from the
markdown sources in docs/cmdlets and the cmdlets' own metadata.

.DESCRIPTION
The text (synopsis, description, examples, one section per parameter, inputs, outputs, notes, links) comes from
docs/cmdlets/<Cmdlet>.md; what only the compiled cmdlet knows comes from it: parameter sets, types, mandatory,
position, pipeline input, wildcards, aliases. So the help cannot state a parameter set or position that the code
does not have, and a parameter without a markdown section (or a section for a parameter that does not exist) stops
the build. build/build-module.sh runs it after publishing the module; the XML is a build output, not committed.
Runs in a pwsh of its own (it imports the built module).

.PARAMETER ModuleFolder
The published module's bin folder (QuantShell.PowerShell.dll). The help goes to its en-US folder.
#>
[CmdletBinding()]
param(
    [string] $ModuleFolder = (Join-Path (Split-Path -Parent $PSScriptRoot) 'module/bin')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

Import-Module (Join-Path $PSScriptRoot 'CmdletHelp.psm1')
$ModuleFolder = (Resolve-Path -LiteralPath $ModuleFolder).Path
$assembly = Join-Path $ModuleFolder 'QuantShell.PowerShell.dll'
$module = Import-Module $assembly -PassThru
$sourceFolder = Get-HelpSourceFolder
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + [System.Management.Automation.PSCmdlet]::OptionalCommonParameters
# WhatIf and Confirm get a section where a cmdlet has them (as platyPS does); the other common parameters never do.
$documentedCommon = 'WhatIf', 'Confirm'

$cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
$sources = @(Get-ChildItem -LiteralPath $sourceFolder -Filter *.md | Sort-Object Name)
$problems = [System.Collections.Generic.List[string]]::new()
foreach ($source in $sources) {
    if ($source.BaseName -notin $cmdlets.Name) { $problems.Add("$($source.FullName): no cmdlet $($source.BaseName) in $assembly") }
}
foreach ($cmdlet in $cmdlets) {
    if ($cmdlet.Name -notin $sources.BaseName) { $problems.Add("$($cmdlet.Name) has no help source $sourceFolder/$($cmdlet.Name).md") }
}
if ($problems.Count -gt 0) { throw ($problems -join [Environment]::NewLine) }

function TypeName([type] $Type) {
    if ($Type -eq [System.Management.Automation.SwitchParameter]) { return 'SwitchParameter' }
    if ($Type.IsArray) { return "$(TypeName $Type.GetElementType())[]" }
    # Short names, as Get-Help's syntax lines read best (QuantizationMethod, not QuantShell.Core.Quantization...).
    $Type.Name
}

function PipelineInput($setMetadata) {
    $kinds = @()
    if ($setMetadata.ValueFromPipeline) { $kinds += 'ByValue' }
    if ($setMetadata.ValueFromPipelineByPropertyName) { $kinds += 'ByPropertyName' }
    if ($kinds) { "True ($($kinds -join ', '))" } else { 'False' }
}

# The default a parameter's markdown states ("Default: 8." / "Default: auto. Without it, ..."): the cmdlet metadata does
# not know defaults (the core applies them), so the text is the one place they are written.
function DefaultValue($section, [bool] $isSwitch) {
    $match = [regex]::Match(($section.Paragraphs -join ' '), 'Default: (.+?)(?:[;,]|\.(?:\s|$)|$)')
    if ($match.Success) { $match.Groups[1].Value } elseif ($isSwitch) { 'False' } else { 'None' }
}

function Position($setMetadata) {
    if ($setMetadata.Position -lt 0) { 'named' } else { [string]$setMetadata.Position }
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$outputFolder = Join-Path $ModuleFolder 'en-US'
$null = New-Item -ItemType Directory -Force -Path $outputFolder
$outputPath = Join-Path $outputFolder 'QuantShell.PowerShell.dll-Help.xml'
$temporary = "$outputPath.tmp"
$maml = 'http://schemas.microsoft.com/maml/2004/10'
$command = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$dev = 'http://schemas.microsoft.com/maml/dev/2004/10'

$writer = [System.Xml.XmlWriter]::Create($temporary, $settings)
function Para([string[]] $Paragraphs) { foreach ($p in $Paragraphs) { $writer.WriteElementString('maml', 'para', $maml, $p) } }
function Description([string[]] $Paragraphs) { $writer.WriteStartElement('maml', 'description', $maml); Para $Paragraphs; $writer.WriteEndElement() }

# One <command:parameter>: its attributes for one parameter set (the syntax) or over all sets (the parameters list,
# where it is mandatory or positional or from the pipeline if it is so in any set).
function WriteParameter($cmdlet, $source, [string] $name, $setMetadata) {
    $metadata = $cmdlet.Parameters[$name]
    $section = $source.Parameters | Where-Object Name -EQ $name
    $isSwitch = $metadata.ParameterType -eq [System.Management.Automation.SwitchParameter]
    $writer.WriteStartElement('command', 'parameter', $command)
    $writer.WriteAttributeString('required', ([string]$setMetadata.IsMandatory).ToLowerInvariant())
    $writer.WriteAttributeString('variableLength', ([string]$metadata.ParameterType.IsArray).ToLowerInvariant())
    $wildcards = [bool]($metadata.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
    $writer.WriteAttributeString('globbing', ([string]$wildcards).ToLowerInvariant())
    $writer.WriteAttributeString('pipelineInput', (PipelineInput $setMetadata))
    $writer.WriteAttributeString('position', (Position $setMetadata))
    $writer.WriteAttributeString('aliases', $(if ($metadata.Aliases.Count) { $metadata.Aliases -join ', ' } else { 'none' }))
    $writer.WriteElementString('maml', 'name', $maml, $name)
    Description $section.Paragraphs
    if (-not $isSwitch) {
        $writer.WriteStartElement('command', 'parameterValue', $command)
        $writer.WriteAttributeString('required', 'true')
        $writer.WriteString((TypeName $metadata.ParameterType))
        $writer.WriteEndElement()
    }
    $writer.WriteStartElement('dev', 'type', $dev)
    $writer.WriteElementString('maml', 'name', $maml, (TypeName $metadata.ParameterType))
    $writer.WriteEndElement()
    $writer.WriteElementString('dev', 'defaultValue', $dev, (DefaultValue $section $isSwitch))
    $writer.WriteEndElement()
}

$writer.WriteStartDocument()
$writer.WriteStartElement('helpItems', 'http://msh')
$writer.WriteAttributeString('schema', 'maml')
foreach ($cmdlet in $cmdlets) {
    $source = Read-CmdletHelpSource -Path (Join-Path $sourceFolder "$($cmdlet.Name).md")
    $documented = @($cmdlet.Parameters.Keys | Where-Object { $_ -notin $common -or $_ -in $documentedCommon })
    $required = $documented
    foreach ($name in $required) {
        if ($name -notin $source.Parameters.Name) { $problems.Add("$($source.Path): no section '### -$name' for the parameter $($cmdlet.Name) -$name") }
    }
    foreach ($name in $source.Parameters.Name) {
        if ($name -notin $documented) { $problems.Add("$($source.Path): the section '### -$name' names no parameter of $($cmdlet.Name)") }
    }
    if ($problems.Count -gt 0) { continue }
    $verb, $noun = $cmdlet.Name -split '-', 2

    $writer.WriteStartElement('command', 'command', $command)
    $writer.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $writer.WriteAttributeString('xmlns', 'dev', $null, $dev)
    $writer.WriteStartElement('command', 'details', $command)
    $writer.WriteElementString('command', 'name', $command, $cmdlet.Name)
    $writer.WriteElementString('command', 'verb', $command, $verb)
    $writer.WriteElementString('command', 'noun', $command, $noun)
    Description @($source.Synopsis)
    $writer.WriteEndElement()
    Description $source.Description

    # Syntax: one item per parameter set, the parameters in the order of the markdown (which reads as a story), the
    # default set first.
    $writer.WriteStartElement('command', 'syntax', $command)
    $sets = @($cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault })
    foreach ($set in $sets) {
        $writer.WriteStartElement('command', 'syntaxItem', $command)
        $writer.WriteElementString('maml', 'name', $maml, $cmdlet.Name)
        $inSet = @($set.Parameters | Where-Object { $_.Name -in $documented })
        $ordered = @($inSet | Sort-Object { if ($_.Position -ge 0) { $_.Position } else { 1000 } }, { [array]::IndexOf($source.Parameters.Name, $_.Name) })
        foreach ($p in $ordered) {
            $setMetadata = $cmdlet.Parameters[$p.Name].ParameterSets[$set.Name]
            if ($null -eq $setMetadata) { $setMetadata = $cmdlet.Parameters[$p.Name].ParameterSets['__AllParameterSets'] }
            WriteParameter $cmdlet $source $p.Name $setMetadata
        }
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()

    $writer.WriteStartElement('command', 'parameters', $command)
    foreach ($section in $source.Parameters) {
        $all = @($cmdlet.Parameters[$section.Name].ParameterSets.Values)
        $merged = [pscustomobject]@{
            IsMandatory                     = [bool]($all | Where-Object IsMandatory)
            Position                        = ($all | ForEach-Object Position | Measure-Object -Maximum).Maximum
            ValueFromPipeline               = [bool]($all | Where-Object ValueFromPipeline)
            ValueFromPipelineByPropertyName = [bool]($all | Where-Object ValueFromPipelineByPropertyName)
        }
        WriteParameter $cmdlet $source $section.Name $merged
    }
    $writer.WriteEndElement()

    foreach ($kind in @(@('inputTypes', 'inputType', $source.Inputs), @('returnValues', 'returnValue', $source.Outputs))) {
        $writer.WriteStartElement('command', $kind[0], $command)
        foreach ($item in $kind[2]) {
            $writer.WriteStartElement('command', $kind[1], $command)
            $writer.WriteStartElement('dev', 'type', $dev); $writer.WriteElementString('maml', 'name', $maml, $item.Type); $writer.WriteEndElement()
            Description $item.Paragraphs
            $writer.WriteEndElement()
        }
        $writer.WriteEndElement()
    }
    if ($source.Notes.Count -gt 0) {
        $writer.WriteStartElement('maml', 'alertSet', $maml)
        $writer.WriteStartElement('maml', 'alert', $maml); Para $source.Notes; $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteStartElement('command', 'examples', $command)
    foreach ($example in $source.Examples) {
        $writer.WriteStartElement('command', 'example', $command)
        $title = "-------------------------- Example $($example.Number)$(if ($example.Title) { ": $($example.Title)" }) --------------------------"
        $writer.WriteElementString('maml', 'title', $maml, $title)
        $writer.WriteElementString('dev', 'code', $dev, $example.Code)
        $writer.WriteStartElement('dev', 'remarks', $dev); Para $example.Remarks; $writer.WriteEndElement()
        $writer.WriteEndElement()
    }
    $writer.WriteEndElement()
    $writer.WriteStartElement('command', 'relatedLinks', $command)
    foreach ($link in $source.Links) {
        $writer.WriteStartElement('maml', 'navigationLink', $maml); $writer.WriteElementString('maml', 'linkText', $maml, $link); $writer.WriteElementString('maml', 'uri', $maml, ''); $writer.WriteEndElement()
    }
    $writer.WriteEndElement()
    $writer.WriteEndElement()
}
$writer.WriteEndElement()
$writer.WriteEndDocument()
$writer.Dispose()
if ($problems.Count -gt 0) {
    Remove-Item -LiteralPath $temporary
    throw ($problems -join [Environment]::NewLine)
}
Move-Item -LiteralPath $temporary -Destination $outputPath -Force
Write-Host "generate-help.ps1: $outputPath from $($sources.Count) sources in $sourceFolder"
