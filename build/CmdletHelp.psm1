# Reads the cmdlet help sources, docs/cmdlets/<Cmdlet>.md (a platyPS-like layout), into objects. Used by
# build/generate-help.ps1 (which writes the MAML that Get-Help reads) and by the tests that keep the help, the CLI's
# option descriptions and the README from drifting apart, so that all of them read the markdown the same way.
#
# The layout (level-2 headings in this order; unknown headings are an error, so a typo cannot drop a section):
#   # <Cmdlet>
#   ## SYNOPSIS            one paragraph
#   ## DESCRIPTION         paragraphs
#   ## EXAMPLES            ### Example N: <title>, a ```powershell block, then remark paragraphs
#   ## PARAMETERS          ### -<Name>, paragraphs; the first sentence is the description the CLI shares
#   ## INPUTS / ## OUTPUTS ### <type name>, paragraphs
#   ## NOTES               paragraphs
#   ## RELATED LINKS       "- <Cmdlet>" lines
Set-StrictMode -Version Latest

$script:Sections = 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS'

function Get-HelpSourceFolder {
    Join-Path (Split-Path -Parent $PSScriptRoot) 'docs/cmdlets'
}

# Paragraphs of a block of lines: blank lines separate them; lines of one paragraph are joined by a space (markdown's
# soft line break). Inline code marks are dropped: MAML is plain text.
function ConvertTo-Paragraph([string[]] $Lines) {
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $current = [System.Collections.Generic.List[string]]::new()
    foreach ($line in $Lines + '') {
        if ($line.Trim() -eq '') {
            if ($current.Count -gt 0) { $paragraphs.Add(($current -join ' ').Replace('`', '')); $current.Clear() }
        } else {
            $current.Add($line.Trim())
        }
    }
    , $paragraphs.ToArray()
}

# The first sentence of a paragraph: up to the first ". " (or the end). What the CLI's option description starts with.
function Get-FirstSentence([string] $Paragraph) {
    $match = [regex]::Match($Paragraph, '^.*?\.(?=\s|$)')
    if ($match.Success) { $match.Value } else { $Paragraph }
}

function Read-CmdletHelpSource {
    [CmdletBinding()]
    param([Parameter(Mandatory)] [string] $Path)

    $lines = [System.IO.File]::ReadAllLines($Path)
    $name = [System.IO.Path]::GetFileNameWithoutExtension($Path)
    if ($lines.Count -eq 0 -or $lines[0] -ne "# $name") { throw "${Path}: the first line must be '# $name'" }

    # Split into level-2 sections, then level-3 subsections; code fences are kept whole (a '#' inside is code).
    $sections = [ordered]@{}
    $section = $null; $sub = $null; $inCode = $false
    for ($i = 1; $i -lt $lines.Count; $i++) {
        $line = $lines[$i]
        if (-not $inCode -and $line -match '^## (.+)$') {
            $section = $Matches[1].Trim()
            if ($section -notin $script:Sections) { throw "${Path}:$($i + 1): unknown section '## $section' (expected one of: $($script:Sections -join ', '))" }
            if ($sections.Contains($section)) { throw "${Path}:$($i + 1): section '## $section' appears twice" }
            $sections[$section] = [pscustomobject]@{ Lines = [System.Collections.Generic.List[string]]::new(); Subsections = [System.Collections.Generic.List[object]]::new() }
            $sub = $null
            continue
        }
        if (-not $inCode -and $line -match '^### (.+)$') {
            if ($null -eq $section) { throw "${Path}:$($i + 1): '### ' outside a section" }
            $sub = [pscustomobject]@{ Title = $Matches[1].Trim(); Lines = [System.Collections.Generic.List[string]]::new(); Line = $i + 1 }
            $sections[$section].Subsections.Add($sub)
            continue
        }
        if ($line -match '^```') { $inCode = -not $inCode }
        if ($null -eq $section) {
            if ($line.Trim() -ne '') { throw "${Path}:$($i + 1): text before the first section" }
            continue
        }
        if ($null -ne $sub) { $sub.Lines.Add($line) } else { $sections[$section].Lines.Add($line) }
    }
    foreach ($required in 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS') {
        if (-not $sections.Contains($required)) { throw "${Path}: the section '## $required' is missing" }
    }
    function Paragraphs($sectionName) { if ($sections.Contains($sectionName)) { ConvertTo-Paragraph $sections[$sectionName].Lines.ToArray() } else { @() } }
    function Typed($sectionName) {
        if (-not $sections.Contains($sectionName)) { return @() }
        foreach ($s in $sections[$sectionName].Subsections) { [pscustomobject]@{ Type = $s.Title; Paragraphs = ConvertTo-Paragraph $s.Lines.ToArray() } }
    }

    $examples = foreach ($s in $sections['EXAMPLES'].Subsections) {
        if ($s.Title -notmatch '^Example (\d+)(?::\s*(.*))?$') { throw "${Path}:$($s.Line): an example's heading is '### Example N: title', not '### $($s.Title)'" }
        $number = [int]$Matches[1]; $title = $Matches[2]
        $code = [System.Collections.Generic.List[string]]::new(); $rest = [System.Collections.Generic.List[string]]::new(); $state = 'before'
        foreach ($line in $s.Lines) {
            if ($state -eq 'before' -and $line -match '^```') { $state = 'code'; continue }
            if ($state -eq 'code' -and $line -match '^```') { $state = 'after'; continue }
            if ($state -eq 'code') { $code.Add($line) } elseif ($state -eq 'after') { $rest.Add($line) } elseif ($line.Trim() -ne '') {
                throw "${Path}:$($s.Line): text before the example's code block"
            }
        }
        if ($state -ne 'after') { throw "${Path}:$($s.Line): an example needs one closed ```powershell code block" }
        [pscustomobject]@{ Number = $number; Title = $title; Code = ($code -join "`n"); Remarks = ConvertTo-Paragraph $rest.ToArray() }
    }
    $parameters = foreach ($s in $sections['PARAMETERS'].Subsections) {
        if ($s.Title -notmatch '^-(\w+)$') { throw "${Path}:$($s.Line): a parameter's heading is '### -Name', not '### $($s.Title)'" }
        $paragraphs = ConvertTo-Paragraph $s.Lines.ToArray()
        if ($paragraphs.Count -eq 0) { throw "${Path}:$($s.Line): the parameter -$($Matches[1]) has no description" }
        [pscustomobject]@{ Name = $Matches[1]; Paragraphs = $paragraphs; FirstSentence = Get-FirstSentence $paragraphs[0] }
    }
    $links = if ($sections.Contains('RELATED LINKS')) {
        foreach ($line in $sections['RELATED LINKS'].Lines) { if ($line -match '^-\s+(.+)$') { $Matches[1].Trim() } }
    }
    [pscustomobject]@{
        Name        = $name
        Path        = $Path
        Synopsis    = (Paragraphs 'SYNOPSIS') -join ' '
        Description = Paragraphs 'DESCRIPTION'
        Examples    = @($examples)
        Parameters  = @($parameters)
        Inputs      = @(Typed 'INPUTS')
        Outputs     = @(Typed 'OUTPUTS')
        Notes       = Paragraphs 'NOTES'
        Links       = @($links)
    }
}

Export-ModuleMember -Function Read-CmdletHelpSource, Get-HelpSourceFolder, Get-FirstSentence
