#!/usr/bin/env bash
# Builds the three PowerShell modules in the clone's layout, so that `Import-Module ./QuantShell.psd1` (and, for tensors,
# `Import-Module ./module/QuantShell.Torch/QuantShell.Torch.psd1`; for calibrating and comparing,
# `Import-Module ./module/QuantShell.OnnxRuntime/QuantShell.OnnxRuntime.psd1`) work from the repository root. Idempotent.
#   module/bin                  QuantShell: src/QuantShell.PowerShell published (Release, framework-dependent, linux-x64
#                               for SkiaSharp's natives, which draw plots); no TorchSharp, no libtorch
#   module/QuantShell.Torch/bin QuantShell.Torch: src/QuantShell.Torch published for linux-x64 (TorchSharp, the libtorch
#                               natives), without the files QuantShell already ships (QuantShell.Core.dll, ...)
#   module/bin/linux-x64        QuantShell.Core.dll compiled ReadyToRun for linux-x64 (module/QuantShell.Init.ps1 loads it
#                               there; the portable one in module/bin everywhere else)
#   module/QuantShell.OnnxRuntime/bin  QuantShell.OnnxRuntime: src/QuantShell.OnnxRuntime published for linux-x64, ReadyToRun
#                               (Microsoft.ML.OnnxRuntime, libonnxruntime.so), without what QuantShell ships
# build/pack-module.sh stages all three from here and packs them.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

core_output="$repo_root/module/bin"
torch_output="$repo_root/module/QuantShell.Torch/bin"
runtime_output="$repo_root/module/QuantShell.OnnxRuntime/bin"

# Published afresh each time, so that nothing of an older layout lingers (module/bin held libtorch before 0.1.0's
# split into two modules).
rm -rf "$core_output" "$torch_output" "$runtime_output"
# -r linux-x64 (framework-dependent, the managed code stays portable): of SkiaSharp's natives, which draw the plots, only
# linux-x64's are shipped, flattened beside SkiaSharp.dll where .NET finds them for a module (pwsh reads no deps.json
# of ours). All of them (every OS and CPU) would make the package 74 MB instead of about 5.
dotnet publish src/QuantShell.PowerShell/QuantShell.PowerShell.csproj \
    --configuration Release \
    --runtime linux-x64 \
    --self-contained false \
    --output "$core_output" \
    --nologo

# -r linux-x64 flattens runtimes/linux-x64/native/*.so next to TorchSharp.dll, where TorchSharp looks for libtorch;
# build/NativeCompat.targets patches the published libLibTorchSharp.so for Debian 12's libstdc++.
dotnet publish src/QuantShell.Torch/QuantShell.Torch.csproj \
    --configuration Release \
    --runtime linux-x64 \
    --self-contained false \
    --output "$torch_output" \
    --nologo
