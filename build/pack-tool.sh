#!/usr/bin/env bash
# Packs the dotnet-quant tool (QuantShell.Cli) into artifacts/packages, from any working directory.
#   build/pack-tool.sh [output-dir]
# Three packages (RID-specific tool packages, .NET SDK 10):
#   QuantShell.Cli.VERSION.nupkg            the one users name; it points to the two below
#   QuantShell.Cli.linux-x64.VERSION.nupkg  the native (Native AOT, x86-64-v3) build, installed on linux-x64
#   QuantShell.Cli.any.VERSION.nupkg        the framework-dependent build, installed on every other platform
# Install it with:  dotnet tool install --global --add-source ./artifacts/packages QuantShell.Cli
# then run:         dotnet quant --help     (or dotnet-quant --help)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output_dir="${1:-$repo_root/artifacts/packages}"
configuration="${CONFIGURATION:-Release}"
project="$repo_root/src/QuantShell.Cli/QuantShell.Cli.csproj"
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo_root/Directory.Build.props" | head -n 1)"

# Each RID's publish folder goes into its package whole: start it empty, so nothing stale ships.
rm -rf "$repo_root/src/QuantShell.Cli/bin/$configuration/net10.0/any/publish" "$repo_root/src/QuantShell.Cli/bin/$configuration/net10.0/linux-x64/publish"
dotnet pack "$project" -c "$configuration" -o "$output_dir" --nologo -v quiet
dotnet pack "$project" -c "$configuration" -r any -o "$output_dir" --nologo -v quiet
dotnet pack "$project" -c "$configuration" -r linux-x64 -o "$output_dir" --nologo -v quiet

for id in QuantShell.Cli QuantShell.Cli.any QuantShell.Cli.linux-x64; do
    package="$output_dir/$id.$version.nupkg"
    [ -f "$package" ] || { echo "pack-tool.sh: error: $package was not made" >&2; exit 1; }
    # The tool never creates a TorchSharp Tensor, so libtorch and LibTorchSharp must not ship with it.
    if unzip -l "$package" | grep -Eiq 'libtorch|LibTorchSharp'; then
        echo "pack-tool.sh: error: $package contains libtorch/LibTorchSharp natives" >&2
        exit 1
    fi
    echo "Packed $package"
done
