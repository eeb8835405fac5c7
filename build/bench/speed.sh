#!/usr/bin/env bash
# Issue 15 (within 1.5x of copying the file) and issue 11 item 4 (model-file throughput, bounded memory), in one run:
#   A. cp, `dotnet-quant quantize` and the PyTorch script (torch_quantize.py) on 256 MiB and 1 GiB float32 .npy files,
#      per tensor and per channel (axis 0, 64 thresholds), pairwise alternated; medians and the median ratio to cp.
#   B. the same 1 GiB of float32 as a 16-tensor safetensors file and a PyTorch checkpoint against the .npy, per channel,
#      and the Python equivalent (torch_model_quantize.py); outputs checked against Python's.
#   C. start-up alone: `dotnet-quant --version`, native (what linux-x64 installs) and framework-dependent (JIT).
#   D. a folder of 1,000 .npy files (16K float32 each): cp -r, one dotnet-quant run, a Python loop (torch imported).
#   E. peak memory (/usr/bin/time): a 2 GiB checkpoint with the quantizer given and chosen (MSE), a 4 GiB .npy.
#   F. the QUANTSHELL_TIMELINE of one .npy run and one checkpoint run.
# The tool is published as build/pack-tool.sh packs it for linux-x64 (Native AOT, x86-64-v3). Every timed command starts
# after `sync` with its output removed, so each one writes into a page cache with nothing dirty from the others. The
# load average is printed per section: other developers share this machine's two cores.
#   Usage: build/bench/speed.sh [RUNS=5] [TORCH_RUNS=3] [BIG=1 (0 skips E's 2 and 4 GiB files)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs="${1:-5}"
torch_runs="${2:-3}"
big="${3:-1}"
python=/usr/bin/python3
if ! "$python" -c "import numpy, torch" 2>/dev/null; then echo "speed.sh: needs /usr/bin/python3 with numpy and torch" >&2; exit 1; fi
work="$(mktemp -d /tmp/quantshell-speed.XXXXXX)"   # a disk file system (not tmpfs), as users' files are
trap 'rm -rf "$work"' EXIT
inputs="$root/build/bench/speed_inputs.py"

echo "== build: native tool (dotnet publish -r linux-x64, as pack-tool.sh packs it) and the framework-dependent build"
dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -o "$work/native" --nologo -v quiet >/dev/null
dotnet build "$root/src/QuantShell.Cli" -c Release -o "$work/jit" --nologo -v quiet >/dev/null
tool="$work/native/dotnet-quant"
"$tool" --version
grep -m1 'model name' /proc/cpuinfo; nproc; uname -r

echo "== inputs"
"$python" "$inputs" npy "$work/x256.npy" 256
"$python" "$inputs" npy "$work/x1024.npy" 1024
"$python" "$inputs" safetensors "$work/m1024.safetensors" 1024
"$python" "$inputs" pt "$work/m1024.pt" 1024
"$python" "$inputs" folder "$work/folder" 1000
thresholds=$(seq 0 63 | awk '{printf "%s%.2f", (NR>1?",":""), 1.0 + 0.01 * $1}')

