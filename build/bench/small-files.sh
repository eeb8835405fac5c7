#!/usr/bin/env bash
# Target 3 of the performance issue: Invoke-Quantize over COUNT small files (16K float32 each) in one PowerShell
# pipeline, against a Python loop doing the same with torch already imported. Only the loops are timed (module import
# and torch import excluded). Needs /usr/bin/python3 with numpy and torch.   Usage: build/bench/small-files.sh [COUNT]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
count="${1:-1000}"
# On tmpfs when there is one, so that the figures compare per-file CPU work, not the disk's writeback state.
base=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work="$(mktemp -d "$base/quantshell-small.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python=/usr/bin/python3
if ! "$python" -c "import numpy, torch" 2>/dev/null; then echo "small-files.sh: needs python3-torch and python3-numpy; skipped"; exit 0; fi
cd "$root"
dotnet tool restore >/dev/null
bash build/build-module.sh >/dev/null
"$python" - "$work/in" "$count" <<'PY'
import os, sys, numpy as np
os.makedirs(sys.argv[1])
rng = np.random.default_rng(3)
for i in range(int(sys.argv[2])):
    np.save(os.path.join(sys.argv[1], "t%04d.npy" % i), rng.standard_normal(16384, dtype=np.float32))
PY
for round in 1 2 3; do
  read -r gci_pipe wildcard items gci_only < <(dotnet pwsh -NoProfile -NonInteractive -Command "
    Import-Module ./QuantShell.psd1
    \$q = New-InferableQuantizer -Target Weights -Method Symmetric -NumBits 8 -Threshold 2
    Get-ChildItem '$work/in/t0000.npy' | Invoke-Quantize -Quantizer \$q -OutputDirectory '$work/warm' -Force | Out-Null
    \$a = (Measure-Command { Get-ChildItem '$work/in/*.npy' | Invoke-Quantize -Quantizer \$q -OutputDirectory '$work/ps' -Force | Out-Null }).TotalSeconds
    \$b = (Measure-Command { Invoke-Quantize -Path '$work/in/*.npy' -Quantizer \$q -OutputDirectory '$work/ps' -Force | Out-Null }).TotalSeconds
    \$items = Get-ChildItem '$work/in/*.npy'
    \$c = (Measure-Command { \$items | Invoke-Quantize -Quantizer \$q -OutputDirectory '$work/ps' -Force | Out-Null }).TotalSeconds
    \$d = (Measure-Command { Get-ChildItem '$work/in/*.npy' | Out-Null }).TotalSeconds
    '{0} {1} {2} {3}' -f \$a, \$b, \$c, \$d")
  py=$("$python" - "$work/in" "$work/py" <<'PY'
import os, sys, time, numpy as np, torch
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
files = sorted(os.listdir(src))
start = time.perf_counter()
for name in files:
    x = torch.from_numpy(np.load(os.path.join(src, name)))
    y = torch.fake_quantize_per_tensor_affine(x, 2.0 / 128, 0, -128, 127)
    np.save(os.path.join(dst, name), y.numpy())
print(time.perf_counter() - start)
PY
)
  printf 'round %d: Python loop %.3f s | Get-ChildItem | Invoke-Quantize %.3f s (ratio %.2f; Get-ChildItem alone %.3f s) | Invoke-Quantize -Path *.npy %.3f s (ratio %.2f) | pre-listed items | Invoke-Quantize %.3f s (ratio %.2f)\n' \
    "$round" "$py" "$gci_pipe" "$(awk "BEGIN{print $gci_pipe/$py}")" "$gci_only" "$wildcard" "$(awk "BEGIN{print $wildcard/$py}")" "$items" "$(awk "BEGIN{print $items/$py}")"
done
cmp -s "$work/ps/t0007.npy" "$work/py/t0007.npy" && echo "outputs identical (t0007.npy)" || { echo "outputs differ" >&2; exit 1; }
