#!/usr/bin/env bash
# Values chosen from the data against values given, on one 256 MiB float32 .npy (64 rows of 4 MiB: 64 x 1M values,
# seeded Gaussian, each row its own spread), for the
# native dotnet-quant (Native AOT, as build/pack-tool.sh packs it for linux-x64):
#   symmetric MSE per tensor, POT MSE per channel, no clipping per channel (symmetric), uniform MSE per channel and a
#   4-bit LUT (lut-symmetric, per channel), each with --search mct and --search optimal.
# Each case is timed next to the same quantizer with its values given (same file, same layout, alternated runs): the
# ratio is chosen / given of the same run pair, then the medians; peak RSS from /usr/bin/time -v. Then the JIT path
# (build/bench/jit.sh, on the same input): the framework-dependent builds (what QuantShell.Cli.any installs; ReadyToRun)
# against the native one with the values given, and the first Invoke-Quantize in a fresh pwsh. The load average is
# printed with each section: the machine is shared.
#   Usage: build/bench/selection.sh [RUNS=3] [CASES=all|comma list of case names]
# Environment: TIMEOUT=seconds after which a run is stopped (its time then shows as that many seconds);
#              TOOL=path of a dotnet-quant to time instead of building one (e.g. an older build, for "before" figures);
#              SKIP_JIT=1 skips the JIT part;
#              INPUT=an existing input made by this script (e.g. kept from an earlier run) instead of writing it again;
#              SEARCHES=the searches to time (default "mct optimal").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs="${1:-3}"
cases_wanted="${2:-all}"
python=/usr/bin/python3
"$python" -c "import numpy" 2>/dev/null || { echo "selection.sh: needs /usr/bin/python3 with numpy (to write the input)" >&2; exit 1; }
work="$(mktemp -d /tmp/quantshell-selection.XXXXXX)"
trap 'rm -rf "$work"' EXIT

if [ -n "${TOOL:-}" ]; then
  tool="$TOOL"
else
  echo "== build: native tool (dotnet publish -r linux-x64: Native AOT, as pack-tool.sh packs it)"
  dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -o "$work/native" --nologo -v quiet >/dev/null
  tool="$work/native/dotnet-quant"
fi
"$tool" --version
grep -m1 'model name' /proc/cpuinfo; nproc

input="$work/x.npy"
if [ -n "${INPUT:-}" ]; then
  input="$INPUT"
else
"$python" - "$input" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(20)
out = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype=np.float32, shape=(64, 1024 * 1024))
for c in range(64):
    out[c] = rng.standard_normal(1024 * 1024, dtype=np.float32) * np.float32(0.05 * (1 + c % 8))
out.flush()
EOF
fi
ls -l "$input" | awk '{print "input: 64 x 1048576 float32,", $5, "bytes"}'

ones() { local v=$1; seq 1 64 | awk -v v="$v" '{printf "%s%s", (NR>1?",":""), v}'; }
pc="--per-channel --channel-axis 0"
# name | quantizer with values chosen | the same quantizer with its values given
cases=(
  "sym-mse-tensor|--method symmetric|--method symmetric --threshold 2"
  "pot-mse-channel|--method pot $pc|--method pot $pc --threshold $(ones 1)"
  "noclip-channel|--method symmetric $pc --error-method no-clipping|--method symmetric $pc --threshold $(ones 1)"
  "uniform-mse-channel|--method uniform $pc|--method uniform $pc --min-range $(ones -1) --max-range $(ones 1)"
  "lut4-channel|--method lut-symmetric --num-bits 4 $pc|--method lut-symmetric --num-bits 4 $pc --threshold $(ones 1) --lut-values -7,-5,-3,-1,0,1,3,5"
)

# "seconds peak-KiB" of one run (output removed first, after a sync).
measure() {
  rm -f "$work/q.npy"; sync
  local s e
  s=$(date +%s%N)
  # shellcheck disable=SC2068
  local status=0
  # timeout inside time: the tool itself is stopped (time would not pass the signal on), its peak still counted.
  /usr/bin/time -f "%M" -o "$work/time" timeout "${TIMEOUT:-0}" "$@" --output-path "$work/q.npy" >/dev/null 2>"$work/err" || status=$?
  e=$(date +%s%N)
  # A run stopped by TIMEOUT (seconds) counts as that long, its memory as what it had reached unknown (0).
  if [ "$status" = 124 ]; then echo "$(( TIMEOUT * 1000 )) 0"; return; fi
  [ "$status" = 0 ] || { cat "$work/err" >&2; exit 1; }
  echo "$(( (e - s) / 1000000 )) $(tail -1 "$work/time")"
}
# The same for a command that writes nothing.
measure_plain() {
  local s e
  s=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  e=$(date +%s%N)
  echo "$(( (e - s) / 1000000 )) $(tail -1 "$work/time")"
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
load() { echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo
echo "== values chosen vs given (ms, peak RSS MiB; ratio = chosen / given of the same run pair; medians of $runs)"
load
printf '%-20s %-8s %8s %8s %7s %9s %9s\n' case search given chosen ratio given_MiB chosen_MiB
for entry in "${cases[@]}"; do
  IFS='|' read -r name chosen given <<<"$entry"
  if [ "$cases_wanted" != all ] && [[ ",$cases_wanted," != *",$name,"* ]]; then continue; fi
  for search in ${SEARCHES:-mct optimal}; do
    gs=""; cs=""; rs=""; gm=0; cm=0
    for run in $(seq 1 "$runs"); do
      # shellcheck disable=SC2086
      read -r g gk < <(measure "$tool" quantize "$input" $given)
      # shellcheck disable=SC2086
      read -r c ck < <(measure "$tool" quantize "$input" $chosen --search "$search")
      gs="$gs $g"; cs="$cs $c"; rs="$rs $(ratio "$c" "$g")"
      [ "$gk" -gt "$gm" ] && gm=$gk; [ "$ck" -gt "$cm" ] && cm=$ck
    done
    printf '%-20s %-8s %8s %8s %7s %9s %9s\n' "$name" "$search" "$(echo "$gs" | median)" "$(echo "$cs" | median)" "$(echo "$rs" | median)" \
      "$((gm / 1024))" "$((cm / 1024))"
  done
done
load
echo "   memory target: <= 1.25 x 256 MiB + 64 MiB = 384 MiB"

[ "${SKIP_JIT:-0}" = 1 ] && exit 0
echo
TOOL="$tool" INPUT="$input" bash "$root/build/bench/jit.sh" "$runs"
