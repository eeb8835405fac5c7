#!/usr/bin/env bash
# Time and peak memory of quantizing the weights of a standard ONNX model of MB megabytes of float32 Conv/Gemm weights
# (default 110): the synthetic MCTQ model of lower.sh, lowered once to standard ONNX (fake weights, exact activations),
# is quantized by 'dotnet quant quantize' (whole process, under /usr/bin/time) in the fake and qdq forms, with the
# values chosen from each weight (symmetric 8-bit, per channel, MSE) and with a given threshold (POT 8-bit, streamed).
# Usage: build/bench/onnx-quantize.sh [MB] [RUNS]
# Environment: TOOL=a dotnet-quant executable to time (e.g. a native build) instead of the framework-dependent build.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
megabytes="${1:-110}"
runs="${2:-3}"
base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work="$(mktemp -d "$base/quantshell-onnxq.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$root"
dotnet build src/QuantShell.Cli -c Release --nologo -v quiet >/dev/null
dotnet run -c Release --project tests/QuantShell.Benchmarks -- mctq "$work/mctq.onnx" "$megabytes" >/dev/null
tool="$root/src/QuantShell.Cli/bin/Release/net10.0/dotnet-quant.dll"
dotnet "$tool" lower "$work/mctq.onnx" -o "$work/model.onnx" --weights fake --activations exact >/dev/null
echo "model: $(( $(stat -c %s "$work/model.onnx") / 1000000 )) MB, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for form in fake qdq; do
  for quantizer in "--method symmetric --num-bits 8" "--method pot --num-bits 8 --threshold 1 --per-channel false"; do
    for run in $(seq "$runs"); do
      # shellcheck disable=SC2086
      /usr/bin/time -f "%e %M" -o "$work/time" ${TOOL:-dotnet "$tool"} quantize "$work/model.onnx" -o "$work/out.onnx" --format "$form" $quantizer --force >/dev/null
      read -r seconds kilobytes < "$work/time"
      echo "quantize --format $form $quantizer (run $run): ${seconds} s, $((kilobytes / 1024)) MiB peak, output $(( $(stat -c %s "$work/out.onnx") / 1000000 )) MB"
    done
  done
done
