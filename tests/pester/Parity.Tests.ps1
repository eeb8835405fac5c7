# The same misuse through both faces gives the same error id: the rules and ids live in the core, once.
# Each case runs `dotnet dotnet-quant.dll <Cli>` as a process and `<Ps>` in this session; {dir} is a folder of fixtures.

BeforeDiscovery {
    # The same core error in each face's words: the parameters as its options or parameters, enum values as it takes them.
    $script:Spelled = @(
        @{ Name = 'channel axis without per-channel'
           Cli = 'quantize {dir}/x.npy --channel-axis 0'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -ChannelAxis 0'
           CliText = '--channel-axis 0 applies to per-channel quantizers only; add --per-channel or leave --channel-axis out.'
           PsText = '-ChannelAxis 0 applies to per-channel quantizers only; add -PerChannel or leave -ChannelAxis out.' }
        @{ Name = 'an int format for an .npy file'
           Cli = 'quantize {dir}/x.npy --format int --output-path {dir}/int.npy'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Format Int -OutputPath {dir}/int.npy'
           CliText = '--format int is written for model files; an .npy file is written fake-quantized (--format fake).'
           PsText = '-Format Int is written for model files; an .npy file is written fake-quantized (-Format Fake).' }
        @{ Name = 'P without Lp'
           Cli = 'measure {dir}/x.npy --p 3'; Ps = 'Measure-Quantization -Path {dir}/x.npy -P 3'
           CliText = '--p is the exponent of --error-method lp; it does not apply to --error-method mse.'
           PsText = '-P is the exponent of -ErrorMethod Lp; it does not apply to -ErrorMethod Mse.' }
        @{ Name = 'LUT symmetric activations'
           Cli = 'new --method lut-symmetric --target activation --threshold 1 --lut-values 1'; Ps = 'New-InferableQuantizer -Method LutSymmetric -Target Activation -Threshold 1 -LutValues 1'
           CliText = '--method lut-symmetric is a weights quantizer in MCT; activations take lut-pot.'
           PsText = '-Method LutSymmetric is a weights quantizer in MCT; activations take LutPot.' }
    )
    $script:Cases = @(
        @{ Name = 'non-POT threshold'; ErrorId = 'ThresholdNotPowerOfTwo'
           Cli = 'quantize {dir}/x.npy --method pot --threshold 3'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Method Pot -Threshold 3' }
        @{ Name = 'bits out of range'; ErrorId = 'NumBitsOutOfRange'
           Cli = 'quantize {dir}/x.npy --method symmetric --num-bits 0'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Method Symmetric -NumBits 0' }
        @{ Name = 'threshold not positive'; ErrorId = 'ThresholdNotPositive'
           Cli = 'quantize {dir}/x.npy --threshold -1'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Threshold -1' }
        @{ Name = 'range min not below max'; ErrorId = 'RangeMinNotBelowMax'
           Cli = 'quantize {dir}/x.npy --method uniform --min-range 2 --max-range 1'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Method Uniform -MinRange 2 -MaxRange 1' }
        @{ Name = 'signed with uniform'; ErrorId = 'ParameterNotApplicable'
           Cli = 'quantize {dir}/x.npy --method uniform --signed'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Method Uniform -Signed' }
        @{ Name = 'channel axis without per-channel'; ErrorId = 'ParameterNotApplicable'
           Cli = 'quantize {dir}/x.npy --channel-axis 0'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -ChannelAxis 0' }
        @{ Name = 'per-channel activation'; ErrorId = 'PerChannelActivationNotSupported'
           Cli = 'quantize {dir}/x.npy --target activation --per-channel'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Target Activation -PerChannel' }
        @{ Name = 'P without Lp'; ErrorId = 'ParameterNotApplicable'
           Cli = 'measure {dir}/x.npy --p 3'; Ps = 'Measure-Quantization -Path {dir}/x.npy -P 3' }
        @{ Name = 'P not positive'; ErrorId = 'ErrorExponentInvalid'
           Cli = 'measure {dir}/x.npy --error-method lp --p 0'; Ps = 'Measure-Quantization -Path {dir}/x.npy -ErrorMethod Lp -P 0' }
        @{ Name = 'selection options with a complete quantizer'; ErrorId = 'SelectionOptionNotApplicable'
           Cli = 'quantize {dir}/x.npy --threshold 2 --calibrate'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Threshold 2 -Calibrate' }
        @{ Name = 'output path and output directory'; ErrorId = 'OptionConflict'
           Cli = 'quantize {dir}/x.npy --output-path {dir}/o.npy --output-directory {dir}/out'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -OutputPath {dir}/o.npy -OutputDirectory {dir}/out' }
        @{ Name = 'missing input'; ErrorId = 'InputFileNotFound'
           Cli = 'quantize {dir}/missing.npy'; Ps = 'Invoke-Quantize -Path {dir}/missing.npy' }
        @{ Name = 'output exists'; ErrorId = 'OutputExists'
           Cli = 'quantize {dir}/exists.npy'; Ps = 'Invoke-Quantize -Path {dir}/exists.npy' }
        @{ Name = 'output is the input'; ErrorId = 'OutputIsInput'
           Cli = 'quantize {dir}/x.npy --output-path {dir}/x.npy --force'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -OutputPath {dir}/x.npy -Force' }
        @{ Name = 'several inputs, one output path'; ErrorId = 'OutputPathWithSeveralInputs'
           Cli = 'quantize {dir}/x.npy {dir}/y.npy --output-path {dir}/o.npy'; Ps = 'Invoke-Quantize -Path {dir}/x.npy, {dir}/y.npy -OutputPath {dir}/o.npy' }
        @{ Name = 'two inputs, one output name'; ErrorId = 'OutputCollision'
           Cli = 'quantize {dir}/a/w.npy {dir}/b/w.npy --output-directory {dir}/collide'; Ps = 'Invoke-Quantize -Path {dir}/a/w.npy, {dir}/b/w.npy -OutputDirectory {dir}/collide-ps' }
        @{ Name = 'output directory is a file'; ErrorId = 'OutputDirectoryIsFile'
           Cli = 'quantize {dir}/x.npy --output-directory {dir}/plain-file'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -OutputDirectory {dir}/plain-file' }
        @{ Name = 'exported quantizer chosen per input'; ErrorId = 'ExportQuantizerNeedsOneQuantizer'
           Cli = 'quantize {dir}/x.npy {dir}/y.npy --export-quantizer {dir}/q.json'; Ps = 'Invoke-Quantize -Path {dir}/x.npy, {dir}/y.npy -ExportQuantizer {dir}/q.json' }
        @{ Name = 'plot of several inputs'; ErrorId = 'PlotPathWithSeveralInputs'
           Cli = 'measure {dir}/x.npy {dir}/y.npy --plot-path {dir}/p.png'; Ps = 'Measure-Quantization -Path {dir}/x.npy, {dir}/y.npy -PlotPath {dir}/p.png' }
        @{ Name = 'channel count mismatch'; ErrorId = 'ChannelCountMismatch'
           Cli = 'quantize {dir}/x.npy --threshold 1,2 --per-channel --channel-axis 1'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Threshold 1, 2 -PerChannel -ChannelAxis 1' }
        @{ Name = 'channel axis out of range'; ErrorId = 'ChannelAxisOutOfRange'
           Cli = 'measure {dir}/x.npy --per-channel --channel-axis 7'; Ps = 'Measure-Quantization -Path {dir}/x.npy -PerChannel -ChannelAxis 7' }
        @{ Name = 'not an .npy file'; ErrorId = 'NpyMagicInvalid'
           Cli = 'quantize {dir}/bad.npy'; Ps = 'Invoke-Quantize -Path {dir}/bad.npy' }
        @{ Name = 'non-finite values'; ErrorId = 'NonFiniteInput'
           Cli = 'quantize {dir}/nan.npy --threshold 1'; Ps = 'Invoke-Quantize -Path {dir}/nan.npy -Threshold 1' }
        @{ Name = 'a quantizer without its threshold'; ErrorId = 'ThresholdMissing'
           Cli = 'new --method pot'; Ps = 'New-InferableQuantizer -Method Pot' }
        @{ Name = 'a LUT quantizer without its table'; ErrorId = 'LutValuesMissing'
           Cli = 'new --method lut-pot --num-bits 2 --threshold 1'; Ps = 'New-InferableQuantizer -Method LutPot -NumBits 2 -Threshold 1' }
        @{ Name = 'more LUT values than 2^bits'; ErrorId = 'LutValuesInvalid'
           Cli = 'quantize {dir}/x.npy --method lut-pot --num-bits 1 --lut-values 1,2,3'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Method LutPot -NumBits 1 -LutValues 1, 2, 3' }
        @{ Name = 'bits above the LUT bit width'; ErrorId = 'LutValuesBitwidthInvalid'
           Cli = 'measure {dir}/x.npy --method lut-symmetric --num-bits 5 --lut-values-bitwidth 4'; Ps = 'Measure-Quantization -Path {dir}/x.npy -Method LutSymmetric -NumBits 5 -LutValuesBitwidth 4' }
        @{ Name = 'negative eps'; ErrorId = 'EpsInvalid'
           Cli = 'quantize {dir}/x.npy --method lut-pot --num-bits 2 --eps -1'; Ps = 'Invoke-Quantize -Path {dir}/x.npy -Method LutPot -NumBits 2 -Eps -1' }
        @{ Name = 'a file of no kind QuantShell reads'; ErrorId = 'TensorFileNotRecognized'
           Cli = 'quantize {dir}/notes.txt'; Ps = 'Invoke-Quantize -Path {dir}/notes.txt' }
        @{ Name = 'percentile out of range'; ErrorId = 'PercentileInvalid'
           Cli = 'measure {dir}/x.npy --error-method percentile --percentile 0'; Ps = 'Measure-Quantization -Path {dir}/x.npy -ErrorMethod Percentile -Percentile 0' }
    )
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'QuantShell.TestHelpers.ps1')
    Import-Module $ManifestPath
    if (-not (Test-Path -LiteralPath $ToolAssembly)) { throw "$ToolAssembly is missing; build the solution first (build/test.sh does)." }

    $script:Dir = Join-Path $TestDrive 'parity'
    $null = New-Item -ItemType Directory -Path $Dir, (Join-Path $Dir 'a'), (Join-Path $Dir 'b')
    $seed = Join-Path $ConformanceDir 'e_seed_example.input.npy' # shape (1, 3, 3, 3)
    foreach ($name in 'x.npy', 'y.npy', 'exists.npy', 'exists.q.npy', 'a/w.npy', 'b/w.npy') { Copy-Item -LiteralPath $seed -Destination (Join-Path $Dir $name) }
    [System.IO.File]::WriteAllText((Join-Path $Dir 'bad.npy'), 'not an npy file')
    [System.IO.File]::WriteAllText((Join-Path $Dir 'notes.txt'), 'not a tensor file at all')
    [System.IO.File]::WriteAllText((Join-Path $Dir 'plain-file'), 'a file, not a folder')
    $null = New-TestNpy (Join-Path $Dir 'nan.npy') @(3) ([float[]](0.5, [float]::NaN, 1))

    # The first error id a PowerShell command line gives, terminating or not.
    function Get-PowerShellErrorId([string] $CommandLine) {
        try {
            $errors = @(& ([scriptblock]::Create($CommandLine)) 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
        catch {
            return ($_.FullyQualifiedErrorId -split ',')[0]
        }
        if ($errors.Count -eq 0) { return '<no error>' }
        return ($errors[0].FullyQualifiedErrorId -split ',')[0]
    }

    # The message of the first error a PowerShell command line gives, as PowerShell shows it.
    function Get-PowerShellErrorText([string] $CommandLine) {
        try {
            $errors = @(& ([scriptblock]::Create($CommandLine)) 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
        }
        catch {
            return "$_"
        }
        if ($errors.Count -eq 0) { return '<no error>' }
        return "$($errors[0])"
    }

    # The error id in the first line dotnet-quant prints on stderr, and its exit code.
    function Get-CliErrorId([string[]] $Arguments) {
        $stderr = & dotnet $ToolAssembly @Arguments 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { "$_" }
        $line = @($stderr | Where-Object { $_ -match '\[(\w+)\]\s*$' })[0]
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; ErrorId = if ($line -match '\[(\w+)\]\s*$') { $Matches[1] } else { "<none in: $stderr>" } }
    }
}

Describe 'The same misuse through the cmdlets and dotnet-quant' {
    It 'has a table of at least 15 cases' {
        $Cases.Count | Should -BeGreaterOrEqual 15
    }

    It '<Name> gives <ErrorId> in both faces' -ForEach $Cases {
        $cli = Get-CliErrorId ($Cli.Replace('{dir}', $Dir) -split ' ')
        $cli.ErrorId | Should -Be $ErrorId -Because "dotnet-quant $Cli"
        $cli.ExitCode | Should -Not -Be 0
        Get-PowerShellErrorId $Ps.Replace('{dir}', $Dir) | Should -Be $ErrorId -Because $Ps
    }
}

Describe 'The same core error in each face''s own words' {
    It 'has a table of cases' {
        $Spelled.Count | Should -Be 4
    }

    It '<Name> names the parameters as each face spells them' -ForEach $Spelled {
        $stderr = & dotnet $ToolAssembly ($Cli.Replace('{dir}', $Dir) -split ' ') 2>&1 | ForEach-Object { "$_" }
        $line = @($stderr | Where-Object { $_ -like 'dotnet-quant: error: *' })
        $line.Count | Should -Be 1 -Because "dotnet-quant $Cli prints one error line: $stderr"
        $line[0] | Should -BeLike "*$CliText ``[*``]"
        $text = Get-PowerShellErrorText $Ps.Replace('{dir}', $Dir)
        $text | Should -BeLike "*$PsText"
    }

    It 'the cmdlets spell every parameter the core names as a parameter of theirs' {
        $parameters = Get-Command -Module QuantShell | ForEach-Object { $_.Parameters.Keys } | Sort-Object -Unique
        $names = [QuantShell.Core.Errors.Parameter]::All | ForEach-Object Name | Where-Object { $_ -ne 'Unsigned' } # the command line's opposite of -Signed
        $names.Count | Should -BeGreaterThan 25
        foreach ($name in $names) { $parameters | Should -Contain $name -Because "the core's errors name -$name" }
    }

    It 'keeps -Form as an alias of -Format' {
        (Get-Command Invoke-Quantize).Parameters['Format'].Aliases | Should -Contain 'Form'
    }
}
