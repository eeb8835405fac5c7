#!/usr/bin/env bash
# Speed and memory of a Hugging Face model folder: a synthetic folder of SHARDS shards x SHARD_MIB MiB of bfloat16
# Linear weights (4096 x 4096, 32 MiB each) quantized into the compressed-tensors layout, against `cp -r` of the same
# folder (page cache warm for both). Prints wall seconds and peak RSS (GNU time's "Maximum resident set size") per run,
# and the ratios the issue sets: time <= 3 x cp, peak memory <= 1.5 x one shard + 64 MiB. The load average is printed
# first: on a shared machine the times are only as good as it.
# Needs /usr/bin/python3 with numpy (to write the folder) and /usr/bin/time.
# Usage: build/bench/model-folder.sh [SHARDS] [SHARD_MIB] [RUNS]; CONFIGS="rtn mse" (the default) picks the configurations
# ("rtn": --error-method no-clipping, the folder default; "mse": --error-method mse, MCT's search per group);
# SKIP_CP=1 leaves out the copy (a 7B-sized folder and its copy may not both fit on the disk): the ratio is then not printed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shards="${1:-2}"
shard_mib="${2:-256}"
runs="${3:-3}"
work="$(mktemp -d /tmp/quantshell-folder-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The tool as linux-x64 users install it: the Native AOT build (no JIT at run time). JIT=1 measures the framework-dependent
# build instead; TOOL=path measures a tool built elsewhere (another commit's, to compare).
if [ -n "${TOOL:-}" ]; then tool="$TOOL"
elif [ -n "${JIT:-}" ]; then dotnet build "$root/src/QuantShell.Cli" -c Release -o "$work/tool" --nologo -v quiet >/dev/null; tool="$work/tool/dotnet-quant"
else dotnet publish "$root/src/QuantShell.Cli" -c Release -r linux-x64 -o "$work/tool" --nologo -v quiet >/dev/null; tool="$work/tool/dotnet-quant"
fi

/usr/bin/python3 - "$work/model" "$shards" "$shard_mib" <<'PY'
import json, os, struct, sys
import numpy as np
out, shards, shard_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(out)
rng = np.random.default_rng(22)
per_shard = shard_mib * 1024 * 1024 // (4096 * 4096 * 2)
weight_map, total, layer = {}, 0, 0
for s in range(shards):
    name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for _ in range(per_shard):
        x = (rng.standard_normal(4096 * 4096, dtype=np.float32) * 0.02).view(np.uint32)
        bf16 = ((x + 0x7FFF + ((x >> 16) & 1)) >> 16).astype(np.uint16).tobytes()  # round to nearest even
        key = f"model.layers.{layer // 4}.mlp.proj{layer % 4}.weight"
        header[key] = {"dtype": "BF16", "shape": [4096, 4096], "data_offsets": [offset, offset + len(bf16)]}
        offset += len(bf16); blobs.append(bf16); weight_map[key] = name; total += len(bf16); layer += 1
    text = json.dumps(header).encode(); text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(out, name), "wb") as f:
        f.write(struct.pack("<Q", len(text))); f.write(text)
        for b in blobs: f.write(b)
json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
json.dump({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": (layer + 3) // 4, "torch_dtype": "bfloat16"}, open(os.path.join(out, "config.json"), "w"))
open(os.path.join(out, "tokenizer.json"), "w").write("{}")
PY

# seconds and peak RSS (MiB) of one command
measure() {
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time.txt")
  echo "$wall $rss"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $shards shards x $shard_mib MiB bfloat16"
cat "$work/model"/*.safetensors >/dev/null   # warm the page cache
budget=$((shard_mib * 3 / 2 + 64))
for run in $(seq 1 "$runs"); do
  rm -rf "$work/copy" "$work/q"*
  if [ -n "${SKIP_CP:-}" ]; then cp_s=0; else read -r cp_s cp_mib < <(measure cp -r "$work/model" "$work/copy"); rm -rf "$work/copy"; fi
  for label in ${CONFIGS:-rtn mse}; do
    case "$label" in rtn) extra="--error-method no-clipping" ;; mse) extra="--error-method mse" ;; *) echo "unknown configuration $label" >&2; exit 2 ;; esac
    # shellcheck disable=SC2086
    read -r q_s q_mib < <(measure "$tool" quantize "$work/model" --output "$work/q-$label" --format compressed-tensors --method symmetric --bits 4 --group-size 128 $extra)
    test -f "$work/q-$label/config.json"
    echo "  output: $(du -sm "$work/q-$label" | cut -f1) MiB from $(du -sm "$work/model" | cut -f1) MiB"
    rm -rf "$work/q-$label"
    awk -v r="$run" -v l="$label" -v c="$cp_s" -v q="$q_s" -v m="$q_mib" -v b="$budget" 'BEGIN {
      printf "run %d  %-3s  cp -r %6.2f s | quantize %6.2f s (%s) | peak %5d MiB (budget %d MiB: %s)\n",
             r, l, c, q, (c > 0 ? sprintf("%.2f x cp, target <= 3", q / c) : "cp not measured"), m, b, (m <= b ? "within" : "over") }'
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
