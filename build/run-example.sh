#!/usr/bin/env bash
# The main job on the shipped example: builds everything a fresh clone needs (local dotnet tools incl. PowerShell,
# NuGet packages, the module, the dotnet-quant tool), then quantizes examples/x.npy with the seed's quantizer through
# the PowerShell module, and the examples/weights folder through a pipeline. Outputs go to artifacts/example/.
# Afterwards the README's PowerShell and dotnet quant blocks run from examples/ as written:
#   the module is ./QuantShell.psd1 (module/bin), the tool artifacts/tool/dotnet-quant (`dotnet quant` once on PATH).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null
bash build/build-module.sh
# dotnet-quant as the clone runs it: the framework-dependent build (the installed tool is the Native AOT one, which
# build/pack-tool.sh compiles in about a minute more), published afresh so that nothing stale lingers.
rm -rf artifacts/tool
dotnet publish src/QuantShell.Cli/QuantShell.Cli.csproj -c Release -r linux-x64 --self-contained false \
    -p:PublishAot=false -o artifacts/tool --nologo -v quiet
echo "dotnet-quant built in $root/artifacts/tool; put it on PATH for 'dotnet quant': export PATH=\"$root/artifacts/tool:\$PATH\""
dotnet pwsh -NoProfile -NonInteractive -File build/run-example.ps1
echo
echo "Next, the README's examples: cd examples, then 'dotnet pwsh' for the PowerShell block, or the dotnet quant block in this shell."
