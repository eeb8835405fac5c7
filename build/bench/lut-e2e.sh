#!/usr/bin/env bash
# The LUT kernel end to end: whole-process wall time and peak memory of `dotnet quant quantize --method lut-*` against
# MCT's lut_quantizer arithmetic in PyTorch (torch_lut.py), and against QuantShell's uniform quantizer on the same file,
# on a float32 .npy of SIZE_MIB (default 256 MiB, shape (64, N, 1024)), per tensor (lut-pot, t = 2) and per channel
# (lut-symmetric, axis 0, 64 thresholds), RUNS times each, alternating; LUT outputs are compared byte for byte.
# Needs /usr/bin/python3 with numpy and torch for the baseline.   Usage: build/bench/lut-e2e.sh [SIZE_MIB] [RUNS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
size_mib="${1:-256}"
runs="${2:-3}"
work="$(mktemp -d /tmp/quantshell-lut-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

dotnet build "$root/src/QuantShell.Cli" -c Release -o "$work/tool" --nologo -v quiet >/dev/null
tool=("$work/tool/dotnet-quant")
python=/usr/bin/python3
"$python" -c "import numpy, torch" 2>/dev/null || { echo "lut-e2e.sh: $python with numpy and torch is needed" >&2; exit 1; }

elements=$((size_mib * 1024 * 1024 / 4))
rows=$((elements / 64 / 1024))
"$python" -c "import numpy as np; np.save('$work/x.npy', (np.random.default_rng(1).standard_normal($elements, dtype=np.float32) * 0.5).reshape(64, $rows, 1024))"
table="-100,-60,-30,-10,10,30,60,100" # torch_lut.py's LUT
thresholds=$(seq 0 63 | awk '{printf "%s%.2f", (NR>1?",":""), 1.0 + 0.01 * $1}')

calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
measure() {
  /usr/bin/time -o "$work/time.txt" -f "%e %M" "$@" >/dev/null 2>"$work/stderr.txt"
  tail -1 "$work/time.txt"
}

printf '%-8s %-4s %10s %10s %10s %10s %11s %10s %10s %10s\n' layout run lut_s uniform_s torch_s lut/torch torch_arith lut_MiB uni_MiB torch_MiB
for layout in tensor channel; do
  if [ "$layout" = tensor ]; then
    lut_opts=(--method lut-pot --threshold 2); uni_opts=(--method symmetric --threshold 2)
  else
    lut_opts=(--method lut-symmetric --threshold "$thresholds" --per-channel --channel-axis 0)
    uni_opts=(--method symmetric --threshold "$thresholds" --per-channel --channel-axis 0)
  fi
  l_sum=0; u_sum=0; t_sum=0
  for run in $(seq 1 "$runs"); do
    rm -f "$work/l.npy" "$work/u.npy" "$work/t.npy"
    read -r l_s l_kb < <(measure "${tool[@]}" quantize "$work/x.npy" --num-bits 3 --lut-values "$table" "${lut_opts[@]}" --output-path "$work/l.npy")
    read -r u_s u_kb < <(measure "${tool[@]}" quantize "$work/x.npy" --num-bits 8 "${uni_opts[@]}" --output-path "$work/u.npy")
    read -r t_s t_kb < <(measure "$python" "$root/build/bench/torch_lut.py" "$work/x.npy" "$work/t.npy" "$layout")
    arith=$(sed -nE 's/^torch lut arithmetic: ([0-9.]+) s.*/\1/p' "$work/stderr.txt")
    cmp -s "$work/l.npy" "$work/t.npy" || { echo "LUT outputs differ for $layout" >&2; exit 1; }
    l_sum=$(calc "$l_sum + $l_s"); u_sum=$(calc "$u_sum + $u_s"); t_sum=$(calc "$t_sum + $t_s")
    printf '%-8s %-4s %10s %10s %10s %10s %11s %10s %10s %10s\n' "$layout" "$run" "$l_s" "$u_s" "$t_s" "$(calc "$l_s / $t_s")" "$arith" \
      "$((l_kb / 1024))" "$((u_kb / 1024))" "$((t_kb / 1024))"
  done
  printf '%-8s %-4s %10.3f %10.3f %10.3f %10.3f   (identical LUT outputs)\n' "$layout" mean "$(calc "$l_sum / $runs")" "$(calc "$u_sum / $runs")" \
    "$(calc "$t_sum / $runs")" "$(calc "$l_sum / $t_sum")"
done
