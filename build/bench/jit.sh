#!/usr/bin/env bash
# The JIT path: what the framework-dependent builds cost against the native tool on a 256 MiB float32 .npy with the
# quantizer's values given, and the first Invoke-Quantize in a fresh pwsh.
#   native   the Native AOT tool (what linux-x64 installs: QuantShell.Cli.linux-x64)
#   jit      the framework-dependent tool as QuantShell.Cli.any ships it (portable IL, JIT; the platforms without a
#            package of their own)
#   r2r      the framework-dependent ReadyToRun build as the packages of linux-arm64, linux-musl-x64, win-x64,
#            win-arm64, osx-x64 and osx-arm64 ship it (QuantShellReadyToRun: crossgen2's cross-module generics and inlining), compiled for
#            linux-x64 to run here; r2r-plain the same without those two crossgen2 options (the SDK's default)
# Each run is timed whole (wall ms; medians of RUNS, alternated); ratio = that build / native of the same run. One more
# run of each build counts the methods the JIT compiled (DOTNET_JitDisasmSummary). Then the module: a fresh `dotnet pwsh`
# that imports the clone's QuantShell.psd1 (QuantShell.Core ReadyToRun from module/bin/linux-x64, as built by
# build/build-module.sh) or a copy of it without that folder (the portable IL, what other platforms load), and runs
# Invoke-Quantize once: the whole process, the import, and the call alone; `pwsh -Command exit` for scale.
# The load average is printed with every line: the machine is shared.
#   Usage: build/bench/jit.sh [RUNS=3]
# Environment: TOOL=a native dotnet-quant to time instead of building one; INPUT=an existing 256 MiB .npy to use.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d /tmp/quantshell-jit.XXXXXX)"
trap 'rm -rf "$work"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }

if [ -n "${TOOL:-}" ]; then
  native="$TOOL"
else
  echo "== build: native (Native AOT, x86-64-v3, as pack-tool.sh packs QuantShell.Cli.linux-x64)"
  dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -o "$work/native" --nologo -v quiet >/dev/null
  native="$work/native/dotnet-quant"
fi
echo "== build: jit (as pack-tool.sh packs QuantShell.Cli.any), r2r (as it packs the ReadyToRun RIDs) and r2r-plain, for linux-x64"
dotnet publish "$root/src/QuantShell.Cli" -c Release -p:PublishAot=false -o "$work/jit" --nologo -v quiet >/dev/null
# Each ReadyToRun build compiles its images afresh: the SDK does not recompile one when only crossgen2's options change.
rm -rf "$root/src/QuantShell.Cli/obj/Release/net10.0/linux-x64/R2R"
dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -p:QuantShellReadyToRun=true -o "$work/r2r" --nologo -v quiet >/dev/null
rm -rf "$root/src/QuantShell.Cli/obj/Release/net10.0/linux-x64/R2R"
dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -p:QuantShellReadyToRun=true -p:PublishReadyToRunCrossgen2ExtraArgs= \
  -o "$work/r2r-plain" --nologo -v quiet >/dev/null
rm -rf "$root/src/QuantShell.Cli/obj/Release/net10.0/linux-x64/R2R"
"$native" --version
grep -m1 'model name' /proc/cpuinfo; nproc

if [ -n "${INPUT:-}" ]; then
  input="$INPUT"
else
  input="$work/x.npy"
  /usr/bin/python3 - "$input" <<'EOF'
import sys, numpy as np
rng = np.random.default_rng(20)
out = np.lib.format.open_memmap(sys.argv[1], mode="w+", dtype=np.float32, shape=(64, 1024 * 1024))
for c in range(64):
    out[c] = rng.standard_normal(1024 * 1024, dtype=np.float32) * np.float32(0.05 * (1 + c % 8))
out.flush()
EOF
fi
ls -l "$input" | awk '{print "input:", $5, "bytes"}'

# Wall ms of one run (the output removed first, after a sync).
measure() {
  rm -f "$work/q.npy"; sync
  local s e
  s=$(date +%s%N)
  "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
run() { # build args...
  case "$1" in
    native) shift; measure "$native" "$@" ;;
    *) local b=$1; shift; measure dotnet "$work/$b/dotnet-quant.dll" "$@" ;;
  esac
}
ones() { seq 1 64 | awk '{printf "%s1", (NR>1?",":"")}'; }
cases=(
  "pot-tensor|quantize $input --method pot --threshold 1 --output-path $work/q.npy"
  "symmetric-tensor|quantize $input --method symmetric --threshold 2 --output-path $work/q.npy"
  "pot-channel|quantize $input --method pot --per-channel --channel-axis 0 --threshold $(ones) --output-path $work/q.npy"
  "version|--version"
)
builds=(native jit r2r r2r-plain)