# Milliseconds of wall time of one command (output discarded), after a sync.
wall() { sync; local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
load() { echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
quant_args() { if [ "$1" = tensor ]; then echo "--method symmetric --num-bits 8 --threshold 2"; else echo "--method symmetric --num-bits 8 --threshold $thresholds --per-channel --channel-axis 0"; fi; }

echo
echo "== A. .npy: cp vs dotnet-quant quantize vs PyTorch script (ms; ratio = quantize / cp of the same run pair)"
load
printf '%-6s %-8s %4s %8s %8s %8s %7s\n' MiB layout run cp quant torch ratio
for size in 256 1024; do
  for layout in tensor channel; do
    cps=""; qs=""; ts=""; rs=""
    for run in $(seq 1 "$runs"); do
      rm -f "$work/c.npy" "$work/q.npy" "$work/t.npy"
      c=$(wall cp "$work/x$size.npy" "$work/c.npy"); rm -f "$work/c.npy"
      # shellcheck disable=SC2046
      q=$(wall "$tool" quantize "$work/x$size.npy" $(quant_args "$layout") --output-path "$work/q.npy")
      t=-
      if [ "$run" -le "$torch_runs" ]; then
        t=$(wall "$python" "$root/build/bench/torch_quantize.py" "$work/x$size.npy" "$work/t.npy" "$layout")
        cmp -s "$work/q.npy" "$work/t.npy" || { echo "outputs differ: $size MiB $layout" >&2; exit 1; }
        rm -f "$work/t.npy"; ts="$ts $t"
      fi
      cps="$cps $c"; qs="$qs $q"; rs="$rs $(ratio "$q" "$c")"
      printf '%-6s %-8s %4s %8s %8s %8s %7s\n' "$size" "$layout" "$run" "$c" "$q" "$t" "$(ratio "$q" "$c")"
    done
    mc=$(echo "$cps" | median); mq=$(echo "$qs" | median); mt=$(echo "$ts" | median); mr=$(echo "$rs" | median)
    printf '%-6s %-8s %4s %8s %8s %8s %7s   quant/torch %s; outputs byte-identical to PyTorch\n' "$size" "$layout" median "$mc" "$mq" "$mt" "$mr" "$(ratio "$mq" "$mt")"
  done
done
load

echo
echo "== B. 1 GiB of float32 per channel: .npy vs safetensors vs PyTorch checkpoint (16 tensors), and Python (ms)"
load
printf '%4s %8s %8s %8s %8s %8s %8s %8s\n' run npy safet pt cp_safet py_safet py_pt safet/npy
nq=""; sq=""; pq=""; cq=""; ps=""; pp=""; sr=""; pr=""
for run in $(seq 1 "$runs"); do
  rm -f "$work"/o.* "$work"/p.*
  # shellcheck disable=SC2046
  n=$(wall "$tool" quantize "$work/x1024.npy" $(quant_args channel) --output-path "$work/o.npy"); rm -f "$work/o.npy"
  # shellcheck disable=SC2046
  s=$(wall "$tool" quantize "$work/m1024.safetensors" $(quant_args channel) --output-path "$work/o.safetensors")
  # shellcheck disable=SC2046
  p=$(wall "$tool" quantize "$work/m1024.pt" $(quant_args channel) --output-path "$work/o.pt")
  c=$(wall cp "$work/m1024.safetensors" "$work/c.safetensors"); rm -f "$work/c.safetensors"
  y1=-; y2=-
  if [ "$run" -le "$torch_runs" ]; then
    y1=$(wall "$python" "$root/build/bench/torch_model_quantize.py" "$work/m1024.safetensors" "$work/p.safetensors")
    y2=$(wall "$python" "$root/build/bench/torch_model_quantize.py" "$work/m1024.pt" "$work/p.pt")
    cmp -s "$work/o.safetensors" "$work/p.safetensors" || { echo "safetensors outputs differ" >&2; exit 1; }
    "$python" -c "import sys, torch; a, b = torch.load('$work/o.pt'), torch.load('$work/p.pt'); sys.exit(0 if a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a) else 1)" \
      || { echo "checkpoint tensors differ" >&2; exit 1; }
    ps="$ps $y1"; pp="$pp $y2"
  fi
  nq="$nq $n"; sq="$sq $s"; pq="$pq $p"; cq="$cq $c"; sr="$sr $(ratio "$s" "$n")"; pr="$pr $(ratio "$p" "$n")"
  printf '%4s %8s %8s %8s %8s %8s %8s %8s\n' "$run" "$n" "$s" "$p" "$c" "$y1" "$y2" "$(ratio "$s" "$n")"
done
printf '%4s %8s %8s %8s %8s %8s %8s %8s   pt/npy %s; safetensors/cp %s; pt/cp %s; outputs equal to Python'"'"'s\n' median \
  "$(echo "$nq" | median)" "$(echo "$sq" | median)" "$(echo "$pq" | median)" "$(echo "$cq" | median)" "$(echo "$ps" | median)" \
  "$(echo "$pp" | median)" "$(echo "$sr" | median)" "$(echo "$pr" | median)" \
  "$(ratio "$(echo "$sq" | median)" "$(echo "$cq" | median)")" "$(ratio "$(echo "$pq" | median)" "$(echo "$cq" | median)")"
rm -f "$work"/o.* "$work"/p.*
load

echo
echo "== C. start-up: dotnet-quant --version (ms, 11 runs alternated)"
nv=""; jv=""
for run in $(seq 1 11); do
  s=$(date +%s%N); "$tool" --version >/dev/null; e=$(date +%s%N); nv="$nv $(( (e - s) / 1000 ))"
  s=$(date +%s%N); dotnet "$work/jit/dotnet-quant.dll" --version >/dev/null; e=$(date +%s%N); jv="$jv $(( (e - s) / 1000 ))"
done
echo "native (Native AOT): median $(awk "BEGIN{printf \"%.1f\", $(echo "$nv" | median)/1000}") ms; framework-dependent (JIT): median $(awk "BEGIN{printf \"%.1f\", $(echo "$jv" | median)/1000}") ms"
load

echo
echo "== D. 1,000 .npy files of 16K float32 (64 KiB) into a new folder (ms; whole processes)"
printf '%4s %8s %8s %8s\n' run cp_r quant python
for run in $(seq 1 3); do
  rm -rf "$work/fc" "$work/fq" "$work/fp"; mkdir "$work/fq" "$work/fp"
  c=$(wall cp -r "$work/folder" "$work/fc")
  q=$(wall "$tool" quantize "$work"/folder/*.npy --method symmetric --num-bits 8 --threshold 2 --output-directory "$work/fq")
  y=$(wall "$python" -c "
import os, sys, numpy as np, torch
src, dst = '$work/folder', '$work/fp'
for name in sorted(os.listdir(src)):
    x = torch.from_numpy(np.load(os.path.join(src, name)))
    np.save(os.path.join(dst, name), torch.fake_quantize_per_tensor_affine(x, 2.0 / 128, 0, -128, 127).numpy())")
  [ "$(ls "$work/fq" | wc -l)" = 1000 ] || { echo "folder run wrote $(ls "$work/fq" | wc -l) files" >&2; exit 1; }
  printf '%4s %8s %8s %8s\n' "$run" "$c" "$q" "$y"
done
diff -r -q "$work/fq" "$work/fp" >/dev/null && echo "outputs byte-identical to the Python loop's"
rm -rf "$work/fc" "$work/fq" "$work/fp"
load

if [ "$big" = 1 ]; then
  echo
  echo "== E. peak memory (max RSS, /usr/bin/time) of big files"
  "$python" "$inputs" pt "$work/m2048.pt" 2048
  peak() { sync; /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1; echo "$(( $(tail -1 "$work/rss") / 1024 )) MiB"; }
  # shellcheck disable=SC2046
  echo "2 GiB checkpoint (16 tensors of 128 MiB), quantizer given:          $(peak "$tool" quantize "$work/m2048.pt" $(quant_args channel) --output-path "$work/o.pt")"; rm -f "$work/o.pt"
  echo "2 GiB checkpoint, a threshold chosen per tensor (MSE):            $(peak "$tool" quantize "$work/m2048.pt" --method symmetric --num-bits 8 --output-path "$work/o.pt")"; rm -f "$work/o.pt" "$work/m2048.pt"
  "$python" "$inputs" npy "$work/x4096.npy" 4096
  # shellcheck disable=SC2046
  echo "4 GiB .npy, per channel, quantizer given:                         $(peak "$tool" quantize "$work/x4096.npy" $(quant_args channel) --output-path "$work/o.npy")"; rm -f "$work/o.npy" "$work/x4096.npy"
  load
fi

echo
echo "== F. timelines (QUANTSHELL_TIMELINE=launch time): 1 GiB .npy and 1 GiB checkpoint, per channel"
for input in x1024.npy m1024.pt; do
  rm -f "$work/o.$input"; sync
  echo "-- $input"
  start=$(date +%s%N)
  # shellcheck disable=SC2046
  QUANTSHELL_TIMELINE=$start "$tool" quantize "$work/$input" $(quant_args channel) --output-path "$work/o.$input" 2>&1 >/dev/null
  end=$(date +%s%N)
  echo "  whole process, launch to exit (measured outside)  $(( (end - start) / 1000000 )) ms"
  rm -f "$work/o.$input"
done
load
