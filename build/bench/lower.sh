#!/usr/bin/env bash
# Time and peak memory of lowering an MCT-exported ONNX model: a synthetic MCTQ model with MB megabytes of float32
# Conv/Gemm weights (default 110) is generated at run time (tests/QuantShell.Benchmarks 'mctq'), then lowered by
# 'dotnet quant lower' (whole process, under /usr/bin/time) in each weights form, and by ConvertTo-StandardOnnx.
# Usage: build/bench/lower.sh [MB] [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
megabytes="${1:-110}"
runs="${2:-3}"
base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work="$(mktemp -d "$base/quantshell-lower.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$root"
dotnet build src/QuantShell.Cli -c Release --nologo -v quiet >/dev/null
dotnet run -c Release --project tests/QuantShell.Benchmarks -- mctq "$work/model.onnx" "$megabytes"
tool="$root/src/QuantShell.Cli/bin/Release/net10.0/dotnet-quant.dll"
for form in "fake exact" "qdq exact" "qdq qdq"; do
  set -- $form
  for run in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" dotnet "$tool" lower "$work/model.onnx" -o "$work/out.onnx" --weights "$1" --activations "$2" --force >/dev/null
    read -r seconds kilobytes < "$work/time"
    echo "lower --weights $1 --activations $2 (run $run): ${seconds} s, $((kilobytes / 1024)) MiB peak, output $(( $(stat -c %s "$work/out.onnx") / 1000000 )) MB"
  done
done
dotnet tool restore >/dev/null
bash build/build-module.sh >/dev/null
dotnet pwsh -NoProfile -NonInteractive -Command "
  Import-Module ./QuantShell.psd1
  foreach (\$i in 1..$runs) {
    \$s = (Measure-Command { ConvertTo-StandardOnnx -Path '$work/model.onnx' -OutputPath '$work/ps.onnx' -Force | Out-Null }).TotalSeconds
    'ConvertTo-StandardOnnx (run {0}): {1:F2} s' -f \$i, \$s
  }"
