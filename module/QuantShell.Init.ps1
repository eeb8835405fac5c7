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
    # On linux-x64 the core's ReadyToRun image (code precompiled for linux-x64 beside the IL: less JIT work on the first
    # call); .NET refuses such an image on any other OS or CPU, which load the portable one. Loaded first, it is the
    # QuantShell.Core that QuantShell.PowerShell.dll and the other modules bind to.
    $core = Join-Path $bin 'QuantShell.Core.dll'
    $precompiled = Join-Path $bin 'linux-x64/QuantShell.Core.dll'
    if ([System.Runtime.InteropServices.RuntimeInformation]::IsOSPlatform([System.Runtime.InteropServices.OSPlatform]::Linux) -and
        [System.Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq [System.Runtime.InteropServices.Architecture]::X64 -and
        (Test-Path -LiteralPath $precompiled)) {
        $core = $precompiled
    }
    # Imported again (-Force) or after another copy: the session keeps the QuantShell.Core it has.
    $loaded = @([System.AppDomain]::CurrentDomain.GetAssemblies().GetName().Name)
    if ('QuantShell.Core' -notin $loaded) {
        Add-Type -LiteralPath $core
        # pwsh looks for an assembly's references beside it, which for the precompiled core is bin/linux-x64: the ones
        # QuantShell ships (Google.Protobuf, System.IO.Hashing) are loaded from bin now, and the core binds to them.
        foreach ($reference in [System.Reflection.Assembly]::LoadFrom($core).GetReferencedAssemblies()) {
            $path = Join-Path $bin "$($reference.Name).dll"
            if ($reference.Name -notin $loaded -and (Test-Path -LiteralPath $path)) { Add-Type -LiteralPath $path }
        }
    }
}
