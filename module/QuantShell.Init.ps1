# Runs when the QuantShell manifest is imported, before the binary module loads: a clear message instead of an
# assembly-load error when the module has not been built yet (a clone before build/build-module.sh), then the assembly
# whose types scripts use directly ([QuantShell.Core.Formats.NpyArray]). TorchSharp is not loaded here: the Tensor path
# is the QuantShell.Torch module. In a script block so that nothing leaks into the importing scope.
& {
    $bin = Join-Path $PSScriptRoot 'bin'
    if (-not (Test-Path -LiteralPath (Join-Path $bin 'QuantShell.PowerShell.dll'))) {
        $root = Split-Path -Parent $PSScriptRoot
        throw "QuantShell is not built yet: run '$root/build/build-module.sh' (or '$root/build/run-example.sh') first, then import '$root/QuantShell.psd1' again."
    }
    Add-Type -LiteralPath (Join-Path $bin 'QuantShell.Core.dll')
}
