#!/usr/bin/env bash
# What reading inputs instead of mapping them costs: `cp`, the tool of a revision that mapped large float32/float64
# inputs (MAPPED, default 84f4df7, the last one) and the tool of this working tree (which reads them), on float32 .npy
# files of 256 MiB and 1 GiB (speed_inputs.py), per tensor and per channel (axis 0, 64 thresholds). Each command runs
# after a `sync` with its output removed; the two tools alternate which goes first. Printed per run and as medians:
# wall time and CPU time (user + sys, from /usr/bin/time), in ms; the outputs of the two tools are compared byte for byte.
# Both tools are published as build/pack-tool.sh packs them for linux-x64 (Native AOT).
#   Usage: build/bench/read-vs-map.sh [RUNS=7] [MAPPED=84f4df7]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs="${1:-7}"
mapped_rev="${2:-84f4df7}"
python=/usr/bin/python3
if ! "$python" -c "import numpy" 2>/dev/null; then echo "read-vs-map.sh: needs /usr/bin/python3 with numpy" >&2; exit 1; fi
work="$(mktemp -d /tmp/quantshell-readmap.XXXXXX)"   # a disk file system (not tmpfs), as users' files are
trap 'rm -rf "$work"' EXIT

echo "== build: $mapped_rev (mapped) and the working tree (read), dotnet publish -r linux-x64"
mkdir -p "$work/src-mapped"
git -C "$root" archive "$mapped_rev" | tar -x -C "$work/src-mapped"
dotnet publish "$work/src-mapped/src/QuantShell.Cli" -c Release -r linux-x64 -o "$work/mapped" --nologo -v quiet >/dev/null
dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -o "$work/read" --nologo -v quiet >/dev/null
grep -m1 'model name' /proc/cpuinfo; nproc; uname -r

"$python" "$root/build/bench/speed_inputs.py" npy "$work/x256.npy" 256
"$python" "$root/build/bench/speed_inputs.py" npy "$work/x1024.npy" 1024
thresholds=$(seq 0 63 | awk '{printf "%s%.2f", (NR>1?",":""), 1.0 + 0.01 * $1}')
quant_args() { if [ "$1" = tensor ]; then echo "--method symmetric --num-bits 8 --threshold 2"; else echo "--method symmetric --num-bits 8 --threshold $thresholds --per-channel --channel-axis 0"; fi; }
# "wall_ms cpu_ms" of one command, after a sync.
measure() { sync; /usr/bin/time -o "$work/time.txt" -f "%e %U %S" "$@" >/dev/null 2>&1; awk '{ printf "%d %d\n", $1 * 1000, ($2 + $3) * 1000 }' "$work/time.txt"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.0f\n", (v[NR/2]+v[NR/2+1])/2}'; }

echo "== wall/cpu ms; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %-8s %6s %13s %13s %13s\n' MiB layout run cp mapped read
for size in 256 1024; do
  for layout in tensor channel; do
    cw=""; cc=""; mw=""; mc=""; rw=""; rc=""
    for run in $(seq 1 "$runs"); do
      rm -f "$work"/out-*.npy
      read -r w c < <(measure cp "$work/x$size.npy" "$work/out-cp.npy"); rm -f "$work/out-cp.npy"
      cw="$cw $w"; cc="$cc $c"; cp_text="$w/$c"
      if [ $((run % 2)) -eq 1 ]; then order="mapped read"; else order="read mapped"; fi
      for tool in $order; do
        # shellcheck disable=SC2046
        read -r w c < <(measure "$work/$tool/dotnet-quant" quantize "$work/x$size.npy" $(quant_args "$layout") --output-path "$work/out-$tool.npy")
        if [ "$tool" = mapped ]; then mw="$mw $w"; mc="$mc $c"; m_text="$w/$c"; else rw="$rw $w"; rc="$rc $c"; r_text="$w/$c"; fi
      done
      cmp -s "$work/out-mapped.npy" "$work/out-read.npy" || { echo "outputs differ: $size MiB $layout" >&2; exit 1; }
      printf '%-5s %-8s %6s %13s %13s %13s\n' "$size" "$layout" "$run" "$cp_text" "$m_text" "$r_text"
    done
    printf '%-5s %-8s %6s %13s %13s %13s\n' "$size" "$layout" median "$(echo "$cw" | median)/$(echo "$cc" | median)" \
      "$(echo "$mw" | median)/$(echo "$mc" | median)" "$(echo "$rw" | median)/$(echo "$rc" | median)"
  done
done
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
for tool in mapped read; do
  echo "== QUANTSHELL_TIMELINE=1, $tool, 1 GiB per tensor"
  sync; rm -f "$work/out-$tool.npy"
  QUANTSHELL_TIMELINE=1 "$work/$tool/dotnet-quant" quantize "$work/x1024.npy" $(quant_args tensor) --output-path "$work/out-$tool.npy" 2>&1 >/dev/null | tail -9
done