# One copy of each assembly in a session: what QuantShell ships (and has loaded by the time QuantShell.Torch imports)
# is not repeated in QuantShell.Torch.
for shipped in "$core_output"/*; do
    name="$(basename "$shipped")"
    [[ -f "$shipped" && -e "$torch_output/$name" ]] && rm -f "$torch_output/$name"
done
rm -f "$torch_output"/QuantShell.Torch.deps.json
# -r linux-x64 flattens ONNX Runtime's linux-x64 natives (libonnxruntime.so) next to Microsoft.ML.OnnxRuntime.dll, where
# it finds them; no other platform's are published. ReadyToRun: the managed assemblies carry code precompiled for
# linux-x64 beside their IL, so less is compiled at run time. A ReadyToRun image loads only on the OS and CPU it was
# compiled for (elsewhere .NET refuses it with a BadImageFormatException), which costs this module nothing: its
# natives are linux-x64's only. The default instruction set, not x86-64-v3: .NET uses no precompiled code of an image
# compiled for x86-64-v3 on a CPU without AVX2, and on one with it the default leaves only a few more methods to the JIT.
# crossgen2's options come from Directory.Build.props (without them the core's generic code over float and double is
# left to the JIT: docs/performance.md, "The JIT path"). The images are compiled afresh: the SDK recompiles one when its
# assembly changes, not when those options do.
rm -rf src/QuantShell.OnnxRuntime/obj/Release/net10.0/linux-x64/R2R
dotnet publish src/QuantShell.OnnxRuntime/QuantShell.OnnxRuntime.csproj \
    --configuration Release \
    --runtime linux-x64 \
    --self-contained false \
    -p:PublishReadyToRun=true \
    --output "$runtime_output" \
    --nologo
# The same publish compiled QuantShell.Core: its ReadyToRun image goes to QuantShell's bin/linux-x64, which
# module/QuantShell.Init.ps1 loads on linux-x64; every other platform loads the portable bin/QuantShell.Core.dll.
mkdir -p "$core_output/linux-x64"
cp "$runtime_output/QuantShell.Core.dll" "$core_output/linux-x64/QuantShell.Core.dll"
for shipped in "$core_output"/*; do
    name="$(basename "$shipped")"
    [[ -f "$shipped" && -e "$runtime_output/$name" ]] && rm -f "$runtime_output/$name"
done
rm -f "$runtime_output"/QuantShell.OnnxRuntime.deps.json

# libtorch's package carries libraries TorchSharp never loads (readelf -d: libLibTorchSharp.so needs libtorch, libtorch_cpu
# and libc10 only, and they need libgomp): the Python bindings and libtorch's own test and example backends. Left out
# of the module, they would add 35 MB to every install.
for unused in libtorch_python.so libshm.so libtorchbind_test.so libjitbackend_test.so libbackend_with_compiler.so \
              libaoti_custom_ops.so libnnapi_backend.so; do
    rm -f "$torch_output/$unused"
done

# The pinned pwsh (dotnet tool) and Pester (tests/pester/run-pester.ps1) are restored here too, so one script
# prepares everything the tests need.
dotnet tool restore
dotnet restore tests/pester/Pester.Restore.csproj --nologo
dotnet pwsh -NoProfile -NonInteractive -File build/generate-help.ps1 -ModuleFolder "$core_output"   # docs/cmdlets/*.md -> en-US MAML

for required in QuantShell.PowerShell.dll QuantShell.Core.dll linux-x64/QuantShell.Core.dll QuantShell.Plotting.dll libSkiaSharp.so libHarfBuzzSharp.so en-US/QuantShell.PowerShell.dll-Help.xml; do
    if [[ ! -e "$core_output/$required" ]]; then
        echo "build-module.sh: $core_output/$required is missing after publish" >&2
        exit 1
    fi
done
for required in QuantShell.Torch.dll TorchSharp.dll libLibTorchSharp.so libtorch.so libtorch_cpu.so LICENSE-LIBTORCH.txt; do
    if [[ ! -e "$torch_output/$required" ]]; then
        echo "build-module.sh: $torch_output/$required is missing after publish" >&2
        exit 1
    fi
done
for required in QuantShell.OnnxRuntime.dll Microsoft.ML.OnnxRuntime.dll libonnxruntime.so; do
    if [[ ! -e "$runtime_output/$required" ]]; then
        echo "build-module.sh: $runtime_output/$required is missing after publish" >&2
        exit 1
    fi
done
if compgen -G "$core_output/*onnxruntime*" >/dev/null || compgen -G "$core_output/*OnnxRuntime*" >/dev/null; then
    echo "build-module.sh: $core_output holds ONNX Runtime files: $(ls "$core_output" | grep -i onnxruntime | tr '\n' ' ')" >&2
    exit 1
fi
if compgen -G "$core_output/*[Tt]orch*" >/dev/null; then
    echo "build-module.sh: $core_output holds TorchSharp or libtorch files: $(ls "$core_output" | grep -i torch | tr '\n' ' ')" >&2
    exit 1
fi
echo "QuantShell module built in $core_output; import it with: Import-Module $repo_root/QuantShell.psd1"
echo "QuantShell.Torch module built in $torch_output; import it with: Import-Module $repo_root/module/QuantShell.Torch/QuantShell.Torch.psd1"
echo "QuantShell.OnnxRuntime module built in $runtime_output; import it with: Import-Module $repo_root/module/QuantShell.OnnxRuntime/QuantShell.OnnxRuntime.psd1"
