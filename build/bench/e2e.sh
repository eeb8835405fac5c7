#!/usr/bin/env bash
# Target 1 of the performance issue: whole-process wall time and peak memory of `dotnet quant quantize` against the
# PyTorch script (torch_quantize.py) on a float32 .npy of SIZE_MIB (default 256 MiB, shape (64, N, 1024)), per tensor
# and per channel (axis 0, 64 channels), run alternately RUNS times each; outputs are compared byte for byte.
# Needs /usr/bin/python3 with numpy and torch (Debian: apt-get install python3-torch python3-numpy) for the baseline;
# without them only QuantShell's figures are printed.   Usage: build/bench/e2e.sh [SIZE_MIB] [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
size_mib="${1:-256}"
runs="${2:-5}"
work="$(mktemp -d /tmp/quantshell-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

dotnet build "$root/src/QuantShell.Cli" -c Release -o "$work/tool" --nologo -v quiet >/dev/null
tool=("$work/tool/dotnet-quant")
python=/usr/bin/python3
have_torch=0
if [ -x "$python" ] && "$python" -c "import numpy, torch" 2>/dev/null; then have_torch=1; fi

# Input: gaussian float32 values, written by the tool's own benchmark generator when numpy is missing.
elements=$((size_mib * 1024 * 1024 / 4))
rows=$((elements / 64 / 1024))
if [ "$have_torch" = 1 ]; then
  "$python" -c "import numpy as np; np.save('$work/x.npy', (np.random.default_rng(1).standard_normal($elements, dtype=np.float32) * 0.5).reshape(64, $rows, 1024))"
else
  dotnet run -c Release --project "$root/tests/QuantShell.Benchmarks" -- generate "$work/x.npy" 64 "$rows" 1024 >/dev/null
fi
thresholds=$(seq 0 63 | awk '{printf "%s%.2f", (NR>1?",":""), 1.0 + 0.01 * $1}')

calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }

# wall seconds and peak RSS (KiB) of one command, from GNU time when present, else bash's clock only
measure() {
  local out
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -o "$work/time.txt" -f "%e %M" "$@" >/dev/null 2>&1
    out=$(tail -1 "$work/time.txt")
  else
    local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N)
    out="$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') 0"
  fi
  echo "$out"
}

printf '%-10s %-6s %12s %12s %10s %12s %12s\n' layout run quant_s torch_s ratio quant_MiB torch_MiB
for layout in tensor channel; do
  if [ "$layout" = tensor ]; then opts=(--threshold 2); else opts=(--threshold "$thresholds" --per-channel --axis 0); fi
  q_sum=0; t_sum=0; q_peak=0; t_peak=0
  for run in $(seq 1 "$runs"); do
    rm -f "$work/q.npy" "$work/t.npy"
    read -r q_s q_kb < <(measure "${tool[@]}" quantize "$work/x.npy" --target weights --method symmetric --bits 8 "${opts[@]}" --output "$work/q.npy")
    t_s=nan; t_kb=0
    if [ "$have_torch" = 1 ]; then
      read -r t_s t_kb < <(measure "$python" "$root/build/bench/torch_quantize.py" "$work/x.npy" "$work/t.npy" "$layout")
      cmp -s "$work/q.npy" "$work/t.npy" || { echo "outputs differ for $layout" >&2; exit 1; }
      t_sum=$(calc "$t_sum + $t_s"); [ "$t_kb" -gt "$t_peak" ] && t_peak=$t_kb
    fi
    q_sum=$(calc "$q_sum + $q_s"); [ "$q_kb" -gt "$q_peak" ] && q_peak=$q_kb
    ratio=$([ "$have_torch" = 1 ] && calc "$q_s / $t_s" || echo n/a)
    printf '%-10s %-6s %12s %12s %10s %12s %12s\n' "$layout" "$run" "$q_s" "$t_s" "$ratio" "$((q_kb / 1024))" "$((t_kb / 1024))"
  done
  if [ "$have_torch" = 1 ]; then
    printf '%-10s %-6s %12.3f %12.3f %10.3f %12s %12s   (identical outputs; target ratio <= 0.15, peak <= 100 MiB)\n' \
      "$layout" mean "$(calc "$q_sum / $runs")" "$(calc "$t_sum / $runs")" "$(calc "$q_sum / $t_sum")" "$((q_peak / 1024))" "$((t_peak / 1024))"
  fi
done
