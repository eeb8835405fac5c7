# Quantizes the shipped examples with the QuantShell module (called by build/run-example.sh).
$ErrorActionPreference = 'Stop'
if ([Console]::IsOutputRedirected) { $PSStyle.OutputRendering = 'PlainText' }
Set-Location (Split-Path -Parent $PSScriptRoot)
Import-Module ./QuantShell.psd1 -Force
$out = New-Item -ItemType Directory -Force -Path ./artifacts/example

# The seed's quantizer: weights, symmetric, 8 bits, per channel, thresholds 2, 4, 1 (input shape (1, 3, 3, 3)).
$q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -PerChannel -Threshold 2, 4, 1 -Signed
$q | Format-Table -AutoSize | Out-String -Width 200
$result = Invoke-Quantize -Path ./examples/x.npy -Quantizer $q -OutputPath (Join-Path $out 'x.q.npy') -Force
$result | Format-List InputPath, OutputPath, ShapeText, DType, Method, NumBits, Threshold, Scale, Mse, SqnrDb | Out-String -Width 200

# A folder of weight tensors through the pipeline, one 8-bit POT quantizer per tensor.
$pot = New-InferableQuantizer -Target Weights -Method Pot -NumBits 8 -Threshold 1
Get-ChildItem ./examples/weights/*.npy | Invoke-Quantize -Quantizer $pot -OutputDirectory (Join-Path $out 'weights') -Force |
    Format-Table -AutoSize | Out-String -Width 200

# The same folder with the threshold chosen from each tensor (MSE-optimal power of two) and how good that is.
Get-ChildItem ./examples/weights/*.npy | Measure-Quantization -Method Pot -NumBits 8 | Format-Table -AutoSize | Out-String -Width 200

# The result the seed asserts: every value within [-4, 4).
$y = [QuantShell.Core.Formats.NpyArray]::Read((Join-Path $out 'x.q.npy')).Data
$max = ($y | Measure-Object -Maximum).Maximum
$min = ($y | Measure-Object -Minimum).Minimum
"x.q.npy: min $min, max $max (expected max < 4 and min >= -4)"
if (-not ($max -lt 4 -and $min -ge -4)) { throw "quantized values out of range" }
