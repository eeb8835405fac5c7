#!/usr/bin/env bash
# Builds the QuantShell PowerShell module: publishes src/QuantShell.PowerShell (Release, linux-x64, framework-dependent)
# into module/bin, so that `Import-Module ./QuantShell.psd1` works from the repository root. Idempotent.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

output="$repo_root/module/bin"

# -r linux-x64 flattens runtimes/linux-x64/native/*.so next to TorchSharp.dll, where TorchSharp looks for libtorch;
# build/NativeCompat.targets patches the published libLibTorchSharp.so for Debian 12's libstdc++.
dotnet publish src/QuantShell.PowerShell/QuantShell.PowerShell.csproj \
    --configuration Release \
    --runtime linux-x64 \
    --self-contained false \
    --output "$output" \
    --nologo

# The pinned pwsh (dotnet tool) and Pester (tests/pester/run-pester.ps1) are restored here too, so one script
# prepares everything the tests need.
dotnet tool restore
dotnet restore tests/pester/Pester.Restore.csproj --nologo

for required in QuantShell.PowerShell.dll TorchSharp.dll libLibTorchSharp.so libtorch.so en-US/QuantShell.PowerShell.dll-Help.xml; do
    if [[ ! -e "$output/$required" ]]; then
        echo "build-module.sh: $output/$required is missing after publish" >&2
        exit 1
    fi
done
echo "QuantShell module built in $output; import it with: Import-Module $repo_root/QuantShell.psd1"
