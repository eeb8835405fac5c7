#!/usr/bin/env bash
# The main job on the shipped example: builds everything a fresh clone needs (local dotnet tools incl. PowerShell,
# NuGet packages, the module), then quantizes examples/x.npy with the seed's quantizer through the PowerShell module,
# and the examples/weights folder through a pipeline. Outputs go to artifacts/example/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null
bash build/build-module.sh
dotnet pwsh -NoProfile -NonInteractive -File build/run-example.ps1
