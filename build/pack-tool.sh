#!/usr/bin/env bash
# Packs the dotnet-quant tool (QuantShell.Cli) into artifacts/packages, from any working directory.
#   build/pack-tool.sh [output-dir]
# Install it with:  dotnet tool install --global --add-source ./artifacts/packages QuantShell.Cli
# then run:         dotnet quant --help     (or dotnet-quant --help)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output_dir="${1:-$repo_root/artifacts/packages}"
configuration="${CONFIGURATION:-Release}"

dotnet pack "$repo_root/src/QuantShell.Cli/QuantShell.Cli.csproj" -c "$configuration" -o "$output_dir" --nologo

package="$(ls -t "$output_dir"/QuantShell.Cli.*.nupkg | head -n 1)"
# The tool never creates a TorchSharp Tensor, so libtorch and LibTorchSharp must not ship with it.
if unzip -l "$package" | grep -Eiq 'libtorch|LibTorchSharp'; then
    echo "pack-tool.sh: error: $package contains libtorch/LibTorchSharp natives" >&2
    exit 1
fi
echo "Packed $package"
