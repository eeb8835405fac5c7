#!/usr/bin/env bash
# Packs the PowerShell modules: builds them (build/build-module.sh), stages artifacts/module/QuantShell and
# artifacts/module/QuantShell.Torch as installed modules, and writes artifacts/packages/QuantShell.<version>.nupkg and
# artifacts/packages/QuantShell.Torch.<version>.nupkg with Compress-PSResource (build/pack-module.ps1 says how).
#   build/pack-module.sh [--no-build] [--skip-torch-package] [output-dir]
# Install them from that folder:
#   Register-PSResourceRepository -Name QuantShellLocal -Uri ./artifacts/packages -Trusted
#   Install-PSResource QuantShell -Repository QuantShellLocal -Scope CurrentUser
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=1
arguments=()
for argument in "$@"; do
    case "$argument" in
        --no-build) build=0 ;;
        --skip-torch-package) arguments+=(-SkipTorchPackage) ;;
        -*) echo "pack-module.sh: unknown option $argument" >&2; exit 2 ;;
        *) arguments+=(-OutputDirectory "$argument") ;;
    esac
done

if [[ $build -eq 1 ]]; then bash "$repo_root/build/build-module.sh"; fi
cd "$repo_root"
dotnet pwsh -NoProfile -NonInteractive -File build/pack-module.ps1 "${arguments[@]}"
