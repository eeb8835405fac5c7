#!/usr/bin/env bash
# Target 4 of the performance issue: the C# API's Tensor path against PyTorch's own fake-quantize kernel, both on a
# CPU float32 tensor of 64M values, best of 5, per tensor and per channel (axis 0). Needs python3-torch for the baseline.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dotnet run -c Release --project "$root/tests/QuantShell.Benchmarks" -- tensor
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  /usr/bin/python3 - <<'PY'
import time, torch
torch.manual_seed(1)
x = torch.randn(64, 1024, 1024) * 0.5
scales = torch.tensor([(1.0 + 0.01 * c) / 128 for c in range(64)], dtype=torch.float32)
zeros = torch.zeros(64, dtype=torch.int32)
for name, f in [("tensor", lambda: torch.fake_quantize_per_tensor_affine(x, 2.0 / 128, 0, -128, 127)),
                ("channel", lambda: torch.fake_quantize_per_channel_affine(x, scales, zeros, 0, -128, 127))]:
    best = float("inf")
    for i in range(6):
        t = time.perf_counter(); f(); d = time.perf_counter() - t
        if i: best = min(best, d)
    print("PyTorch %s %s (%d threads): %.4f s  %.2f GB/s" % (torch.__version__, name, torch.get_num_threads(), best, x.numel() * 4 / best / 1e9))
PY
else
  echo "python3-torch not installed: baseline skipped"
fi
