#!/usr/bin/env bash
# Values chosen from the data against values given, on one 256 MiB float32 .npy (64 rows of 4 MiB: 64 x 1M values,
# seeded Gaussian, each row its own spread), for the
# native dotnet-quant (Native AOT, as build/pack-tool.sh packs it for linux-x64):
#   symmetric MSE per tensor, POT MSE per channel, no clipping per channel (symmetric), uniform MSE per channel and a
#   4-bit LUT (lut-symmetric, per channel), each with --search mct and --search optimal.
# Each case is timed next to the same quantizer with its values given (same file, same layout, alternated runs): the
# ratio is chosen / given of the same run pair, then the medians; peak RSS from /usr/bin/time -v. Then the JIT path:
# the framework-dependent build (what QuantShell.Cli.any installs) against the native one on the values-given runs, and
# the first Invoke-Quantize in a fresh pwsh. The load average is printed with each section: the machine is shared.
#   Usage: build/bench/selection.sh [RUNS=3] [CASES=all|comma list of case names]
# Environment: TIMEOUT=seconds after which a run is stopped (its time then shows as that many seconds);
#              TOOL=path of a dotnet-quant to time instead of building one (e.g. an older build, for "before" figures);
#              JIT_TOOL=path of a framework-dependent dotnet-quant.dll (default: built here); SKIP_JIT=1 skips the JIT part.
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

"$python" - "$work/x.npy" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(20)
out = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype=np.float32, shape=(64, 1024 * 1024))
for c in range(64):
    out[c] = rng.standard_normal(1024 * 1024, dtype=np.float32) * np.float32(0.05 * (1 + c % 8))
out.flush()
EOF
ls -l "$work/x.npy" | awk '{print "input: 64 x 1048576 float32,", $5, "bytes"}'

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
  for search in mct optimal; do
    gs=""; cs=""; rs=""; gm=0; cm=0
    for run in $(seq 1 "$runs"); do
      # shellcheck disable=SC2086
      read -r g gk < <(measure "$tool" quantize "$work/x.npy" $given)
      # shellcheck disable=SC2086
      read -r c ck < <(measure "$tool" quantize "$work/x.npy" $chosen --search "$search")
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
echo "== JIT path: framework-dependent builds (what QuantShell.Cli.any installs: JIT; and ReadyToRun) vs native, values given"
echo "   (ms, medians of $runs; ratio = framework-dependent / native of the same run)"
if [ -n "${JIT_TOOL:-}" ]; then
  jit="$JIT_TOOL"
else
  dotnet publish "$root/src/QuantShell.Cli" -c Release -p:PublishAot=false -o "$work/jit" --nologo -v quiet >/dev/null
  jit="$work/jit/dotnet-quant.dll"
fi
# ReadyToRun needs a runtime identifier: the framework-dependent build for this machine's, precompiled for x86-64-v3.
dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 --self-contained false -p:PublishAot=false -p:PublishReadyToRun=true \
  -p:PublishReadyToRunCrossgen2ExtraArgs=--instruction-set:x86-64-v3 -o "$work/r2r" --nologo -v quiet >/dev/null
r2r="$work/r2r/dotnet-quant.dll"
load
printf '%-20s %8s %8s %8s %7s %7s\n' case native jit r2r jit/nat r2r/nat
for entry in "${cases[@]:0:2}" "version||--version"; do
  IFS='|' read -r name _ given <<<"$entry"
  ns=""; js=""; rs=""; jr=""; rr=""
  for run in $(seq 1 "$runs"); do
    if [ "$name" = version ]; then
      read -r n _ < <(cd "$work" && measure_plain "$tool" --version)
      read -r j _ < <(measure_plain dotnet "$jit" --version)
      read -r r _ < <(measure_plain dotnet "$r2r" --version)
    else
      # shellcheck disable=SC2086
      read -r n _ < <(measure "$tool" quantize "$work/x.npy" $given)
      # shellcheck disable=SC2086
      read -r j _ < <(measure dotnet "$jit" quantize "$work/x.npy" $given)
      # shellcheck disable=SC2086
      read -r r _ < <(measure dotnet "$r2r" quantize "$work/x.npy" $given)
    fi
    ns="$ns $n"; js="$js $j"; rs="$rs $r"; jr="$jr $(ratio "$j" "$n")"; rr="$rr $(ratio "$r" "$n")"
  done
  printf '%-20s %8s %8s %8s %7s %7s\n' "$name" "$(echo "$ns" | median)" "$(echo "$js" | median)" "$(echo "$rs" | median)" "$(echo "$jr" | median)" "$(echo "$rr" | median)"
done
load

echo
echo "== the first Invoke-Quantize in a fresh pwsh (ms: whole process, and the call alone), the module's assemblies"
echo "   published as build/build-module.sh publishes them (framework-dependent, linux-x64): JIT, and ReadyToRun (x86-64-v3)"
dotnet publish "$root/src/QuantShell.PowerShell" -c Release -r linux-x64 --self-contained false -o "$work/module-jit" --nologo -v quiet >/dev/null
dotnet publish "$root/src/QuantShell.PowerShell" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -p:PublishReadyToRunCrossgen2ExtraArgs=--instruction-set:x86-64-v3 -o "$work/module-r2r" --nologo -v quiet >/dev/null
du -sh "$work/module-jit" "$work/module-r2r" | awk '{print "   size: " $0}'
load
for kind in jit r2r; do
  ps=""; cs=""
  for run in $(seq 1 "$runs"); do
    rm -f "$work/p.npy"; sync
    s=$(date +%s%N)
    out=$(cd "$root" && dotnet pwsh -NoProfile -NonInteractive -Command "Import-Module '$work/module-$kind/QuantShell.PowerShell.dll'; \$w = [Diagnostics.Stopwatch]::StartNew(); \$null = Invoke-Quantize -Path '$work/x.npy' -Method Symmetric -Threshold 2 -OutputPath '$work/p.npy'; \$w.ElapsedMilliseconds")
    e=$(date +%s%N)
    ps="$ps $(( (e - s) / 1000000 ))"; cs="$cs $(echo "$out" | tail -1)"
  done
  echo "module $kind: fresh pwsh, import + first Invoke-Quantize (256 MiB, values given): median $(echo "$ps" | median) ms; the call alone: median $(echo "$cs" | median) ms"
done
load