echo
echo "== tool: wall ms, medians of $runs (ratio: build / native of the same run), load average at the end of each line"
printf '%-17s %7s %7s %7s %9s %8s %8s %9s  %s\n' case native jit r2r r2r-plain jit/nat r2r/nat plain/nat load
for entry in "${cases[@]}"; do
  IFS='|' read -r name args <<<"$entry"
  declare -A times=() ratios=()
  for _ in $(seq 1 "$runs"); do
    # shellcheck disable=SC2086
    n=$(run native $args)
    times[native]+=" $n"
    for b in "${builds[@]:1}"; do
      # shellcheck disable=SC2086
      t=$(run "$b" $args)
      times[$b]+=" $t"; ratios[$b]+=" $(ratio "$t" "$n")"
    done
  done
  printf '%-17s %7s %7s %7s %9s %8s %8s %9s  %s\n' "$name" "$(echo "${times[native]}" | median)" "$(echo "${times[jit]}" | median)" \
    "$(echo "${times[r2r]}" | median)" "$(echo "${times[r2r-plain]}" | median)" "$(echo "${ratios[jit]}" | median)" \
    "$(echo "${ratios[r2r]}" | median)" "$(echo "${ratios[r2r-plain]}" | median)" "$(load)"
  unset times ratios
done

echo
echo "== tool: methods the JIT compiled in one run (all / QuantShell's)"
printf '%-17s %12s %12s %12s\n' case jit r2r r2r-plain
for entry in "${cases[@]:0:3}"; do
  IFS='|' read -r name args <<<"$entry"
  line=$(printf '%-17s' "$name")
  for b in jit r2r r2r-plain; do
    rm -f "$work/q.npy" "$work/jitted.txt"
    # shellcheck disable=SC2086
    DOTNET_JitStdOutFile="$work/jitted.txt" DOTNET_JitDisasmSummary=1 dotnet "$work/$b/dotnet-quant.dll" $args >/dev/null
    line+=$(printf ' %12s' "$(wc -l <"$work/jitted.txt")/$(grep -c 'compiled QuantShell' "$work/jitted.txt")")
  done
  echo "$line"
done

echo
echo "== module: a fresh dotnet pwsh, Import-Module, the first Invoke-Quantize (pot, threshold 1, the 256 MiB file)"
[ -f "$root/module/bin/linux-x64/QuantShell.Core.dll" ] || { echo "jit.sh: run build/build-module.sh first" >&2; exit 1; }
# The portable module: the clone's layout without module/bin/linux-x64, what every platform but linux-x64 loads.
mkdir -p "$work/portable/module"
cp "$root/QuantShell.psd1" "$work/portable/"
cp "$root"/module/QuantShell.Init.ps1 "$root"/module/*.ps1xml "$work/portable/module/"
cp -r "$root/module/bin" "$work/portable/module/bin"
rm -rf "$work/portable/module/bin/linux-x64"
du -sh "$root/module/bin" "$work/portable/module/bin" | awk '{print "   module/bin size:", $1, $2}'
printf '%-9s %9s %9s %9s %9s  %s\n' module process import call pwsh-only load
for kind in r2r jit; do
  manifest="$root/QuantShell.psd1"; [ "$kind" = jit ] && manifest="$work/portable/QuantShell.psd1"
  ps=""; is=""; cs=""; bs=""
  for _ in $(seq 1 "$runs"); do
    s=$(date +%s%N); (cd "$root" && dotnet pwsh -NoProfile -NonInteractive -Command 'exit') ; e=$(date +%s%N)
    bs+=" $(( (e - s) / 1000000 ))"
    rm -f "$work/p.npy"; sync
    s=$(date +%s%N)
    out=$(cd "$root" && dotnet pwsh -NoProfile -NonInteractive -Command "\$w = [Diagnostics.Stopwatch]::StartNew(); Import-Module '$manifest'; \$i = \$w.ElapsedMilliseconds; \$w.Restart(); \$null = Invoke-Quantize -Path '$input' -Method Pot -Threshold 1 -OutputPath '$work/p.npy'; \"\$i \$(\$w.ElapsedMilliseconds) \$([QuantShell.Core.Formats.NpyArray].Assembly.Location)\"")
    e=$(date +%s%N)
    read -r i c location <<<"$(echo "$out" | tail -1)"
    case "$kind:$location" in r2r:*/linux-x64/*|jit:"$work"/portable/*) ;; *) echo "jit.sh: $kind loaded $location" >&2; exit 1 ;; esac
    ps+=" $(( (e - s) / 1000000 ))"; is+=" $i"; cs+=" $c"
  done
  printf '%-9s %9s %9s %9s %9s  %s\n' "$kind" "$(echo "$ps" | median)" "$(echo "$is" | median)" "$(echo "$cs" | median)" "$(echo "$bs" | median)" "$(load)"
done
