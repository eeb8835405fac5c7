#!/usr/bin/env bash
# Packs the dotnet-quant tool (QuantShell.Cli) into artifacts/packages, from any working directory.
#   build/pack-tool.sh [output-dir]
# Nine packages (RID-specific tool packages, .NET SDK 10; docs/install.md):
#   QuantShell.Cli.VERSION.nupkg            the one users name; it points to the ones below
#   QuantShell.Cli.linux-x64.VERSION.nupkg  the native (Native AOT, x86-64-v3) build, installed on linux-x64
#   QuantShell.Cli.RID.VERSION.nupkg        framework-dependent ReadyToRun builds for linux-arm64, linux-musl-x64,
#                                           win-x64, win-arm64, osx-x64 and osx-arm64: code precompiled for that
#                                           platform, its natives only
#   QuantShell.Cli.any.VERSION.nupkg        the portable framework-dependent build (JIT), installed everywhere else
# Install it with:  dotnet tool install --global --add-source ./artifacts/packages QuantShell.Cli
# then run:         dotnet quant --help     (or dotnet-quant --help)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output_dir="${1:-$repo_root/artifacts/packages}"
configuration="${CONFIGURATION:-Release}"
project="$repo_root/src/QuantShell.Cli/QuantShell.Cli.csproj"
version="$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo_root/Directory.Build.props" | head -n 1)"

# The RIDs, as the project lists them (ToolPackageRuntimeIdentifiers).
rids="$(sed -n 's:.*<ToolPackageRuntimeIdentifiers>\(.*\)</ToolPackageRuntimeIdentifiers>.*:\1:p' "$project" | tr ';' ' ')"
# Each RID's publish folder goes into its package whole: start it empty, so nothing stale ships. The ReadyToRun images are
# compiled afresh too: an image kept in obj/ from a compile with other options would be packed beside new IL.
for rid in $rids; do
    rm -rf "$repo_root/src/QuantShell.Cli/bin/$configuration/net10.0/$rid/publish" "$repo_root/src/QuantShell.Cli/obj/$configuration/net10.0/$rid/R2R"
done
dotnet pack "$project" -c "$configuration" -o "$output_dir" --nologo -v quiet
for rid in $rids; do
    dotnet pack "$project" -c "$configuration" -r "$rid" -o "$output_dir" --nologo -v quiet
done

for id in QuantShell.Cli $(for rid in $rids; do echo "QuantShell.Cli.$rid"; done); do
    package="$output_dir/$id.$version.nupkg"
    [ -f "$package" ] || { echo "pack-tool.sh: error: $package was not made" >&2; exit 1; }
    # The tool never creates a TorchSharp Tensor, so libtorch and LibTorchSharp must not ship with it.
    if unzip -l "$package" | grep -Eiq 'libtorch|LibTorchSharp'; then
        echo "pack-tool.sh: error: $package contains libtorch/LibTorchSharp natives" >&2
        exit 1
    fi
    echo "Packed $package"
done
